// Package canonjson owns plexsphere's canonical JSON: the RFC 8785 JSON
// Canonicalization Scheme (JCS) bytes that the audit hash chain (api.md
// §3.11) and signed envelopes hash and sign.
//
// [Canonicalize] turns any I-JSON text into its JCS form: no whitespace,
// object members sorted by the UTF-16 code units of their names, numbers in
// ECMAScript form, strings with the minimal escaping of RFC 8785 §3.2.2.2.
// It rejects what JCS cannot represent unambiguously: invalid UTF-8, lone
// surrogate escapes, duplicate member names and numbers beyond the double
// range.
//
// Hot paths that hash fixed structures use the append functions
// ([AppendString], [AppendInt], [AppendFloat]) and the [Object] builder,
// which write canonical bytes directly, without reflection or maps, and
// panic if members are added out of canonical order.
package canonjson

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Canonicalize accepts.
const MaxDepth = 1000

// SyntaxError reports input that Canonicalize does not accept.
type SyntaxError struct {
	Offset int // byte offset into the input
	Msg    string
	kind   errKind
}

type errKind uint8

const (
	errSyntax    errKind = iota // not JSON
	errUTF8                     // invalid UTF-8 or a lone surrogate escape
	errDuplicate                // duplicate member name
	errRange                    // number beyond the double range
	errDepth                    // nesting deeper than MaxDepth
)

func (e *SyntaxError) Error() string {
	return "canonjson: offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Canonicalize parses the JSON text raw and returns its RFC 8785 canonical
// form. Numbers are read as IEEE-754 doubles, so integers beyond 2^53 lose
// precision exactly as JCS prescribes. Errors are of type *SyntaxError.
func Canonicalize(raw []byte) ([]byte, error) {
	d := decoder{data: raw}
	d.skipSpace()
	out, err := d.value(make([]byte, 0, len(raw)))
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.errorf(errSyntax, "unexpected %s after top-level value", d.describe())
	}
	return out, nil
}

// Marshal encodes v with encoding/json and returns the canonical form. It is
// a convenience for cold paths; it costs a full encode and re-parse.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonjson: %w", err)
	}
	return Canonicalize(raw)
}

type decoder struct {
	data  []byte
	pos   int
	depth int
}

func (d *decoder) errorf(kind errKind, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...), kind: kind}
}

func (d *decoder) describe() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	return fmt.Sprintf("character %q", d.data[d.pos])
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value appends the canonical form of the value at d.pos to dst.
func (d *decoder) value(dst []byte) ([]byte, error) {
	if d.pos >= len(d.data) {
		return nil, d.errorf(errSyntax, "unexpected end of input, want a value")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(dst)
	case c == '[':
		return d.array(dst)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return AppendString(dst, s), nil
	case c == '-' || '0' <= c && c <= '9':
		return d.number(dst)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
			d.pos += len(lit)
			return append(dst, lit...), nil
		}
	}
	return nil, d.errorf(errSyntax, "unexpected %s, want a value", d.describe())
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > MaxDepth {
		return d.errorf(errDepth, "nesting deeper than %d", MaxDepth)
	}
	return nil
}

func (d *decoder) array(dst []byte) ([]byte, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '['
	dst = append(dst, '[')
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return append(dst, ']'), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = append(dst, ',')
		}
		var err error
		d.skipSpace()
		if dst, err = d.value(dst); err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf(errSyntax, "unexpected end of input in array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return append(dst, ']'), nil
		default:
			return nil, d.errorf(errSyntax, "unexpected %s in array, want ',' or ']'", d.describe())
		}
	}
}

// member is one decoded object member; its canonical value is
// vals[start:end] of the object's value buffer.
type member struct {
	key        string
	off        int // offset of the name in the input, for errors
	start, end int
}

