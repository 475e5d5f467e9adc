package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

func FuzzCanonicalize(f *testing.F) {
	for _, seed := range []string{
		`{"b":1,"a":[true,false,null]}`,
		`{"\u20ac":1,"\r":2,"\ufb33":3,"1":4,"\ud83d\ude00":5,"\u0080":6,"\u00f6":7}`,
		`[1e21,1E-7,-0,0.000001,1.0,123456789012345678901234567890,5e-324]`,
		`"\u0041\/\u00e9\ud83d\ude00\u2028\u001F\u007f"`,
		`{"a":1,"a":2}`,
		`"\ud800"`,
		"\"\xff\"",
		`1e400`,
		`[[[[{"z":{"y":{}}}]]]]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(in) {
				t.Fatalf("bad error %#v", err)
			}
			// Valid UTF-8 JSON is refused only for the reasons JCS gives.
			if json.Valid(in) && utf8.Valid(in) && se.kind == errSyntax {
				t.Fatalf("valid JSON %q refused: %v", in, err)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			t.Fatalf("encoding/json rejects accepted input %q: %v", in, err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("encoding/json rejects output %q: %v", out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("value changed: %q (%v) -> %q (%v)", in, a, out, b)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"", "abc", "a\"b\\c\x00\x1f\x7f", "é€😀\u2028", "\xff\xed\xa0\x80", "0123456789abcdef\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendString(%q) = %q, not a JSON string: %v", s, out, err)
		}
		if want := []rune(s); back != string(want) { // invalid bytes become U+FFFD
			t.Fatalf("AppendString(%q) decodes to %q, want %q", s, back, string(want))
		}
		if c, err := Canonicalize(out); err != nil || !bytes.Equal(c, out) {
			t.Fatalf("AppendString(%q) = %q is not canonical: %q, %v", s, out, c, err)
		}
	})
}
