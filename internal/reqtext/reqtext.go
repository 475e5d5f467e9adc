// Package reqtext refuses request text that the databases cannot store
// faithfully: NUL (U+0000), which PostgreSQL rejects in text columns and
// SQLite stores, and invalid UTF-8. It checks JSON bodies (raw bytes and
// \u0000 escapes), form bodies (after percent-decoding) and single strings
// such as path and query parameters, on whole values or streaming.
package reqtext

import (
	"errors"
	"io"
	"unicode/utf8"
)

// ErrInvalid is returned for text holding NUL or invalid UTF-8.
var ErrInvalid = errors.New("reqtext: NUL or invalid UTF-8 in request text")

// Kind is how a body encodes its strings.
type Kind int

// The body kinds.
const (
	// JSON checks raw bytes and \uXXXX escapes.
	JSON Kind = iota
	// Form checks application/x-www-form-urlencoded bodies after
	// percent-decoding.
	Form
)

// String returns ErrInvalid when s holds NUL or invalid UTF-8.
func String(s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalid
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return ErrInvalid
		}
	}
	return nil
}

// Check checks a whole body of the given kind.
func Check(kind Kind, body []byte) error {
	c := checker{kind: kind}
	if !c.write(body) || !c.end() {
		return ErrInvalid
	}
	return nil
}

// NewReader returns a reader that passes r's bytes through and fails with
// ErrInvalid as soon as they break the rules for kind. It closes r when
// closed, if r is an io.Closer.
func NewReader(r io.Reader, kind Kind) io.ReadCloser {
	return &reader{r: r, c: checker{kind: kind}}
}

type reader struct {
	r   io.Reader
	c   checker
	err error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if !r.c.write(p[:n]) || (err == io.EOF && !r.c.end()) {
		r.err = ErrInvalid
		return n, r.err
	}
	return n, err
}

func (r *reader) Close() error {
	if c, ok := r.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// checker is a streaming validator: write may be called with any split of
// the body, end when it is complete.
type checker struct {
	kind Kind
	// pend holds the start of a UTF-8 sequence split across writes.
	pend  [utf8.UTFMax]byte
	npend int
	// esc is the JSON escape state: 0 outside an escape, 1 after a
	// backslash, 2–5 inside the hex digits of \u; zeros counts '0' digits.
	esc, zeros int
	// pct is the form state: 0 outside an escape, 1–2 inside %XX; hex
	// accumulates the digits; scratch holds the decoded chunk.
	pct     int
	hex     byte
	scratch []byte
}

func (c *checker) write(p []byte) bool {
	if c.kind == Form {
		return c.text(c.decodeForm(p))
	}
	return c.text(p) && c.escapes(p)
}

// end reports whether the body did not stop inside a UTF-8 sequence.
func (c *checker) end() bool { return c.npend == 0 }

// text checks decoded bytes: no NUL, valid UTF-8 across writes.
func (c *checker) text(p []byte) bool {
	for c.npend > 0 && len(p) > 0 {
		c.pend[c.npend] = p[0]
		c.npend++
		p = p[1:]
		if utf8.FullRune(c.pend[:c.npend]) {
			if r, size := utf8.DecodeRune(c.pend[:c.npend]); r == utf8.RuneError && size == 1 {
				return false
			}
			c.npend = 0
		}
	}
	if c.npend > 0 {
		return true // p ended inside the held-back sequence
	}
	// Hold back an incomplete sequence at the end for the next write.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				cut = i
			}
			break
		}
	}
	for _, b := range p[:cut] {
		if b == 0 {
			return false
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	c.npend = copy(c.pend[:], p[cut:])
	return true
}

// escapes refuses the JSON escape \u0000. A backslash outside a string is
// a syntax error the JSON decoder reports, so every backslash seen here
// starts an escape.
func (c *checker) escapes(p []byte) bool {
	for _, b := range p {
		switch c.esc {
		case 0:
			if b == '\\' {
				c.esc = 1
			}
		case 1:
			c.esc, c.zeros = 0, 0
			if b == 'u' {
				c.esc = 2
			}
		default:
			if b == '0' {
				c.zeros++
			}
			if c.esc++; c.esc == 6 {
				if c.zeros == 4 {
					return false
				}
				c.esc = 0
			}
		}
	}
	return true
}

// decodeForm percent-decodes p into scratch, carrying a split %XX over to
// the next write. A malformed escape is passed through as is: the form
// parser refuses it.
func (c *checker) decodeForm(p []byte) []byte {
	out := c.scratch[:0]
	for _, b := range p {
		switch {
		case c.pct > 0:
			v, ok := unhex(b)
			if !ok {
				out = append(out, b)
				c.pct = 0
				continue
			}
			c.hex = c.hex<<4 | v
			if c.pct++; c.pct == 3 {
				out = append(out, c.hex)
				c.pct = 0
			}
		case b == '%':
			c.pct, c.hex = 1, 0
		default:
			out = append(out, b)
		}
	}
	c.scratch = out
	return out
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}
