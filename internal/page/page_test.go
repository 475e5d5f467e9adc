package page

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func newCodec(t *testing.T) *Codec {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	c, err := NewCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type pos struct {
	Slug string `json:"slug"`
	ID   string `json:"id"`
}

func TestCursorRoundTripAndBinding(t *testing.T) {
	c := newCodec(t)
	b := Binding{Caller: "alice", Scope: "projects.list?domain_id=x"}
	cur, err := c.Encode(b, pos{"web", "0190"})
	if err != nil {
		t.Fatal(err)
	}
	var got pos
	if err := c.Decode(cur, b, &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got != (pos{"web", "0190"}) {
		t.Fatalf("position = %+v", got)
	}
	if err := c.Decode(cur, Binding{Caller: "bob", Scope: b.Scope}, &got); !errors.Is(err, ErrBinding) {
		t.Fatalf("other caller: err = %v, want ErrBinding", err)
	}
	if err := c.Decode(cur, Binding{Caller: "alice", Scope: "projects.list?domain_id=y"}, &got); !errors.Is(err, ErrInvalid) {
		t.Fatalf("other filter: err = %v, want ErrInvalid", err)
	}
	if err := newCodec(t).Decode(cur, b, &got); !errors.Is(err, ErrInvalid) {
		t.Fatalf("other key: err = %v, want ErrInvalid", err)
	}
}

func TestCursorTamperEveryByte(t *testing.T) {
	c := newCodec(t)
	b := Binding{Caller: "a", Scope: "s"}
	cur, _ := c.Encode(b, 42)
	for i := range cur {
		alt := byte('A')
		if cur[i] == 'A' {
			alt = 'B'
		}
		tampered := cur[:i] + string(alt) + cur[i+1:]
		var n int
		if err := c.Decode(tampered, b, &n); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	for _, junk := range []string{"", "!!!", strings.Repeat("A", 5000), "AAAA"} {
		var n int
		if err := c.Decode(junk, b, &n); !errors.Is(err, ErrInvalid) {
			t.Fatalf("junk %q: err = %v", junk, err)
		}
	}
}

func TestPageLimitClamps(t *testing.T) {
	for in, want := range map[int64]int{1: 1, 200: 200, 500: 200, 0: 1, -3: 1, 7: 7} {
		if got := (Params{Limit: in}).PageLimit(); got != want {
			t.Errorf("PageLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestCursorRevealsNothing: Issue 7 row 7: lists key their next page on the
// last row fetched, which may be a row the caller cannot see, and cursors
// were readable base64 JSON, so next_cursor leaked other Domains' slugs and
// hidden nodes' ids. A cursor's bytes must show nothing of its position or
// bindings, and two cursors for the same position must differ.
func TestCursorRevealsNothing(t *testing.T) {
	c := newCodec(t)
	b := Binding{Caller: "user:alice", Scope: "projects.list?domain_id=secret-domain"}
	p := pos{"other-domains-slug", "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"}
	cur, err := c.Encode(b, p)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{p.Slug, p.ID, "other", "0190", "slug", b.Caller, "secret-domain", `"p"`} {
		if bytes.Contains(raw, []byte(secret)) || strings.Contains(cur, secret) {
			t.Errorf("cursor %q reveals %q", cur, secret)
		}
	}
	again, _ := c.Encode(b, p)
	if again == cur {
		t.Error("two cursors for the same position are equal: the position is guessable by comparison")
	}
	var got pos
	if err := c.Decode(again, b, &got); err != nil || got != p {
		t.Fatalf("decode: %+v, %v", got, err)
	}
}

// FuzzDecode feeds arbitrary cursors to Decode (issue 7: a fuzz target per
// untrusted decoder). It must never panic, answer only ErrInvalid or
// ErrBinding for what it refuses, and accept nothing it did not mint.
func FuzzDecode(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	c, err := NewCodec(key)
	if err != nil {
		f.Fatal(err)
	}
	b := Binding{Caller: "user:a", Scope: "domains.list"}
	valid, _ := c.Encode(b, pos{"web", "0190"})
	f.Add(valid)
	f.Add("")
	f.Add("AAAA")
	f.Add(valid[:len(valid)-1])
	f.Add(strings.Repeat("A", 3000))
	f.Add("eyJ2IjoxLCJjIjoiIiwicyI6IiIsInAiOiJ3ZWIifQ") // a readable version-1 style body
	f.Fuzz(func(t *testing.T, cursor string) {
		var got pos
		err := c.Decode(cursor, b, &got)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrBinding) {
				t.Fatalf("Decode(%q) = %v, want ErrInvalid or ErrBinding", cursor, err)
			}
			return
		}
		// Each fuzz process mints its own seed (random nonce), so compare
		// what the cursor carries: only the minted position opens.
		if got != (pos{"web", "0190"}) {
			t.Fatalf("Decode accepted a cursor it did not mint: %q → %+v", cursor, got)
		}
	})
}

// FuzzRoundTrip: any position and binding survive Encode and Decode, and
// the cursor never contains the position's text.
func FuzzRoundTrip(f *testing.F) {
	c, err := NewCodec(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("alice", "projects.list", "web-frontend", "0190aaaa")
	f.Fuzz(func(t *testing.T, caller, scope, slug, id string) {
		b := Binding{Caller: caller, Scope: scope}
		cur, err := c.Encode(b, pos{slug, id})
		if err != nil {
			t.Skip() // position not JSON-encodable (cannot happen for strings)
		}
		var got pos
		if err := c.Decode(cur, b, &got); err != nil {
			if len(cur) > maxCursorLen {
				return // oversized positions are refused by design
			}
			t.Fatalf("round trip: %v", err)
		}
		if !utf8.ValidString(slug) || !utf8.ValidString(id) {
			return // JSON replaces invalid UTF-8
		}
		if got != (pos{slug, id}) {
			t.Fatalf("round trip: %+v, want %q %q", got, slug, id)
		}
	})
}
