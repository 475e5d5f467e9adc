package identity

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// SealingKeyFile holds the node's sealing key pair and what the control
// plane acknowledged of it (docs/design/0007-secrets.md, level 2). It is a
// file of its own so the agent's saves of identity.json never race the
// background registration that records the acknowledgement.
const SealingKeyFile = "sealing_key.json"

// SealingKey is the node's X25519 sealing key pair, distinct from its
// WireGuard key: the control plane seals secret values to it at level 2.
type SealingKey struct {
	// PrivateKey is Key32. Never log it.
	PrivateKey string `json:"sealing_private_key"`
	PublicKey  string `json:"sealing_public_key"`
	// KID is nodeproto.SealingKID of PublicKey.
	KID string `json:"kid"`
	// AcknowledgedKID is the kid the control plane confirmed for the node
	// AcknowledgedNodeID; registration stops once both match.
	AcknowledgedKID    string `json:"acknowledged_kid,omitempty"`
	AcknowledgedNodeID string `json:"acknowledged_node_id,omitempty"`
}

// Acknowledged reports whether the control plane confirmed this key for
// nodeID.
func (k *SealingKey) Acknowledged(nodeID string) bool {
	return k.KID != "" && k.AcknowledgedKID == k.KID && k.AcknowledgedNodeID == nodeID
}

// LogValue renders the key without its private half.
func (k SealingKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String(logkey.KID, k.KID), slog.String(logkey.PublicKey, k.PublicKey))
}

// String renders the key without its private half.
func (k SealingKey) String() string { return "sealing key " + k.KID }

// Validate checks the pair: both halves Key32, the public half derived
// from the private one and the kid derived from the public one.
func (k *SealingKey) Validate() error {
	pub, err := PublicKeyOf(k.PrivateKey)
	if err != nil {
		return errors.New("identity: sealing_private_key is not a Key32")
	}
	if pub != k.PublicKey {
		return errors.New("identity: sealing_public_key does not belong to sealing_private_key")
	}
	kid, err := nodeproto.SealingKID(k.PublicKey)
	if err != nil || kid != k.KID {
		return errors.New("identity: kid is not the sealing public key's")
	}
	return nil
}

// NewSealingKey generates a sealing key pair from r (crypto/rand when nil).
func NewSealingKey(r io.Reader) (SealingKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var seed [32]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return SealingKey{}, fmt.Errorf("identity: sealing key generation: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(seed[:])
	clear(seed[:])
	if err != nil {
		return SealingKey{}, fmt.Errorf("identity: sealing key generation: %w", err)
	}
	k := SealingKey{
		PrivateKey: base64.StdEncoding.EncodeToString(priv.Bytes()),
		PublicKey:  base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()),
	}
	if k.KID, err = nodeproto.SealingKID(k.PublicKey); err != nil {
		return SealingKey{}, fmt.Errorf("identity: sealing key generation: %w", err)
	}
	return k, nil
}

// SealingKeyPath is the sealing key file's path.
func (s *Store) SealingKeyPath() string { return filepath.Join(s.dir, SealingKeyFile) }

// LoadSealingKey reads the sealing key; ErrNotFound when none was saved.
func (s *Store) LoadSealingKey() (*SealingKey, error) {
	return loadFile[SealingKey](s, SealingKeyFile, "sealing key")
}

// SaveSealingKey writes k atomically with mode 0600.
func (s *Store) SaveSealingKey(k *SealingKey) error {
	return saveFile(s, SealingKeyFile, "save sealing key", k)
}

// EnsureSealingKey returns the saved sealing key, generating and saving
// one when there is none. A damaged file is replaced by a fresh key: the
// node re-registers it, and nothing sealed to the old key is kept.
func (s *Store) EnsureSealingKey() (k *SealingKey, created bool, err error) {
	k, err = s.LoadSealingKey()
	if err == nil {
		return k, false, nil
	}
	nk, gerr := NewSealingKey(nil)
	if gerr != nil {
		return nil, false, gerr
	}
	if serr := s.SaveSealingKey(&nk); serr != nil {
		return nil, false, serr
	}
	return &nk, true, nil
}
