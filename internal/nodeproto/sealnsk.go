package nodeproto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// Level 2 (ours): a registration answer also carries the NSK sealed to the
// node's WireGuard public key (RegisterResponse.NodeSecretKeySealed), and a
// replay of a node that registered at level 2 carries it only sealed, so
// only the holder of the WireGuard private key can read it: the proof of
// possession that closes NSK theft through the registration replay for our
// plexd (issue 7 row 2, docs/enrolment.md).
//
// Sealed form: B64 of eph ‖ ct, where eph is a fresh X25519 public key, and
// ct is AES-256-GCM of the NSK under the first 32 bytes of
// HKDF-SHA-256(ikm = X25519(eph, node key), salt = eph ‖ node key,
// info = sealNSKInfo) with the next 12 bytes as nonce and the node id as
// additional data. Every key is used once.
const sealNSKInfo = "plexsphere register nsk seal v1"

// ErrSealedNSK is returned when a sealed NSK does not open with this key.
var ErrSealedNSK = errors.New("nodeproto: sealed NSK does not open with this WireGuard key")

// SealNSK seals nsk to the WireGuard (X25519) public key publicKey, bound to
// nodeID; r feeds the ephemeral key (crypto/rand when nil).
func SealNSK(r io.Reader, publicKey, nodeID, nsk string) (string, error) {
	pubRaw, err := ParseKey32(publicKey)
	if err != nil {
		return "", fmt.Errorf("nodeproto: seal NSK: public key: %w", err)
	}
	pub, err := ecdh.X25519().NewPublicKey(pubRaw[:])
	if err != nil {
		return "", fmt.Errorf("nodeproto: seal NSK: %w", err)
	}
	if r == nil {
		r = rand.Reader
	}
	var seed [32]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return "", fmt.Errorf("nodeproto: seal NSK: %w", err)
	}
	eph, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		return "", fmt.Errorf("nodeproto: seal NSK: %w", err)
	}
	aead, nonce, err := sealKey(eph, pub, eph.PublicKey().Bytes(), pubRaw[:])
	if err != nil {
		return "", err
	}
	out := append(eph.PublicKey().Bytes(), aead.Seal(nil, nonce, []byte(nsk), []byte(nodeID))...)
	return base64.StdEncoding.EncodeToString(out), nil
}

// OpenNSK opens a sealed NSK with the WireGuard private key privateKey
// (Key32) of the node nodeID.
func OpenNSK(privateKey, nodeID, sealed string) (string, error) {
	privRaw, err := ParseKey32(privateKey)
	if err != nil {
		return "", fmt.Errorf("nodeproto: open NSK: private key: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(privRaw[:])
	if err != nil {
		return "", fmt.Errorf("nodeproto: open NSK: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < 32+16 {
		return "", ErrSealedNSK
	}
	eph, err := ecdh.X25519().NewPublicKey(raw[:32])
	if err != nil {
		return "", ErrSealedNSK
	}
	aead, nonce, err := sealKey(priv, eph, raw[:32], priv.PublicKey().Bytes())
	if err != nil {
		return "", ErrSealedNSK
	}
	pt, err := aead.Open(nil, nonce, raw[32:], []byte(nodeID))
	if err != nil || !ValidNSK(string(pt)) {
		return "", ErrSealedNSK
	}
	return string(pt), nil
}

// sealKey derives the AEAD and nonce of one seal from the X25519 shared
// secret of priv and pub; eph and node are the salt's two halves.
func sealKey(priv *ecdh.PrivateKey, pub *ecdh.PublicKey, eph, node []byte) (cipher.AEAD, []byte, error) {
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("nodeproto: NSK seal key: %w", err)
	}
	salt := append(append([]byte{}, eph...), node...)
	okm, err := hkdf.Key(sha256.New, shared, salt, sealNSKInfo, 32+12)
	if err != nil {
		return nil, nil, fmt.Errorf("nodeproto: NSK seal key: %w", err)
	}
	block, err := aes.NewCipher(okm[:32])
	if err != nil {
		return nil, nil, fmt.Errorf("nodeproto: NSK seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	return aead, okm[32:], err
}

// OpenNSK returns the response's NSK: opened from NodeSecretKeySealed with
// the node's WireGuard private key when the control plane sealed it (and
// then equal to node_secret_key if that is present too), else
// node_secret_key.
func (r *RegisterResponse) OpenNSK(privateKey string) (string, error) {
	if r.NodeSecretKeySealed == "" {
		if !ValidNSK(r.NodeSecretKey) {
			return "", invalid("node_secret_key", "not 32 printable ASCII characters")
		}
		return r.NodeSecretKey, nil
	}
	nsk, err := OpenNSK(privateKey, r.NodeID, r.NodeSecretKeySealed)
	if err != nil {
		return "", err
	}
	if r.NodeSecretKey != "" && !equalSecret(nsk, r.NodeSecretKey) {
		return "", invalid("node_secret_key_sealed", "differs from node_secret_key")
	}
	return nsk, nil
}
