package events

import (
	"strconv"
	"testing"
)

// FuzzParseSeq: a Last-Event-ID is accepted only as decimal digits naming
// a non-negative int64, with the value strconv reads.
func FuzzParseSeq(f *testing.F) {
	for _, s := range []string{"0", "1", "42", "007", "-1", "+1", " 1", "1 ", "1.0", "0x1", "9223372036854775807", "9223372036854775808", "", "١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseSeq(s)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
		back, err := strconv.ParseInt(s, 10, 64)
		if err != nil || back != n {
			t.Fatalf("%q parsed to %d, strconv says %d, %v", s, n, back, err)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("%q accepted with a non-digit", s)
			}
		}
	})
}
