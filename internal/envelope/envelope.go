package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// FreshnessWindow is the largest distance between issued_at and the
// verifier's clock, in either direction (§7.4 step 3).
const FreshnessWindow = 5 * time.Minute

// Envelope is the SignedEnvelope wire form (§7.1). Only EventType, EventID,
// IssuedAt, Nonce and Payload are signed. KeyID is a level-2 hint (X6)
// outside the signature: clear it before sending to a level-1 agent.
type Envelope struct {
	EventType string          `json:"event_type"`
	EventID   string          `json:"event_id"`
	IssuedAt  time.Time       `json:"issued_at"`
	Nonce     string          `json:"nonce"`
	Payload   json.RawMessage `json:"payload"`
	Signature string          `json:"signature"`
	KeyID     string          `json:"key_id,omitempty"`
}

// Event is what the control plane signs: the stable part of a log entry.
type Event struct {
	Type    string          // event_type, ^[a-z0-9_]+$
	ID      string          // event_id, an ID; identical on every emission
	Payload json.RawMessage // a JSON object ({} when empty)
}

// Verification and signing errors. Verify wraps them with detail; match
// with errors.Is.
var (
	// ErrMalformed: the envelope does not parse, lacks a required member,
	// or its signature or payload cannot be decoded (§7.4 steps 1, 2, 4, 5).
	ErrMalformed = errors.New("envelope: malformed")
	// ErrStale: issued_at is more than FreshnessWindow in the past.
	ErrStale = errors.New("envelope: stale")
	// ErrFuture: issued_at is more than FreshnessWindow in the future.
	ErrFuture = errors.New("envelope: issued in the future")
	// ErrBadSignature: no trusted key verifies the signature.
	ErrBadSignature = errors.New("envelope: bad signature")
	// ErrUnknownKey: the key_id hint names no trusted key and no trusted
	// key verifies the signature.
	ErrUnknownKey = errors.New("envelope: signed by an unknown key")
	// ErrKeyExpired: only the previous key verifies, and its transition
	// deadline has passed (§8).
	ErrKeyExpired = errors.New("envelope: previous key past its transition deadline")
	// ErrReplay: the nonce was already accepted within the window.
	ErrReplay = errors.New("envelope: replayed nonce")
	// ErrReplayCacheFull: the replay cache is at its bound; the envelope
	// is refused rather than risk accepting a replay.
	ErrReplayCacheFull = errors.New("envelope: replay cache full")
	// ErrTooLarge: the framed envelope would exceed the SSE line limit (F2).
	ErrTooLarge = errors.New("envelope: exceeds the event stream line limit")
)

// Parse decodes an envelope as received (§7.4 step 1) the way the existing
// agent does, with encoding/json, and drops one without event_type or
// event_id. It does not verify.
func Parse(data []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.EventType == "" || e.EventID == "" {
		return nil, fmt.Errorf("%w: empty event_type or event_id", ErrMalformed)
	}
	return &e, nil
}

// CanonicalBytes returns the bytes e's signature covers (§7.2).
func (e *Envelope) CanonicalBytes() ([]byte, error) {
	return CanonicalBytes(e.EventType, e.EventID, e.IssuedAt, e.Nonce, e.Payload)
}

// CanonicalBytes builds the canonical signing bytes of §7.2:
//
//	{"event_type":<S>,"event_id":<S>,"issued_at":"<T>","nonce":<S>,"payload":<P>}
//
// S is Go's JSON string encoding (HTML-escaped), T issued_at re-rendered
// from its value in RFC 3339 with nanoseconds trimmed and "Z" for a zero
// offset, and P the payload compacted with <, >, &, U+2028 and U+2029
// escaped and nothing else changed. A nil, empty or null payload gives
// null; a payload that is not JSON is an error.
func CanonicalBytes(eventType, eventID string, issuedAt time.Time, nonce string, payload []byte) ([]byte, error) {
	return canonicalBytes(eventType, eventID, issuedAt, nonce, payload, payloadUnchecked)
}

