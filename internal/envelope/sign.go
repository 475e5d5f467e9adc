package envelope

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// KeySigner produces Ed25519 signatures with a private key it may keep
// elsewhere (a key manager, OpenBao Transit). The signing context provides
// implementations; LocalKey is the in-memory one.
type KeySigner interface {
	// Public returns the Ed25519 public key.
	Public() ed25519.PublicKey
	// Sign returns the 64-byte Ed25519 signature of msg.
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// LocalKey is a KeySigner over an in-memory Ed25519 private key.
type LocalKey struct {
	priv ed25519.PrivateKey
}

// NewLocalKey wraps priv, which must be a full 64-byte Ed25519 private key.
func NewLocalKey(priv ed25519.PrivateKey) (*LocalKey, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("envelope: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	return &LocalKey{priv: priv}, nil
}

// Public returns the public half of the key.
func (k *LocalKey) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// Sign signs msg. It never blocks, so ctx is unused.
func (k *LocalKey) Sign(_ context.Context, msg []byte) ([]byte, error) {
	return ed25519.Sign(k.priv, msg), nil
}

// NonceBytes is the entropy of each emitted nonce: 128 bits, above the
// spec's 96-bit floor (§7.1), as 22 characters of unpadded base64url.
const NonceBytes = 16

// SignerOptions configures a Signer.
type SignerOptions struct {
	// Key signs the canonical bytes. Required.
	Key KeySigner
	// KeyID, if set, goes on every envelope as the level-2 key_id hint.
	KeyID string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand supplies nonces; crypto/rand when nil.
	Rand io.Reader
}

// Signer signs events at emission (§7.3). It is safe for concurrent use if
// its Key and Rand are. Per K5 the caller picks the Signer of the key
// recorded for the entry, or the current one.
type Signer struct {
	key   KeySigner
	keyID string
	now   func() time.Time
	rand  io.Reader
}

// NewSigner validates opts and fills defaults.
func NewSigner(opts SignerOptions) (*Signer, error) {
	if opts.Key == nil {
		return nil, errors.New("envelope: SignerOptions.Key is required")
	}
	if len(opts.Key.Public()) != ed25519.PublicKeySize {
		return nil, errors.New("envelope: SignerOptions.Key has no Ed25519 public key")
	}
	s := &Signer{key: opts.Key, keyID: opts.KeyID, now: opts.Now, rand: opts.Rand}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	return s, nil
}

// Public returns the key this Signer signs with.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public() }

// Sign emits ev: issued_at is now in UTC truncated to milliseconds, the
// nonce fresh, the payload canonical (§7.3). Every value on the wire is in
// canonical form, so any verifier checks it without re-rendering.
func (s *Signer) Sign(ctx context.Context, ev Event) (Envelope, error) {
	payload, err := checkEvent(ev)
	if err != nil {
		return Envelope{}, err
	}
	var raw [NonceBytes]byte
	if _, err := io.ReadFull(s.rand, raw[:]); err != nil {
		return Envelope{}, fmt.Errorf("envelope: nonce: %w", err)
	}
	e := Envelope{
		EventType: ev.Type,
		EventID:   ev.ID,
		IssuedAt:  s.now().UTC().Truncate(time.Millisecond),
		Nonce:     base64.RawURLEncoding.EncodeToString(raw[:]),
		Payload:   payload,
		KeyID:     s.keyID,
	}
	if err := sign(ctx, s.key, &e); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// sign fills e.Signature over e's canonical bytes. e.Payload must already
// be canonical (checkEvent or CanonicalPayload made it).
func sign(ctx context.Context, key KeySigner, e *Envelope) error {
	msg, err := canonicalBytes(e.EventType, e.EventID, e.IssuedAt, e.Nonce, e.Payload, payloadCanonical)
	if err != nil {
		return err
	}
	sig, err := key.Sign(ctx, msg)
	if err != nil {
		return fmt.Errorf("envelope: sign: %w", err)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("envelope: key signer returned %d bytes, want %d", len(sig), ed25519.SignatureSize)
	}
	e.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// checkEvent enforces what the control plane must guarantee (§7.1, E1):
// event_type and event_id in their character sets, the payload a JSON
// object. It returns the canonical payload.
func checkEvent(ev Event) (json.RawMessage, error) {
	if !nodeproto.ValidEventType(ev.Type) {
		return nil, fmt.Errorf("envelope: event type %q is not ^[a-z0-9_]+$", ev.Type)
	}
	if !nodeproto.ValidID(ev.ID) {
		return nil, fmt.Errorf("envelope: event id %q is not an ID", ev.ID)
	}
	p, err := CanonicalPayload(ev.Payload)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 || p[0] != '{' {
		return nil, errors.New("envelope: payload is not a JSON object (E1)")
	}
	return p, nil
}

// MarshalPayload encodes v as a payload with encoding/json (compact and
// HTML-escaped: already canonical, §7.3).
func MarshalPayload(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("envelope: payload: %w", err)
	}
	return b, nil
}

// maxIssuedAt is the longest issued_at a Signer emits: millisecond
// precision, three fraction digits.
var maxIssuedAt = time.Date(2000, 1, 1, 0, 0, 0, 123_000_000, time.UTC)

// CheckSize reports ErrTooLarge if ev, signed by s at any moment, would
// give a data line over MaxLineBytes (F2). The control plane calls it
// before appending ev to a node's log, and splits or drops it on error.
func (s *Signer) CheckSize(ev Event) error {
	payload, err := checkEvent(ev)
	if err != nil {
		return err
	}
	e := Envelope{
		EventType: ev.Type, EventID: ev.ID, IssuedAt: maxIssuedAt,
		Nonce:     base64.RawURLEncoding.EncodeToString(make([]byte, NonceBytes)),
		Payload:   payload,
		Signature: base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)),
		KeyID:     s.keyID,
	}
	b, err := json.Marshal(&e)
	if err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if n := len(dataPrefix) + len(b); n > MaxLineBytes {
		return fmt.Errorf("%w: data line of %d bytes, limit %d", ErrTooLarge, n, MaxLineBytes)
	}
	return nil
}
