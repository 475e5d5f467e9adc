// Package relaywire is the datagram format of plexsphere's level-2 relay
// (docs/design/0005-mesh.md, "Relay wire"), shared by plexd's WireGuard
// bind (client side) and the bridge relay (server side).
//
// Every relay datagram starts with a 4-byte kind and the 16-byte session
// UUID. WireGuard messages start with a type byte 1–4 and three zero
// bytes, and STUN messages with two zero bits and the magic cookie at
// bytes 4–7, so the "PXR" kinds never collide with either on one socket.
//
//	bind:  "PXRB" | session(16) | token(32)   node → relay, every RefreshInterval
//	ack:   "PXRA" | session(16)                relay → node, answers a valid bind
//	data:  "PXRD" | session(16) | WireGuard    both ways; the relay forwards it,
//	                                           header kept, to the other side
//
// The relay learns each side's source address from its authenticated bind,
// so a symmetric NAT's fresh port is what it forwards to. Relays see only
// WireGuard ciphertext.
package relaywire

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Datagram kinds.
const (
	KindBind = "PXRB"
	KindAck  = "PXRA"
	KindData = "PXRD"
)

// Sizes.
const (
	kindLen    = 4
	sessionLen = 16
	TokenLen   = 32
	// HeaderLen is the overhead of a data datagram.
	HeaderLen = kindLen + sessionLen
	bindLen   = HeaderLen + TokenLen
)

// RefreshInterval is how often a node re-sends its bind (it also keeps the
// NAT mapping towards the relay open); a relay drops a side that has not
// bound for 3 intervals.
const RefreshInterval = 10 * time.Second

// ErrNotRelay is returned for datagrams that are not relay datagrams.
var ErrNotRelay = errors.New("relaywire: not a relay datagram")

// IsRelay reports whether b starts with a relay kind.
func IsRelay(b []byte) bool {
	return len(b) >= HeaderLen && b[0] == 'P' && b[1] == 'X' && b[2] == 'R' &&
		(b[3] == 'B' || b[3] == 'A' || b[3] == 'D')
}

// Datagram is a decoded relay datagram. Payload aliases the input.
type Datagram struct {
	Kind    string
	Session uuid.UUID
	Token   [TokenLen]byte // bind only
	Payload []byte         // data only
}

// Parse decodes b.
func Parse(b []byte) (Datagram, error) {
	if !IsRelay(b) {
		return Datagram{}, ErrNotRelay
	}
	d := Datagram{Kind: string(b[:kindLen])}
	copy(d.Session[:], b[kindLen:HeaderLen])
	switch d.Kind {
	case KindBind:
		if len(b) != bindLen {
			return Datagram{}, errors.New("relaywire: bind of the wrong length")
		}
		copy(d.Token[:], b[HeaderLen:])
	case KindAck:
		if len(b) != HeaderLen {
			return Datagram{}, errors.New("relaywire: ack of the wrong length")
		}
	case KindData:
		d.Payload = b[HeaderLen:]
	}
	return d, nil
}

// AppendHeader appends a kind and session header to dst.
func AppendHeader(dst []byte, kind string, session uuid.UUID) []byte {
	dst = append(dst, kind...)
	return append(dst, session[:]...)
}

// Bind builds a bind datagram.
func Bind(session uuid.UUID, token [TokenLen]byte) []byte {
	return append(AppendHeader(make([]byte, 0, bindLen), KindBind, session), token[:]...)
}

// Ack builds an ack datagram.
func Ack(session uuid.UUID) []byte {
	return AppendHeader(make([]byte, 0, HeaderLen), KindAck, session)
}

// Data builds a data datagram around a WireGuard packet.
func Data(session uuid.UUID, wg []byte) []byte {
	return append(AppendHeader(make([]byte, 0, HeaderLen+len(wg)), KindData, session), wg...)
}

// ParseToken decodes a token as it travels in JSON (base64url, no padding).
func ParseToken(s string) ([TokenLen]byte, error) {
	var t [TokenLen]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != TokenLen {
		return t, errors.New("relaywire: token is not 32 bytes of base64url")
	}
	copy(t[:], b)
	return t, nil
}

// FormatToken encodes a token for JSON.
func FormatToken(t [TokenLen]byte) string { return base64.RawURLEncoding.EncodeToString(t[:]) }

// TokenEqual compares tokens in constant time.
func TokenEqual(a, b [TokenLen]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }
