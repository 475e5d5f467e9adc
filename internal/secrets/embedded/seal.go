package embedded

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrUnseal: a stored data key or value failed authentication: the KEK
// under that id is not the one that wrapped it, or the row was altered or
// moved to another path or version.
var ErrUnseal = errors.New("embedded: stored secret does not authenticate (wrong KEK, or the row was altered or moved)")

// sealed is the stored form of one version.
type sealed struct {
	kekID      string
	wrappedKey string // base64(nonce ‖ sealed DEK ‖ tag)
	ciphertext string // base64(nonce ‖ sealed value ‖ tag)
}

// valueAD binds a sealed value to its path and version.
func valueAD(path string, version int64) []byte {
	return fmt.Appendf(nil, "plexsphere secret value v1\x00%s\x00%d", path, version)
}

// dekAD binds a wrapped data key to its path, version and KEK id.
func dekAD(path string, version int64, kekID string) []byte {
	return fmt.Appendf(nil, "plexsphere secret dek v1\x00%s\x00%d\x00%s", path, version, kekID)
}

// seal encrypts data under a fresh data key and wraps that key under k.
func seal(k kek, path string, version int64, data []byte) (sealed, error) {
	dek := make([]byte, kekSize)
	defer clear(dek)
	rand.Read(dek)
	a, err := dekAEAD(dek)
	if err != nil {
		return sealed{}, err
	}
	ct := a.Seal(nil, nil, data, valueAD(path, version))
	return sealed{
		kekID:      k.id,
		wrappedKey: wrap(k, dek, path, version),
		ciphertext: base64.StdEncoding.EncodeToString(ct),
	}, nil
}

// wrap seals dek under k for path and version.
func wrap(k kek, dek []byte, path string, version int64) string {
	return base64.StdEncoding.EncodeToString(k.aead.Seal(nil, nil, dek, dekAD(path, version, k.id)))
}

// unwrap opens a wrapped data key under k; the caller clears the result.
func unwrap(k kek, wrapped, path string, version int64) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d: wrapped key is not base64", ErrUnseal, path, version)
	}
	dek, err := k.aead.Open(nil, nil, raw, dekAD(path, version, k.id))
	if err != nil || len(dek) != kekSize {
		clear(dek)
		return nil, fmt.Errorf("%w: %s v%d: data key does not open under KEK %q", ErrUnseal, path, version, k.id)
	}
	return dek, nil
}

// open decrypts a stored version, finding its KEK in keks.
func open(keks *KEKSet, path string, version int64, s sealed) ([]byte, error) {
	k, err := keks.byID(s.kekID)
	if err != nil {
		return nil, fmt.Errorf("%s v%d: %w", path, version, err)
	}
	dek, err := unwrap(k, s.wrappedKey, path, version)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	a, err := dekAEAD(dek)
	if err != nil {
		return nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(s.ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d: ciphertext is not base64", ErrUnseal, path, version)
	}
	data, err := a.Open(nil, nil, ct, valueAD(path, version))
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d: value does not open under its data key", ErrUnseal, path, version)
	}
	return data, nil
}

// dekAEAD is AES-256-GCM under a data key, random nonce prefixed.
func dekAEAD(dek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, fmt.Errorf("embedded: data key: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}