// What canonicalBytes may assume about the payload.
type payloadState int

const (
	payloadUnchecked payloadState = iota // anything: validate, then compact
	payloadValid                         // valid JSON (decoded by encoding/json): compact
	payloadCanonical                     // already P (made by the Signer): copy
)

func canonicalBytes(eventType, eventID string, issuedAt time.Time, nonce string, payload []byte, ps payloadState) ([]byte, error) {
	t, err := issuedAt.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%w: issued_at: %v", ErrMalformed, err)
	}
	b := make([]byte, 0, 72+len(eventType)+len(eventID)+len(t)+len(nonce)+len(payload))
	b = append(b, `{"event_type":`...)
	b = appendString(b, eventType)
	b = append(b, `,"event_id":`...)
	b = appendString(b, eventID)
	b = append(b, `,"issued_at":`...)
	b = append(b, t...)
	b = append(b, `,"nonce":`...)
	b = appendString(b, nonce)
	b = append(b, `,"payload":`...)
	switch {
	case ps == payloadCanonical && len(payload) > 0:
		b = append(b, payload...)
	case ps == payloadValid || ps == payloadCanonical:
		b = appendCompact(b, payload)
	default:
		if b, err = appendPayload(b, payload); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// CanonicalPayload returns P of §7.2 for payload: what a control plane
// puts on the wire so that any verifier reads canonical bytes directly.
func CanonicalPayload(payload []byte) (json.RawMessage, error) {
	return appendPayload(make([]byte, 0, len(payload)), payload)
}

// Byte classes inside a JSON string, for appendPayload.
const (
	strPlain = iota
	strQuote
	strBackslash
	strHTML
	strE2 // first byte of U+2028 and U+2029
)

var strClass = func() (t [256]uint8) {
	t['"'], t['\\'] = strQuote, strBackslash
	t['<'], t['>'], t['&'] = strHTML, strHTML, strHTML
	t[0xE2] = strE2
	return t
}()

// appendPayload appends P: whitespace outside strings removed, <, >, &,
// U+2028 and U+2029 escaped, every other byte kept (member order,
// duplicates, number spelling, escapes, raw non-ASCII). This is
// encoding/json's compaction of a json.RawMessage with HTML escaping.
func appendPayload(dst, p []byte) ([]byte, error) {
	if len(p) > 0 && !json.Valid(p) {
		return nil, fmt.Errorf("%w: payload is not valid JSON", ErrMalformed)
	}
	return appendCompact(dst, p), nil
}

// appendCompact is appendPayload for p known to be valid JSON.
func appendCompact(dst, p []byte) []byte {
	if len(p) == 0 {
		return append(dst, "null"...)
	}
	// Valid JSON has no byte <= ' ' outside strings but whitespace, and no
	// <, >, & or U+2028/9 outside strings at all.
	start, inString := 0, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !inString {
			if c == '"' {
				inString = true
			} else if c <= ' ' {
				dst = append(dst, p[start:i]...)
				start = i + 1
			}
			continue
		}
		switch strClass[c] {
		case strQuote:
			inString = false
		case strBackslash:
			i++ // the escaped byte; \uXXXX digits are plain
		case strHTML:
			dst = append(dst, p[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case strE2:
			if i+2 < len(p) && p[i+1] == 0x80 && p[i+2]&^1 == 0xA8 {
				dst = append(dst, p[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[p[i+2]&0xF])
				i += 2
				start = i + 1
			}
		}
	}
	return append(dst, p[start:]...)
}

const hexDigits = "0123456789abcdef"

// htmlSafe reports whether Go's HTML-escaping JSON encoder writes the ASCII
// byte c unchanged inside a string.
func htmlSafe(c byte) bool {
	return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// appendString appends s as encoding/json encodes a string with HTML
// escaping: short escapes for \b \f \n \r \t " \, \u00XX for other control
// bytes and <, >, &, \ufffd for invalid UTF-8, \u2028 and \u2029 escaped.
// With the §7.1 character sets it is s between plain quotes.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe(c) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
