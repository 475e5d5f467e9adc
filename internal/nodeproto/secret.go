package nodeproto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// SecretResponse answers GET /v1/nodes/{node_id}/secrets/{key} (§11.1): the
// value sealed with AES-256-GCM under the 32 ASCII bytes of the node's NSK,
// a fresh 12-byte nonce and no AAD. Ciphertext is B64 of the encrypted bytes
// followed by the 16-byte tag.
//
// Level 2 (ours, docs/design/0007-secrets.md): for a node that registered a
// sealing key, Sealed carries the value sealed with HPKE to that key and
// KID names the key; Ciphertext and Nonce are then empty (they never carry
// HPKE output).
type SecretResponse struct {
	Key        string `json:"key"`
	Ciphertext string `json:"ciphertext"` // B64
	Nonce      string `json:"nonce"`      // B64 of 12 bytes
	Version    int64  `json:"version"`
	Sealed     string `json:"sealed,omitempty"` // B64 of HPKE enc ‖ ciphertext
	KID        string `json:"kid,omitempty"`    // the sealing key's id
}

const secretNonceLen = 12

// ErrSecretOpen is returned when a SecretResponse does not decrypt.
var ErrSecretOpen = errors.New("nodeproto: secret does not decrypt under this NSK")

func nskAEAD(nsk string) (cipher.AEAD, error) {
	if !ValidNSK(nsk) {
		return nil, errors.New("nodeproto: NSK is not 32 printable ASCII bytes")
	}
	block, err := aes.NewCipher([]byte(nsk))
	if err != nil {
		return nil, fmt.Errorf("nodeproto: aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealSecret builds the level-1 SecretResponse of plaintext for the node
// holding nsk. rand supplies the nonce (crypto/rand when nil); a fixed
// nonce is for test vectors only.
func SealSecret(nsk, key string, version int64, plaintext []byte, rand io.Reader) (SecretResponse, error) {
	aead, err := nskAEAD(nsk)
	if err != nil {
		return SecretResponse{}, err
	}
	if rand == nil {
		rand = cryptoRand
	}
	var nonce [secretNonceLen]byte
	if _, err := io.ReadFull(rand, nonce[:]); err != nil {
		return SecretResponse{}, fmt.Errorf("nodeproto: secret nonce: %w", err)
	}
	ct := aead.Seal(nil, nonce[:], plaintext, nil)
	return SecretResponse{
		Key:        key,
		Ciphertext: base64.StdEncoding.EncodeToString(ct),
		Nonce:      base64.StdEncoding.EncodeToString(nonce[:]),
		Version:    version,
	}, nil
}

// Open decrypts r with the node's NSK.
func (r *SecretResponse) Open(nsk string) ([]byte, error) {
	aead, err := nskAEAD(nsk)
	if err != nil {
		return nil, err
	}
	nonce, err := base64.StdEncoding.DecodeString(r.Nonce)
	if err != nil || len(nonce) != secretNonceLen {
		return nil, fmt.Errorf("%w: nonce is not B64 of 12 bytes", ErrSecretOpen)
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil || len(ct) < aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext is not B64 of at least 16 bytes", ErrSecretOpen)
	}
	pt, err := aead.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, ErrSecretOpen
	}
	return pt, nil
}

var cryptoRand = rand.Reader
