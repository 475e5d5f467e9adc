package envelope

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSign(t *testing.T) {
	k, pub := newKey(t, 1)
	at := time.Date(2026, 3, 1, 14, 0, 0, 123_456_789, time.FixedZone("", 2*3600))
	s := newSigner(t, k, "k1", func() time.Time { return at })
	e, err := s.Sign(context.Background(), Event{Type: "node_state_updated", ID: "evt_1",
		Payload: json.RawMessage(`{ "metadata" : {"a":"<x>"}, "data": [] }`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC); !e.IssuedAt.Equal(want) || e.IssuedAt.Location() != time.UTC {
		t.Errorf("issued_at %v, want %v in UTC", e.IssuedAt, want)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(e.Nonce) {
		t.Errorf("nonce %q is not 128 bits of base64url", e.Nonce)
	}
	if string(e.Payload) != `{"metadata":{"a":"\u003cx\u003e"},"data":[]}` {
		t.Errorf("payload not canonical: %s", e.Payload)
	}
	if e.KeyID != "k1" {
		t.Errorf("key_id %q", e.KeyID)
	}
	wire, _ := json.Marshal(&e)
	if !strings.Contains(string(wire), `"issued_at":"2026-03-01T12:00:00.123Z"`) {
		t.Errorf("wire issued_at not canonical: %s", wire)
	}
	// The wire form is canonical: its signed members are the canonical bytes.
	canon, _ := e.CanonicalBytes()
	if !bytes.HasPrefix(wire, canon[:len(canon)-1]) {
		t.Errorf("wire form is not canonical\nwire:  %s\ncanon: %s", wire, canon)
	}
	v := newVerifier(t, KeySet{Current: Key{Public: pub}}, func() time.Time { return at })
	if err := wireVerify(v, e); err != nil {
		t.Fatalf("own envelope does not verify: %v", err)
	}
	e2, _ := s.Sign(context.Background(), Event{Type: "node_state_updated", ID: "evt_1", Payload: json.RawMessage(`{}`)})
	if e2.Nonce == e.Nonce {
		t.Error("nonce reused across emissions")
	}
}

func TestSignRejectsWhatTheCPMustNotEmit(t *testing.T) {
	k, _ := newKey(t, 1)
	s := newSigner(t, k, "", nil)
	for name, ev := range map[string]Event{
		"upper-case type": {Type: "Peer_added", ID: "e", Payload: json.RawMessage(`{}`)},
		"empty type":      {Type: "", ID: "e", Payload: json.RawMessage(`{}`)},
		"id with slash":   {Type: "x", ID: "a/b", Payload: json.RawMessage(`{}`)},
		"nil payload":     {Type: "x", ID: "e"},
		"array payload":   {Type: "x", ID: "e", Payload: json.RawMessage(`[]`)},
		"null payload":    {Type: "x", ID: "e", Payload: json.RawMessage(`null`)},
		"invalid payload": {Type: "x", ID: "e", Payload: json.RawMessage(`{"a":`)},
	} {
		if _, err := s.Sign(context.Background(), ev); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if _, err := NewSigner(SignerOptions{}); err == nil {
		t.Error("signer without key")
	}
	if _, err := NewLocalKey(make([]byte, 32)); err == nil {
		t.Error("32-byte private key accepted")
	}
}

type brokenSigner struct {
	pub ed25519.PublicKey
	sig []byte
	err error
}

func (b brokenSigner) Public() ed25519.PublicKey { return b.pub }
func (b brokenSigner) Sign(context.Context, []byte) ([]byte, error) {
	return b.sig, b.err
}

func TestSignKeySignerFailures(t *testing.T) {
	_, pub := newKey(t, 1)
	ev := Event{Type: "x", ID: "e", Payload: json.RawMessage(`{}`)}
	boom := errors.New("transit down")
	s := newSigner(t, brokenSigner{pub: pub, err: boom}, "", nil)
	if _, err := s.Sign(context.Background(), ev); !errors.Is(err, boom) {
		t.Errorf("signer error lost: %v", err)
	}
	s = newSigner(t, brokenSigner{pub: pub, sig: make([]byte, 10)}, "", nil)
	if _, err := s.Sign(context.Background(), ev); err == nil {
		t.Error("short signature accepted")
	}
	if _, err := NewSigner(SignerOptions{Key: brokenSigner{}}); err == nil {
		t.Error("key signer without public key accepted")
	}
	k, _ := newKey(t, 1)
	empty, err := NewSigner(SignerOptions{Key: k, Rand: bytes.NewReader(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Sign(context.Background(), ev); err == nil {
		t.Error("signed without nonce entropy")
	}
}

func TestCheckSize(t *testing.T) {
	k, _ := newKey(t, 1)
	for _, keyID := range []string{"", "a-long-key-identifier"} {
		s := newSigner(t, k, keyID, nil)
		// Find the largest payload that fits, then check that a signed
		// envelope with it really fits and one byte more does not.
		fits := func(n int) bool {
			return s.CheckSize(Event{Type: "node_state_updated", ID: "evt_1", Payload: padPayload(n)}) == nil
		}
		lo, hi := 0, MaxLineBytes
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if fits(mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if err := s.CheckSize(Event{Type: "node_state_updated", ID: "evt_1", Payload: padPayload(lo + 1)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("one byte over: %v", err)
		}
		for _, at := range []time.Time{t0, t0.Add(999 * time.Millisecond), t0.Add(120 * time.Millisecond)} {
			s.now = func() time.Time { return at }
			e, err := s.Sign(context.Background(), Event{Type: "node_state_updated", ID: "evt_1", Payload: padPayload(lo)})
			if err != nil {
				t.Fatal(err)
			}
			f, _ := EnvelopeFrame(1<<63, &e)
			if err := WriteFrame(&bytes.Buffer{}, f); err != nil {
				t.Fatalf("largest accepted payload does not frame: %v", err)
			}
			if len(dataPrefix)+len(f.Data) > MaxLineBytes {
				t.Fatalf("data line of %d bytes", len(dataPrefix)+len(f.Data))
			}
		}
	}
}

func padPayload(n int) json.RawMessage {
	if n < 8 {
		n = 8
	}
	return json.RawMessage(`{"p":"` + strings.Repeat("x", n-8) + `"}`)
}