func (d *decoder) object(dst []byte) ([]byte, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '{'
	var (
		members []member
		vals    []byte
	)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return append(dst, '{', '}'), nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf(errSyntax, "unexpected %s in object, want a member name", d.describe())
		}
		m := member{off: d.pos}
		var err error
		if m.key, err = d.str(); err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf(errSyntax, "unexpected %s after member name, want ':'", d.describe())
		}
		d.pos++
		d.skipSpace()
		m.start = len(vals)
		if vals, err = d.value(vals); err != nil {
			return nil, err
		}
		m.end = len(vals)
		members = append(members, m)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf(errSyntax, "unexpected end of input in object")
		}
		if c := d.data[d.pos]; c == '}' {
			d.pos++
			break
		} else if c != ',' {
			return nil, d.errorf(errSyntax, "unexpected %s in object, want ',' or '}'", d.describe())
		}
		d.pos++
	}
	d.depth--
	return writeMembers(dst, members, vals)
}

// writeMembers sorts members into canonical order and appends the object.
func writeMembers(dst []byte, members []member, vals []byte) ([]byte, error) {
	slices.SortStableFunc(members, func(a, b member) int { return compareKeys(a.key, b.key) })
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				dup := max(m.off, members[i-1].off)
				return nil, &SyntaxError{Offset: dup, Msg: fmt.Sprintf("duplicate member name %q", m.key), kind: errDuplicate}
			}
			dst = append(dst, ',')
		}
		dst = AppendString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, vals[m.start:m.end]...)
	}
	return append(dst, '}'), nil
}

// str decodes the string literal at d.pos.
func (d *decoder) str() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: printable ASCII without escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			d.pos++
			return string(d.data[start : d.pos-1]), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c == '\\':
			var err error
			if buf, err = d.escape(buf); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", d.errorf(errSyntax, "control character %#02x in string", c)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.errorf(errUTF8, "invalid UTF-8 in string")
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return "", d.errorf(errSyntax, "unexpected end of input in string")
}

// escape decodes the escape sequence at d.pos and appends its UTF-8.
func (d *decoder) escape(buf []byte) ([]byte, error) {
	if d.pos+1 >= len(d.data) {
		d.pos = len(d.data)
		return nil, d.errorf(errSyntax, "unexpected end of input in string")
	}
	c := d.data[d.pos+1]
	if c != 'u' {
		d.pos += 2
		switch c {
		case '"', '\\', '/':
			return append(buf, c), nil
		case 'b':
			return append(buf, '\b'), nil
		case 'f':
			return append(buf, '\f'), nil
		case 'n':
			return append(buf, '\n'), nil
		case 'r':
			return append(buf, '\r'), nil
		case 't':
			return append(buf, '\t'), nil
		}
		d.pos -= 2
		return nil, d.errorf(errSyntax, "invalid escape %q", d.data[d.pos:d.pos+2])
	}
	esc := d.pos
	r, err := d.hex4()
	if err != nil {
		return nil, err
	}
	if utf16.IsSurrogate(r) {
		lo := rune(-1)
		if r < 0xDC00 && d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
			if lo, err = d.hex4(); err != nil {
				return nil, err
			}
		}
		if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
			d.pos = esc
			return nil, d.errorf(errUTF8, "lone surrogate escape %q", d.data[esc:esc+6])
		}
	}
	return utf8.AppendRune(buf, r), nil
}

// hex4 decodes the escape \uXXXX at d.pos.
func (d *decoder) hex4() (rune, error) {
	if len(d.data)-d.pos < 6 {
		return 0, d.errorf(errSyntax, "truncated \\u escape")
	}
	var r rune
	for _, c := range d.data[d.pos+2 : d.pos+6] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, d.errorf(errSyntax, "invalid \\u escape %q", d.data[d.pos:d.pos+6])
		}
		r = r<<4 | rune(v)
	}
	d.pos += 6
	return r, nil
}

// number appends the canonical form of the number at d.pos.
func (d *decoder) number(dst []byte) ([]byte, error) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return nil, d.errorf(errSyntax, "unexpected %s in number, want a digit", d.describe())
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.errorf(errSyntax, "unexpected %s after decimal point, want a digit", d.describe())
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.errorf(errSyntax, "unexpected %s in exponent, want a digit", d.describe())
		}
	}
	text := string(d.data[start:d.pos])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil { // only ErrRange is possible after the checks above
		d.pos = start
		return nil, d.errorf(errRange, "number %s is beyond the IEEE-754 double range", text)
	}
	return appendFloat(dst, f), nil
}
