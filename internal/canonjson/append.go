package canonjson

import (
	"cmp"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxExactInt is 2^53: every integer of at most this magnitude is exactly
// representable as an IEEE-754 double.
const maxExactInt = 1 << 53

// safeASCII[c] is true for ASCII bytes written as is inside a string.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JCS string literal: only '"', '\\' and control
// characters below U+0020 are escaped (\b \t \n \f \r, otherwise \u00xx with
// lowercase hex); everything else, including '<', '>', '&', U+2028 and
// U+2029, is written literally.
//
// Each byte of s that is not part of valid UTF-8 is written as U+FFFD, so the
// output is always valid; callers that must commit to arbitrary bytes should
// encode them (base64) first.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied as is
	for i := 0; i < len(s); {
		// Skip eight bytes at a time while none needs a closer look.
		if i+8 <= len(s) && !special(load64(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if !safeASCII[c] {
				dst = append(dst, s[start:i-1]...)
				dst = appendEscape(dst, c)
				start = i
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special reports whether any byte of w is below 0x20, '"', '\\' or not
// ASCII. It may not say which, but it never misses one.
func special(w uint64) bool {
	q := w ^ ('"' * lsb)  // '"' bytes become zero
	b := w ^ ('\\' * lsb) // '\\' bytes become zero
	ctl := (w - 0x20*lsb) & ^w
	return (ctl|(q-lsb)&^q|(b-lsb)&^b|w)&msb != 0
}

// load64 reads s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\t':
		return append(dst, '\\', 't')
	case '\n':
		return append(dst, '\\', 'n')
	case '\f':
		return append(dst, '\\', 'f')
	case '\r':
		return append(dst, '\\', 'r')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// AppendInt appends v as a JCS number. Integers of magnitude up to 2^53 are
// written exactly. JCS numbers are IEEE-754 doubles, so a larger v is written
// as the nearest double would be (AppendInt(1<<53+1) gives
// "9007199254740992"); values that must survive exactly belong in strings.
func AppendInt(dst []byte, v int64) []byte {
	if -maxExactInt <= v && v <= maxExactInt {
		return strconv.AppendInt(dst, v, 10)
	}
	return appendFloat(dst, float64(v))
}

// AppendFloat appends f as a JCS number, using the ECMAScript
// Number.prototype.toString rules of RFC 8785 §3.2.2.3: the shortest decimal
// that round-trips, plain notation for magnitudes in [1e-6, 1e21), exponent
// notation ("1e+21", "1.5e-7") otherwise, and "0" for both zeros. NaN and
// ±Inf are not JSON and return an error.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errors.New("canonjson: NaN and Infinity are not JSON numbers")
	}
	return appendFloat(dst, f), nil
}

// appendFloat is AppendFloat for a finite f.
func appendFloat(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also -0
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	if f < maxExactInt && f == math.Trunc(f) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	// Shortest round-trip digits in the form d[.ddd]e±xx.
	var scratch [32]byte
	e := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64)
	var digits [24]byte
	nd := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp, _ := strconv.Atoi(string(e[i+1:]))
	return appendES6(dst, digits[:nd], exp+1)
}

// appendES6 writes the decimal 0.d1d2…dk × 10^n as ECMAScript does
// (ECMA-262 Number::toString, steps for k digits and exponent n).
func appendES6(dst, d []byte, n int) []byte {
	k := len(d)
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d...)
		for range n - k {
			dst = append(dst, '0')
		}
		return dst
	case 0 < n && n <= 21:
		dst = append(dst, d[:n]...)
		dst = append(dst, '.')
		return append(dst, d[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[0])
	if k > 1 {
		dst = append(dst, '.')
		dst = append(dst, d[1:]...)
	}
	dst = append(dst, 'e')
	if n-1 >= 0 {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, int64(n-1), 10)
}

// compareKeys orders object member names as RFC 8785 §3.2.3 requires: by
// their UTF-16 code units. UTF-8 byte order equals code point order, which
// differs from UTF-16 order only between a supplementary character (a
// surrogate pair, 0xD800–0xDBFF first unit) and a BMP character at or above
// U+E000, so only the first differing rune needs a closer look.
func compareKeys(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	if a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf {
		return cmp.Compare(a[i], b[i])
	}
	j := i
	for j > 0 && !utf8.RuneStart(a[j]) {
		j--
	}
	ra, _ := utf8.DecodeRuneInString(a[j:])
	rb, _ := utf8.DecodeRuneInString(b[j:])
	if ra == rb { // only for invalid UTF-8, which decodes to U+FFFD
		return cmp.Compare(a[i], b[i])
	}
	if ua, ub := firstUTF16(ra), firstUTF16(rb); ua != ub {
		return cmp.Compare(ua, ub)
	}
	return cmp.Compare(ra, rb) // two supplementary runes with the same high surrogate
}

// firstUTF16 returns the first UTF-16 code unit of r.
func firstUTF16(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}
