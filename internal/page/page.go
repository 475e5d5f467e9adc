// Package page implements the API's pagination: the limit parameter and the
// opaque cursors of api.md §2.5 — versioned, sealed with AES-256-GCM under a
// server key, and bound to the caller and to the operation with its filters,
// so that a cursor cannot be forged, edited, or replayed by someone else or
// elsewhere, and reveals nothing to its holder: a list keys its next page on
// the last row it fetched, which may be one the caller cannot see (another
// Domain's slug, a hidden node's id), so the position must not be readable.
package page

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// Limits of the limit parameter (api.md §2.5).
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// version is the first byte of every cursor. Version 1 cursors were
	// HMAC-signed but readable (issue 7 row 7); they are refused as invalid.
	version      = 2
	maxCursorLen = 2048
)

// Errors of Decode.
var (
	// ErrInvalid covers tampering, unknown versions, garbage, and a cursor
	// minted for another operation or filter set.
	ErrInvalid = errors.New("page: invalid cursor")
	// ErrBinding means the cursor was minted for another caller.
	ErrBinding = errors.New("page: cursor bound to another caller")
)

// Codec mints and checks cursors with one server key.
type Codec struct {
	// bind keys the binding digests; aead seals the payload.
	bind []byte
	aead cipher.AEAD
}

// NewCodec returns a codec for a secret key of at least 32 bytes. The
// binding and sealing keys are derived from it, one per purpose.
func NewCodec(key []byte) (*Codec, error) {
	if len(key) < 32 {
		return nil, errors.New("page: cursor key must be at least 32 bytes")
	}
	block, err := aes.NewCipher(derive(key, "cursor/seal/v2"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Codec{bind: derive(key, "cursor/bind/v2"), aead: aead}, nil
}

// derive is HMAC-SHA-256(key, label): a 32-byte key for one purpose.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Binding is what a cursor is bound to: the caller's pseudonym and the
// operation plus its filters, in a canonical string.
type Binding struct {
	Caller string
	Scope  string
}

type payload struct {
	C string          `json:"c"`
	S string          `json:"s"`
	P json.RawMessage `json:"p"`
}

// Encode mints a cursor for position (any JSON-encodable keyset value):
// version byte, random nonce, then the sealed payload, in base64url.
func (c *Codec) Encode(b Binding, position any) (string, error) {
	p, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(payload{C: c.digest("c", b.Caller), S: c.digest("s", b.Scope), P: p})
	if err != nil {
		return "", err
	}
	head := make([]byte, 1+c.aead.NonceSize(), 1+c.aead.NonceSize()+len(body)+c.aead.Overhead())
	head[0] = version
	if _, err := rand.Read(head[1:]); err != nil {
		return "", err
	}
	sealed := c.aead.Seal(head, head[1:], body, head[:1])
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Decode checks a cursor against b and fills position.
func (c *Codec) Decode(cursor string, b Binding, position any) error {
	if len(cursor) > maxCursorLen {
		return ErrInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	n := 1 + c.aead.NonceSize()
	if err != nil || len(raw) < n+c.aead.Overhead() || raw[0] != version {
		return ErrInvalid
	}
	body, err := c.aead.Open(nil, raw[1:n], raw[n:], raw[:1])
	if err != nil {
		return ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return ErrInvalid
	}
	if p.C != c.digest("c", b.Caller) {
		return ErrBinding
	}
	if p.S != c.digest("s", b.Scope) {
		return ErrInvalid
	}
	if err := json.Unmarshal(p.P, position); err != nil {
		return ErrInvalid
	}
	return nil
}

// digest keeps bindings short inside the cursor.
func (c *Codec) digest(label, v string) string {
	m := hmac.New(sha256.New, c.bind)
	m.Write([]byte(label + "\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}
