package access

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadHostKey reads the Ed25519 host key at path, generating it (0600,
// OpenSSH format) at first use; "" keeps a fresh key in memory.
func loadHostKey(path string) (gossh.Signer, error) {
	if path == "" {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("access: host key: %w", err)
		}
		return gossh.NewSignerFromKey(priv)
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHostKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("access: host key: %w", err)
	}
	key, err := gossh.ParseRawPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("access: host key %s: %w", path, err)
	}
	priv, ok := key.(*ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("access: host key %s is not an Ed25519 key", path)
	}
	return gossh.NewSignerFromKey(*priv)
}

// createHostKey writes a new key atomically (temp file, rename).
func createHostKey(path string) (gossh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("access: host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "plexd access host key")
	if err != nil {
		return nil, fmt.Errorf("access: host key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("access: host key: %w", err)
	}
	f, err := os.CreateTemp(dir, ".hostkey-*")
	if err != nil {
		return nil, fmt.Errorf("access: host key: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err == nil {
		_, err = f.Write(pem.EncodeToMemory(block))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("access: host key: %w", err)
	}
	return gossh.NewSignerFromKey(priv)
}
