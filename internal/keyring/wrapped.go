package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Wrapper wraps the master key with a key manager (OpenBao Transit,
// internal/secrets/openbao.Transit); the file then holds only the wrapped
// form.
type Wrapper interface {
	Wrap(ctx context.Context, plaintext []byte) (string, error)
	Unwrap(ctx context.Context, ciphertext string) ([]byte, error)
}

// wrappedPrefix starts every Transit ciphertext.
const wrappedPrefix = "vault:"

// ErrWrapped: the master key file holds a wrapped key and no Wrapper was
// given to open it.
var ErrWrapped = errors.New("the master key is wrapped by OpenBao Transit; configure --openbao-transit-key")

// LoadOrCreateWrapped reads the master key at path through w:
//
//   - no file: a random key is created and only its wrapped form stored
//     (0600, created atomically: a concurrent starter's file wins);
//   - a wrapped key ("vault:…"): unwrapped;
//   - a plain base64 key: wrapped, checked by unwrapping it again, and the
//     file replaced atomically by the wrapped form (migration).
//
// The unwrapped key stays in memory only.
func LoadOrCreateWrapped(ctx context.Context, path string, w Wrapper) (*Keyring, error) {
	if w == nil {
		return nil, errors.New("keyring: LoadOrCreateWrapped needs a Wrapper")
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw, err = createWrapped(ctx, path, w)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: master key %s: %w", path, err)
	}
	text := strings.TrimSpace(string(raw))
	if strings.HasPrefix(text, wrappedPrefix) {
		key, err := w.Unwrap(ctx, text)
		if err != nil {
			return nil, fmt.Errorf("keyring: unwrap master key %s: %w", path, err)
		}
		if len(key) != keySize {
			return nil, fmt.Errorf("keyring: master key %s: unwrapped key is not %d bytes", path, keySize)
		}
		return New(key)
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("keyring: master key %s: want base64 of %d bytes or a wrapped key", path, keySize)
	}
	if err := migrate(ctx, path, key, w); err != nil {
		return nil, fmt.Errorf("keyring: wrap master key %s: %w", path, err)
	}
	return New(key)
}

// createWrapped stores a new wrapped key, or returns the file another
// process created first.
func createWrapped(ctx context.Context, path string, w Wrapper) ([]byte, error) {
	key := make([]byte, keySize)
	rand.Read(key)
	wrapped, err := w.Wrap(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("wrap: %w", err)
	}
	enc := []byte(wrapped + "\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := writeTemp(path, enc)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// A hard link creates path with its whole content at once, and fails
	// when path exists.
	if err := os.Link(tmp, path); errors.Is(err, os.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, err
	}
	return enc, syncDir(path)
}

// migrate replaces a plain key file by the key's wrapped form, after
// checking that the wrapped form opens again to the same key.
func migrate(ctx context.Context, path string, key []byte, w Wrapper) error {
	wrapped, err := w.Wrap(ctx, key)
	if err != nil {
		return err
	}
	back, err := w.Unwrap(ctx, wrapped)
	if err != nil || !bytes.Equal(back, key) {
		return errors.New("the key manager does not give the key back; the file is left as it was")
	}
	tmp, err := writeTemp(path, []byte(wrapped+"\n"))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(path)
}

// writeTemp writes data to a new 0600 file next to path, synced.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
