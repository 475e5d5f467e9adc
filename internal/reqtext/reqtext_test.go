package reqtext

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// Issue 7 row 6: NUL and invalid UTF-8 are refused in every encoding a
// request can carry them in; everything else passes.
func TestCheck(t *testing.T) {
	cases := []struct {
		kind Kind
		body string
		ok   bool
	}{
		{JSON, `{"name":"plain ü €"}`, true},
		{JSON, `{"name":"a\u0000b"}`, false},
		{JSON, `{"a\u0000":"b"}`, false},
		{JSON, `{"name":"a\\u0000b"}`, true}, // an escaped backslash, then text
		{JSON, `{"name":"a\\\u0000b"}`, false},
		{JSON, `{"name":"\u00001"}`, false},
		{JSON, `{"name":"\u0001"}`, true},
		{JSON, `{"name":"\u1000"}`, true},
		{JSON, "{\"name\":\"a\x00b\"}", false},
		{JSON, "{\"name\":\"\xff\"}", false},
		{JSON, "{\"name\":\"\xed\xa0\x80\"}", false}, // a surrogate
		{JSON, "{\"name\":\"\xe2\x82\"}", false},
		{JSON, "\"\xe2\x82", false}, // cut inside a sequence at the end
		{Form, "client_id=a&client_secret=b%20c+d", true},
		{Form, "client_id=a%00b", false},
		{Form, "client_id=%e2%82%ac", true},
		{Form, "client_id=%e2%82", false},
		{Form, "client_id=%ff", false},
		{Form, "client_id=%zz", true}, // malformed: the form parser refuses it
		{Form, "a=%E2&b=%82%AC", false},
	}
	for _, c := range cases {
		err := Check(c.kind, []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("Check(%d, %q) = %v, want ok=%v", c.kind, c.body, err, c.ok)
		}
		// Streaming one byte at a time gives the same answer.
		_, err = io.ReadAll(NewReader(iotest.OneByteReader(strings.NewReader(c.body)), c.kind))
		if (err == nil) != c.ok {
			t.Errorf("reader(%d, %q) = %v, want ok=%v", c.kind, c.body, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("reader(%q) error %v is not ErrInvalid", c.body, err)
		}
	}
}

// Issue 7 row 6: path and query parameters.
func TestString(t *testing.T) {
	for s, ok := range map[string]bool{"abc": true, "": true, "ü": true, "a\x00": false, "\xff": false} {
		if (String(s) == nil) != ok {
			t.Errorf("String(%q) ok=%v", s, !ok)
		}
	}
}

// FuzzCheck: streaming at any split agrees with the whole-body check, and
// for valid JSON the check agrees with what encoding/json decodes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":"\u0000"}`, `["\\u0000"]`, "\"\xe2\x82\xac\"", "a=%00", "x=%e2%82%ac"} {
		f.Add([]byte(s), uint(1), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, split uint, form bool) {
		kind := JSON
		if form {
			kind = Form
		}
		whole := Check(kind, body)
		at := int(split % uint(len(body)+1))
		c := checker{kind: kind}
		streamed := c.write(body[:at]) && c.write(body[at:]) && c.end()
		if streamed != (whole == nil) {
			t.Fatalf("split at %d: streamed ok=%v, whole %v", at, streamed, whole)
		}
		if form {
			if v, err := url.ParseQuery(string(body)); err == nil && whole == nil {
				for k, vs := range v {
					for _, s := range append(vs, k) {
						if String(s) != nil {
							t.Fatalf("form value %q passed", s)
						}
					}
				}
			}
			return
		}
		if !json.Valid(body) {
			return
		}
		if want := utf8.Valid(body) && !decodedNUL(body); want != (whole == nil) {
			t.Fatalf("%q: Check %v, decoded clean %v", body, whole, want)
		}
	})
}

func decodedNUL(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return true
		}
	}
}
