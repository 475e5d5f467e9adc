// Package page implements the API's pagination: the limit parameter and the
// opaque cursors of api.md §2.5 — versioned, HMAC-SHA-256 signed, and bound
// to the caller and to the operation with its filters, so that a cursor
// cannot be forged, edited, or replayed by someone else or elsewhere.
package page

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// Limits of the limit parameter (api.md §2.5).
const (
	DefaultLimit = 50
	MaxLimit     = 200
	version      = 1
	macSize      = 16
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
	key []byte
}

// NewCodec returns a codec for a secret key of at least 32 bytes.
func NewCodec(key []byte) (*Codec, error) {
	if len(key) < 32 {
		return nil, errors.New("page: cursor key must be at least 32 bytes")
	}
	return &Codec{key: key}, nil
}

// Binding is what a cursor is bound to: the caller's pseudonym and the
// operation plus its filters, in a canonical string.
type Binding struct {
	Caller string
	Scope  string
}

type payload struct {
	V int             `json:"v"`
	C string          `json:"c"`
	S string          `json:"s"`
	P json.RawMessage `json:"p"`
}

// Encode mints a cursor for position (any JSON-encodable keyset value).
func (c *Codec) Encode(b Binding, position any) (string, error) {
	p, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(payload{V: version, C: c.digest("c", b.Caller), S: c.digest("s", b.Scope), P: p})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(append(body, c.mac(body)...)), nil
}

// Decode checks a cursor against b and fills position.
func (c *Codec) Decode(cursor string, b Binding, position any) error {
	if len(cursor) > maxCursorLen {
		return ErrInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(raw) <= macSize {
		return ErrInvalid
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	if !hmac.Equal(sum, c.mac(body)) {
		return ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil || p.V != version {
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

func (c *Codec) mac(body []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("cursor/v1\x00"))
	m.Write(body)
	return m.Sum(nil)[:macSize]
}

// digest keeps bindings short and opaque inside the cursor.
func (c *Codec) digest(label, v string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(label + "\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}
