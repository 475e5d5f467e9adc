package nodeproto

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Level 2 (ours): secrets sealed to a node's X25519 sealing key with HPKE
// (RFC 9180, base mode): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20-Poly1305, info binding node, key and version
// (docs/design/0007-secrets.md). The sealing key is never the WireGuard key.

// SealingKeyRequest is the body of PUT /v1/nodes/{id}/sealing-key.
type SealingKeyRequest struct {
	PublicKey string `json:"public_key"` // Key32: B64 of the X25519 public key
}

// SealingKeyResponse answers it.
type SealingKeyResponse struct {
	KID       string `json:"kid"`
	PublicKey string `json:"public_key"`
}

// PathSealingKey is the level-2 endpoint a node registers its sealing key at.
const PathSealingKey = "/v1/nodes/{id}/sealing-key"

// SealSuite names the HPKE suite in X-Plexsphere-Secret-Seal.
const SealSuite = "hpke-v1"

// ErrSealedSecret is returned when a sealed secret does not open.
var ErrSealedSecret = errors.New("nodeproto: sealed secret does not open with this sealing key")

// SealingKID is the id of a sealing public key (Key32): the first 16 hex
// digits of SHA-256 of its raw bytes.
func SealingKID(publicKey string) (string, error) {
	raw, err := ParseKey32(publicKey)
	if err != nil {
		return "", fmt.Errorf("nodeproto: sealing key: %w", err)
	}
	sum := sha256.Sum256(raw[:])
	return hex.EncodeToString(sum[:8]), nil
}

// SealInfo is the HPKE info of one sealed value.
func SealInfo(nodeID, key string, version int64) []byte {
	b := []byte("plexsphere secret v1")
	for _, part := range []string{nodeID, key, strconv.FormatInt(version, 10)} {
		b = append(append(b, 0), part...)
	}
	return b
}

func suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.ChaCha20Poly1305() }

// SealToNode seals plaintext to the sealing key publicKey (Key32) of
// nodeID, for key at version; the result is enc ‖ ciphertext.
func SealToNode(publicKey, nodeID, key string, version int64, plaintext []byte) ([]byte, error) {
	raw, err := ParseKey32(publicKey)
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sealing key: %w", err)
	}
	pub, err := ecdh.X25519().NewPublicKey(raw[:])
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sealing key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sealing key: %w", err)
	}
	kdf, aead := suite()
	return hpke.Seal(pk, kdf, aead, SealInfo(nodeID, key, version), plaintext)
}

// OpenFromNode opens what SealToNode produced with the sealing private key
// privateKey (Key32).
func OpenFromNode(privateKey, nodeID, key string, version int64, sealed []byte) ([]byte, error) {
	raw, err := ParseKey32(privateKey)
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sealing private key: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(raw[:])
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sealing private key: %w", err)
	}
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("nodeproto: sealing private key: %w", err)
	}
	kdf, aead := suite()
	pt, err := hpke.Open(k, kdf, aead, SealInfo(nodeID, key, version), sealed)
	if err != nil {
		return nil, ErrSealedSecret
	}
	return pt, nil
}

// SealSecretToNode builds the level-2 SecretResponse of plaintext.
func SealSecretToNode(publicKey, nodeID, key string, version int64, plaintext []byte) (SecretResponse, error) {
	kid, err := SealingKID(publicKey)
	if err != nil {
		return SecretResponse{}, err
	}
	sealed, err := SealToNode(publicKey, nodeID, key, version, plaintext)
	if err != nil {
		return SecretResponse{}, err
	}
	return SecretResponse{Key: key, Version: version, KID: kid, Sealed: base64.StdEncoding.EncodeToString(sealed)}, nil
}

// OpenSealed opens a level-2 SecretResponse with the sealing private key.
func (r *SecretResponse) OpenSealed(privateKey, nodeID string) ([]byte, error) {
	sealed, err := base64.StdEncoding.DecodeString(r.Sealed)
	if err != nil || len(sealed) < 32+16 {
		return nil, fmt.Errorf("%w: sealed is not B64 of enc and ciphertext", ErrSealedSecret)
	}
	return OpenFromNode(privateKey, nodeID, r.Key, r.Version, sealed)
}
