package page

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
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
