package canonjson

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{4.5, "4.5"},
		{0.1, "0.1"},
		{0.30000000000000004, "0.30000000000000004"}, // 0.1+0.2 at run time
		{1.0000000000000002, "1.0000000000000002"},
		{333333333.33333329, "333333333.3333333"},
		{100, "100"},
		{1e20, "100000000000000000000"},
		{9.999999999999999e20, "999999999999999900000"},
		{123456789012345680000, "123456789012345680000"},
		{295147905179352825856, "295147905179352830000"}, // 2^68
		{1e21, "1e+21"},
		{1.5e21, "1.5e+21"},
		{1e23, "1e+23"},
		{1.2345678901234568e29, "1.2345678901234568e+29"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1e-6, "0.000001"},
		{0.000001, "0.000001"},
		{1.5e-6, "0.0000015"},
		{1.2e-5, "0.000012"},
		{1e-7, "1e-7"},
		{-1e-7, "-1e-7"},
		{1.5e-7, "1.5e-7"},
		{1e-27, "1e-27"},
		{5e-324, "5e-324"},
		{-5e-324, "-5e-324"},
		{1 << 53, "9007199254740992"},
		{1<<53 + 2, "9007199254740994"},
		{-(1 << 53), "-9007199254740992"},
		{0.5, "0.5"},
		{-123.456, "-123.456"},
	}
	for _, tt := range tests {
		got, err := AppendFloat([]byte("x"), tt.f)
		if err != nil {
			t.Errorf("AppendFloat(%v): %v", tt.f, err)
			continue
		}
		if string(got) != "x"+tt.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", tt.f, got[1:], tt.want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, err := AppendFloat([]byte("x"), f); err == nil || string(got) != "x" {
			t.Errorf("AppendFloat(%v) = %q, %v; want unchanged dst and an error", f, got, err)
		}
	}
}

var (
	plainNumber    = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$`)
	exponentNumber = regexp.MustCompile(`^-?[1-9](\.[0-9]*[1-9])?e[+-][1-9][0-9]*$`)
)

// TestAppendFloatProperty checks random doubles: the output round-trips to
// the same double and uses plain notation exactly for 1e-6 <= |f| < 1e21,
// with no redundant zeros.
func TestAppendFloatProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200000 {
		var f float64
		if i%2 == 0 {
			f = math.Float64frombits(r.Uint64())
		} else {
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		b, _ := AppendFloat(nil, f)
		s := string(b)
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != f {
			t.Fatalf("AppendFloat(%v) = %q, which parses as %v, %v", f, s, back, err)
		}
		a := math.Abs(f)
		if a == 0 || a >= 1e-6 && a < 1e21 {
			if !plainNumber.MatchString(s) {
				t.Fatalf("AppendFloat(%v) = %q, want plain notation", f, s)
			}
		} else if !exponentNumber.MatchString(s) {
			t.Fatalf("AppendFloat(%v) = %q, want exponent notation", f, s)
		}
		// Shortest: never more significant digits than strconv's shortest.
		g := strconv.FormatFloat(f, 'e', -1, 64)
		if sig := len(regexp.MustCompile(`[1-9]([0-9]*[1-9])?`).FindString(digitsOnly(s))); sig > len(digitsOnly(g[:len(g)-4])) {
			t.Fatalf("AppendFloat(%v) = %q has %d significant digits, more than %q", f, s, sig, g)
		}
	}
}

func digitsOnly(s string) string {
	var b []byte
	for i := 0; i < len(s) && s[i] != 'e'; i++ {
		if '0' <= s[i] && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func TestAppendInt(t *testing.T) {
	tests := []struct {
		v    int64
		want string
	}{
		{0, "0"},
		{-1, "-1"},
		{42, "42"},
		{1 << 53, "9007199254740992"},
		{-(1 << 53), "-9007199254740992"},
		{1<<53 + 1, "9007199254740992"}, // the nearest double, as JCS reads it
		{1<<53 + 3, "9007199254740996"},
		{math.MaxInt64, "9223372036854776000"},
		{math.MinInt64, "-9223372036854776000"},
	}
	for _, tt := range tests {
		if got := string(AppendInt(nil, tt.v)); got != tt.want {
			t.Errorf("AppendInt(%d) = %q, want %q", tt.v, got, tt.want)
		}
		// Whatever AppendInt writes, Canonicalize must leave alone.
		c, err := Canonicalize([]byte(tt.want))
		if err != nil || string(c) != tt.want {
			t.Errorf("Canonicalize(%q) = %q, %v", tt.want, c, err)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain ASCII", `"plain ASCII"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\t\n\f\r", `"\b\t\n\f\r"`},
		{"\x00\x01\x0b\x1f", `"\u0000\u0001\u000b\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"</script>&", `"</script>&"`},
		{"a/b", `"a/b"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"€ö😀\ufb33", "\"€ö😀\ufb33\""},
		{"a\xffb", "\"a\ufffdb\""},
		{"\xed\xa0\x80", "\"\ufffd\ufffd\ufffd\""}, // an encoded surrogate is not UTF-8
		{"é\xc3", "\"é\ufffd\""},
	}
	for _, tt := range tests {
		if got := string(AppendString([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("AppendString(%q) = %q, want %q", tt.in, got[1:], tt.want)
		}
	}
}

func TestCompareKeys(t *testing.T) {
	// Each key sorts strictly before the next (RFC 8785 §3.2.3).
	ordered := []string{
		"",
		"\r",
		"1",
		"10",
		"2",
		"A",
		"a",
		"\u0080",
		"\u00f6",
		"\u20ac",
		"\U0001F600", // 😀: UTF-16 D83D DE00
		"\U0001F601",
		"\U0010FFFF", // DBFF DFFF
		"\ue000",     // BMP private use: after all surrogate pairs in UTF-16
		"\ufb33",
		"\uffff",
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compareKeys(ordered[i], ordered[j]); got != want {
				t.Errorf("compareKeys(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	// Sharing a multi-byte prefix: "é" (C3 A9) vs "ö" (C3 B6).
	if compareKeys("xé", "xö") >= 0 || compareKeys("x\U0001F600a", "x\U0001F600") <= 0 {
		t.Error("compareKeys mishandles shared prefixes")
	}
}

// naiveString is a byte-at-a-time reference for AppendString.
func naiveString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s { // ranging over a string yields U+FFFD per invalid byte
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestAppendStringProperty(t *testing.T) {
	alphabet := []string{"a", "Z", " ", "~", "\x7f", "\"", "\\", "\x00", "\x1f", "\n", "é", "€", "😀", "\xff", "\xc3", "\xed\xa0\x80", "\u2028"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(40) {
			if r.IntN(3) == 0 {
				b.WriteString(alphabet[r.IntN(len(alphabet))])
			} else {
				b.WriteString("abcdefgh"[:r.IntN(8)])
			}
		}
		s := b.String()
		if got, want := string(AppendString(nil, s)), naiveString(s); got != want {
			t.Fatalf("AppendString(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestSpecial(t *testing.T) {
	// A word of safe bytes with one byte replaced, in every position.
	for pos := range 8 {
		for c := range 256 {
			w := uint64(0x6161616161616161) // "aaaaaaaa"
			w = w&^(0xff<<(8*pos)) | uint64(c)<<(8*pos)
			want := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
			if got := special(w); got != want {
				t.Fatalf("special(byte %#02x at %d) = %v, want %v", c, pos, got, want)
			}
		}
	}
}
