// Package identity owns what a node remembers across restarts (§4.4): node
// id, mesh IP, NSK, WireGuard key pair, the newest verified signing keys,
// the event stream cursor and the secret sealing key pair (level 2). Files
// are written atomically (temp file, fsync, rename, directory fsync) with
// mode 0600 in a 0700 directory, and the NSK and private keys never reach a
// log line.
package identity

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// File names inside the data directory.
const (
	IdentityFile = "identity.json"
	CursorFile   = "last_event_id"
	AppliedFile  = "applied.json"
)

// Modes of what the store writes.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// maxFile bounds what Load reads.
const maxFile = 16 << 20

// ErrNotFound: no identity has been saved; the node has not joined.
var ErrNotFound = errors.New("identity: node has not joined")

// Identity is a registered node's lasting state.
type Identity struct {
	NodeID string `json:"node_id"`
	MeshIP string `json:"mesh_ip"`
	// NSK is the node secret key (§3.2). Never log it.
	NSK string `json:"node_secret_key"`
	// PrivateKey is the WireGuard X25519 private key, Key32. Never log it.
	PrivateKey string `json:"wireguard_private_key"`
	PublicKey  string `json:"wireguard_public_key"`
	// PendingPrivateKey is a WireGuard key being rotated in (level 2):
	// saved before POST /v1/keys/rotate so a crash mid-rotation can retry
	// with the same key. Never log it.
	PendingPrivateKey string `json:"pending_wireguard_private_key,omitempty"`
	// RegistrationSigningKey is signing_public_key from registration.
	RegistrationSigningKey string `json:"registration_signing_key"`
	// SigningKeys is the newest verified key set (level 2, §4.4).
	SigningKeys nodeproto.SigningKeys `json:"signing_keys"`
	Server      string                `json:"server"`
	Hostname    string                `json:"hostname"`
	Mode        string                `json:"mode"`
	// RegisteredAt is when the node joined.
	RegisteredAt time.Time `json:"registered_at"`
}

// LogValue renders the identity without its secrets.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String(logkey.NodeID, id.NodeID),
		slog.String(logkey.MeshIP, id.MeshIP),
		slog.String(logkey.PublicKey, id.PublicKey),
		slog.String(logkey.Server, id.Server),
	)
}

// String renders the identity without its secrets.
func (id Identity) String() string {
	return fmt.Sprintf("node %s (mesh %s)", id.NodeID, id.MeshIP)
}

// Validate checks what the agent relies on after loading.
func (id *Identity) Validate() error {
	switch {
	case !nodeproto.ValidID(id.NodeID):
		return errors.New("identity: node_id is not an ID")
	case !nodeproto.ValidMeshIP(id.MeshIP):
		return errors.New("identity: mesh_ip is not a bare IPv4 address")
	case !nodeproto.ValidNSK(id.NSK):
		return errors.New("identity: node_secret_key is not 32 printable ASCII bytes")
	case !nodeproto.ValidKey32(id.PrivateKey):
		return errors.New("identity: wireguard_private_key is not a Key32")
	case !nodeproto.ValidKey32(id.RegistrationSigningKey):
		return errors.New("identity: registration_signing_key is not a Key32")
	}
	return nil
}

// KeyPair is a WireGuard X25519 key pair as Key32 strings.
type KeyPair struct {
	Private string
	Public  string
}

// NewKeyPair generates a WireGuard key pair from r (crypto/rand when nil).
func NewKeyPair(r io.Reader) (KeyPair, error) {
	if r == nil {
		r = rand.Reader
	}
	var seed [32]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return KeyPair{}, fmt.Errorf("identity: key generation: %w", err)
	}
	// Clamp as WireGuard does, so the stored key is the one wg(8) would show.
	seed[0] &= 248
	seed[31] = (seed[31] & 127) | 64
	priv, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		return KeyPair{}, fmt.Errorf("identity: key generation: %w", err)
	}
	return KeyPair{
		Private: base64.StdEncoding.EncodeToString(priv.Bytes()),
		Public:  base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()),
	}, nil
}

