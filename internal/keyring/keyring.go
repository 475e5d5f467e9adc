// Package keyring holds the control plane's master key and the small server
// secrets sealed under it (the cursor HMAC key, the pseudonym pepper, later
// the embedded signing and secret backends' keys).
//
// The master key is 32 random bytes kept in a file outside the database
// (mode 0600), in base64, or wrapped by a key manager (OpenBao Transit, see
// LoadOrCreateWrapped) so that the file alone opens nothing. Everything sealed with it is stored as AES-256-GCM ciphertext,
// bound to its name as associated data, so a database dump alone reveals none
// of them. Replicas sharing a PostgreSQL database must share the master key
// file.
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/store"
)

const keySize = 32

// Keyring seals and opens small secrets with the master key.
type Keyring struct {
	aead cipher.AEAD
}

// LoadOrCreate reads the master key at path, creating it (0600, in a 0700
// directory) when it does not exist yet. A key wrapped by a key manager
// needs LoadOrCreateWrapped; here it is ErrWrapped.
func LoadOrCreate(path string) (*Keyring, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw, err = create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: master key %s: %w", path, err)
	}
	if strings.HasPrefix(strings.TrimSpace(string(raw)), wrappedPrefix) {
		return nil, fmt.Errorf("keyring: master key %s: %w", path, ErrWrapped)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("keyring: master key %s: want base64 of %d bytes", path, keySize)
	}
	return New(key)
}

func create(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, keySize)
	rand.Read(key)
	enc := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return os.ReadFile(path) // another process won the race
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(enc); err != nil {
		f.Close()
		return nil, err
	}
	return enc, f.Close()
}

// New builds a keyring from a raw 32-byte key.
func New(key []byte) (*Keyring, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("keyring: key must be %d bytes", keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead}, nil
}

// Seal encrypts plaintext bound to name; the result is nonce ‖ ciphertext.
func (k *Keyring) Seal(name string, plaintext []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(name))
}

// Open decrypts what Seal produced for the same name.
func (k *Keyring) Open(name string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errors.New("keyring: sealed value too short")
	}
	pt, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("keyring: %s: wrong master key or corrupted value", name)
	}
	return pt, nil
}

// ServerKey returns the named 32-byte server secret, generating and storing
// it (sealed) on first use. Concurrent first uses across replicas agree on
// one value.
func (k *Keyring) ServerKey(ctx context.Context, db *store.DB, name string) ([]byte, error) {
	fresh := make([]byte, keySize)
	rand.Read(fresh)
	sealed := base64.StdEncoding.EncodeToString(k.Seal(name, fresh))
	_, err := db.ExecContext(ctx,
		`INSERT INTO server_keys (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		name, sealed, store.Micros(time.Now()))
	if err != nil {
		return nil, fmt.Errorf("keyring: store %s: %w", name, err)
	}
	var stored string
	err = db.QueryRowContext(ctx, `SELECT sealed FROM server_keys WHERE name = $1`, name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("keyring: %s vanished", name)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: load %s: %w", name, err)
	}
	raw, err := base64.StdEncoding.DecodeString(stored)
	if err != nil {
		return nil, fmt.Errorf("keyring: %s: bad encoding", name)
	}
	return k.Open(name, raw)
}