// PublicKeyOf derives the Key32 public key of a Key32 X25519 private key.
func PublicKeyOf(private string) (string, error) {
	raw, err := nodeproto.ParseKey32(private)
	if err != nil {
		return "", fmt.Errorf("identity: private key: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(raw[:])
	if err != nil {
		return "", fmt.Errorf("identity: private key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()), nil
}

// Store reads and writes the files of one data directory.
type Store struct {
	dir string
}

// NewStore returns the store of dir. It creates nothing until a write.
func NewStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("identity: NewStore: data directory is empty")
	}
	return &Store{dir: dir}, nil
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Path is the identity file's path.
func (s *Store) Path() string { return filepath.Join(s.dir, IdentityFile) }

// Load reads the identity; ErrNotFound when none was saved.
func (s *Store) Load() (*Identity, error) {
	return loadFile[Identity](s, IdentityFile, "load")
}

// Save writes id atomically with mode 0600.
func (s *Store) Save(id *Identity) error {
	return saveFile(s, IdentityFile, "save", id)
}

// validated is a file's content that checks itself.
type validated interface {
	Validate() error
}

// loadFile reads and validates the JSON file name of the store;
// ErrNotFound when there is none. what names the operation in errors.
func loadFile[T any, PT interface {
	*T
	validated
}](s *Store, name, what string) (*T, error) {
	path := filepath.Join(s.dir, name)
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", what, err)
	}
	v := PT(new(T))
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("identity: %s %s: %w", what, path, err)
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return v, nil
}

// saveFile validates v and writes it to name atomically with mode 0600.
func saveFile(s *Store, name, what string, v validated) error {
	if err := v.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("identity: %s: %w", what, err)
	}
	return s.writeAtomic(name, append(data, '\n'))
}

// Remove deletes the identity, the cursor and the sealing key (after
// deregistration).
func (s *Store) Remove() error {
	for _, name := range []string{IdentityFile, CursorFile, AppliedFile, SealingKeyFile} {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("identity: remove: %w", err)
		}
	}
	return nil
}

// LoadCursor returns the persisted Last-Event-ID, "" when none.
func (s *Store) LoadCursor() (string, error) {
	data, err := readLimited(filepath.Join(s.dir, CursorFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: cursor: %w", err)
	}
	c := strings.TrimSpace(string(data))
	if strings.ContainsAny(c, "\x00\r\n") || len(c) > 128 {
		return "", nil // a damaged cursor only costs a resync through state (L5)
	}
	return c, nil
}

// SaveCursor persists the Last-Event-ID so replay survives restarts (§6.4
// level 2).
func (s *Store) SaveCursor(id string) error {
	return s.writeAtomic(CursorFile, []byte(id+"\n"))
}

// SaveApplied persists the last applied desired state (opaque JSON), so
// the first cycle after a restart does not report everything as drift
// (§9.4 level 2).
func (s *Store) SaveApplied(data []byte) error {
	return s.writeAtomic(AppliedFile, data)
}

// LoadApplied returns the persisted applied state, nil when none.
func (s *Store) LoadApplied() ([]byte, error) {
	data, err := readLimited(filepath.Join(s.dir, AppliedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: applied state: %w", err)
	}
	return data, nil
}

// writeAtomic writes name through a temporary file in the same directory,
// fsyncs it, renames it over name and fsyncs the directory, so a crash
// leaves either the old or the new file, never a torn one.
func (s *Store) writeAtomic(name string, data []byte) error {
	if err := os.MkdirAll(s.dir, DirMode); err != nil {
		return fmt.Errorf("identity: data directory: %w", err)
	}
	if err := os.Chmod(s.dir, DirMode); err != nil {
		return fmt.Errorf("identity: data directory: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(FileMode); err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("identity: write %s: %w", name, err)
	}
	done = true
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFile)
	}
	return data, nil
}
