package envelope

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newKey(t testing.TB, seed byte) (*LocalKey, ed25519.PublicKey) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	k, err := NewLocalKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k, k.Public()
}

func newSigner(t testing.TB, k KeySigner, keyID string, now func() time.Time) *Signer {
	t.Helper()
	s, err := NewSigner(SignerOptions{Key: k, KeyID: keyID, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signAt(t testing.TB, k KeySigner, keyID string, at time.Time) Envelope {
	t.Helper()
	e, err := newSigner(t, k, keyID, func() time.Time { return at }).Sign(context.Background(), Event{
		Type: "peer_removed", ID: "evt_1", Payload: json.RawMessage(`{"peer_id":"n2"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newVerifier(t testing.TB, ks KeySet, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierOptions{Keys: ks, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wireVerify round-trips e through JSON, as an agent receives it.
func wireVerify(v *Verifier, e Envelope) error {
	b, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	_, err = v.VerifyJSON(b)
	return err
}

func TestVerifyRejections(t *testing.T) {
	cur, curPub := newKey(t, 1)
	prev, prevPub := newKey(t, 2)
	stranger, _ := newKey(t, 3)
	deadline := t0.Add(time.Hour)
	ks := KeySet{
		Current:           Key{ID: "k-cur", Public: curPub},
		Previous:          Key{ID: "k-prev", Public: prevPub},
		TransitionExpires: deadline,
	}
	good := signAt(t, cur, "", t0)

	cases := []struct {
		name string
		env  Envelope
		now  time.Time
		want error
	}{
		{"tampered payload", with(good, func(e *Envelope) { e.Payload = json.RawMessage(`{"peer_id":"n3"}`) }), t0, ErrBadSignature},
		{"tampered payload whitespace-equivalent stays valid", with(good, func(e *Envelope) { e.Payload = json.RawMessage(`{ "peer_id" : "n2" }`) }), t0, nil},
		{"tampered event_type", with(good, func(e *Envelope) { e.EventType = "peer_added" }), t0, ErrBadSignature},
		{"tampered event_id", with(good, func(e *Envelope) { e.EventID = "evt_2" }), t0, ErrBadSignature},
		{"tampered issued_at", with(good, func(e *Envelope) { e.IssuedAt = e.IssuedAt.Add(time.Millisecond) }), t0, ErrBadSignature},
		{"tampered nonce", with(good, func(e *Envelope) { e.Nonce = "AAAAAAAAAAAAAAAAAAAAAA" }), t0, ErrBadSignature},
		{"tampered signature", with(good, func(e *Envelope) { e.Signature = flipB64(e.Signature) }), t0, ErrBadSignature},
		{"unsigned key_id may change", with(good, func(e *Envelope) { e.KeyID = "k-cur" }), t0, nil},
		{"stale by 1ms over 5 min", good, t0.Add(FreshnessWindow + time.Millisecond), ErrStale},
		{"exactly 5 min old is fresh", good, t0.Add(FreshnessWindow), nil},
		{"future by 1ms over 5 min", good, t0.Add(-FreshnessWindow - time.Millisecond), ErrFuture},
		{"exactly 5 min ahead is fresh", good, t0.Add(-FreshnessWindow), nil},
		{"year 9999 is future", with(good, func(e *Envelope) { e.IssuedAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }), t0, ErrFuture},
		{"year 1 is stale", with(good, func(e *Envelope) { e.IssuedAt = time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC) }), t0, ErrStale},
		{"wrong key", signAt(t, stranger, "", t0), t0, ErrBadSignature},
		{"unknown key id", signAt(t, stranger, "k-other", t0), t0, ErrUnknownKey},
		{"false key id on a valid envelope", signAt(t, cur, "k-other", t0), t0, nil},
		{"previous key before deadline", signAt(t, prev, "", deadline.Add(-time.Minute)), deadline.Add(-time.Nanosecond), nil},
		{"previous key hinted before deadline", signAt(t, prev, "k-prev", deadline.Add(-time.Minute)), deadline.Add(-time.Minute), nil},
		{"previous key at deadline", signAt(t, prev, "", deadline.Add(-time.Minute)), deadline, ErrKeyExpired},
		{"previous key after deadline", signAt(t, prev, "k-prev", deadline.Add(time.Minute)), deadline.Add(time.Minute), ErrKeyExpired},
		{"empty event_type", with(good, func(e *Envelope) { e.EventType = "" }), t0, ErrMalformed},
		{"empty event_id", with(good, func(e *Envelope) { e.EventID = "" }), t0, ErrMalformed},
		{"empty nonce", with(good, func(e *Envelope) { e.Nonce = "" }), t0, ErrMalformed},
		{"empty signature", with(good, func(e *Envelope) { e.Signature = "" }), t0, ErrMalformed},
		{"zero issued_at", with(good, func(e *Envelope) { e.IssuedAt = time.Time{} }), t0, ErrMalformed},
		{"signature not base64", with(good, func(e *Envelope) { e.Signature = "!!" + e.Signature[2:] }), t0, ErrMalformed},
		{"signature base64url", with(good, func(e *Envelope) { e.Signature = strings.NewReplacer("+", "-", "/", "_").Replace(e.Signature) + "-" }), t0, ErrMalformed},
		{"signature 63 bytes", with(good, func(e *Envelope) { e.Signature = base64.StdEncoding.EncodeToString(make([]byte, 63)) }), t0, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, ks, func() time.Time { return c.now })
			err := wireVerify(v, c.env)
			if c.want == nil && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func with(e Envelope, f func(*Envelope)) Envelope {
	e.Payload = bytes.Clone(e.Payload)
	f(&e)
	return e
}

// flipB64 changes the first signature character to another valid one.
func flipB64(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestVerifyReplay(t *testing.T) {
	cur, curPub := newKey(t, 1)
	clk := &clock{t: t0}
	v := newVerifier(t, KeySet{Current: Key{Public: curPub}}, clk.Now)
	e := signAt(t, cur, "", t0)
	if err := wireVerify(v, e); err != nil {
		t.Fatal(err)
	}
	if err := wireVerify(v, e); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	// Same nonce, fresh everything else, valid signature: still a replay.
	e2 := with(e, func(x *Envelope) { x.EventID = "evt_other"; x.IssuedAt = t0.Add(time.Second) })
	if err := sign(context.Background(), cur, &e2); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(2 * time.Second))
	if err := wireVerify(v, e2); !errors.Is(err, ErrReplay) {
		t.Fatalf("re-signed replay: %v", err)
	}
	// A rejected signature must not consume the nonce (step 7 after 6).
	e3 := signAt(t, cur, "", t0)
	bad := with(e3, func(x *Envelope) { x.Signature = flipB64(x.Signature) })
	if err := wireVerify(v, bad); !errors.Is(err, ErrBadSignature) {
		t.Fatal(err)
	}
	if err := wireVerify(v, e3); err != nil {
		t.Fatalf("valid envelope after a forged one with its nonce: %v", err)
	}
	// After the window the nonce is forgotten, and freshness rejects.
	clk.Set(t0.Add(FreshnessWindow + time.Millisecond))
	if err := wireVerify(v, e); !errors.Is(err, ErrStale) {
		t.Fatalf("after window: %v", err)
	}
	// The next acceptance prunes e and e3: only the new nonce is held.
	if err := wireVerify(v, signAt(t, cur, "", clk.Now())); err != nil {
		t.Fatal(err)
	}
	if n := v.replay.len(); n != 1 {
		t.Fatalf("replay cache holds %d nonces after the window, want 1", n)
	}
}

func TestReplayCacheBoundedAndExpiring(t *testing.T) {
	c := newReplayCache(3)
	for i, n := range []string{"a", "b", "c"} {
		if err := c.add(n, t0.Add(time.Duration(i)*time.Second), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.add("d", t0, t0); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("over the bound: %v", err)
	}
	if err := c.add("a", t0, t0); !errors.Is(err, ErrReplay) {
		t.Fatalf("duplicate: %v", err)
	}
	// "a" expires strictly after t0+5m; then there is room again.
	if err := c.add("d", t0, t0.Add(FreshnessWindow)); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("at t0+5m a is still live: %v", err)
	}
	if err := c.add("d", t0.Add(FreshnessWindow), t0.Add(FreshnessWindow+time.Nanosecond)); err != nil {
		t.Fatalf("after a expired: %v", err)
	}
	if err := c.add("a", t0.Add(FreshnessWindow), t0.Add(FreshnessWindow+time.Nanosecond)); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("a forgotten, cache full again: %v", err)
	}
	if c.len() != 3 {
		t.Fatalf("len %d", c.len())
	}
	// Everything expires eventually; memory returns to zero.
	_ = c.add("z", t0.Add(time.Hour), t0.Add(time.Hour))
	if c.len() != 1 || len(c.byExpiry) != 1 {
		t.Fatalf("after expiry: %d entries, heap %d", c.len(), len(c.byExpiry))
	}
}

func TestVerifierConcurrentSingleAcceptance(t *testing.T) {
	cur, curPub := newKey(t, 1)
	v := newVerifier(t, KeySet{Current: Key{Public: curPub}}, func() time.Time { return t0 })
	e := signAt(t, cur, "", t0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wireVerify(v, e); err == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("%d concurrent deliveries accepted, want 1", accepted)
	}
}

func TestKeySets(t *testing.T) {
	_, pub := newKey(t, 1)
	if _, err := NewVerifier(VerifierOptions{}); err == nil {
		t.Error("verifier without a current key")
	}
	if _, err := NewVerifier(VerifierOptions{Keys: KeySet{Current: Key{Public: pub}}, MaxNonces: -1}); err == nil {
		t.Error("negative MaxNonces accepted")
	}
	v := newVerifier(t, KeySet{Current: Key{Public: pub}}, nil)
	for _, bad := range []KeySet{
		{Current: Key{Public: pub[:31]}},
		{Current: Key{Public: pub}, Previous: Key{Public: pub}},
		{Current: Key{Public: pub}, Previous: Key{Public: pub[:5]}, TransitionExpires: t0},
	} {
		if err := v.SetKeys(bad); err == nil {
			t.Errorf("SetKeys(%v) accepted", bad)
		}
	}
	if !bytes.Equal(v.Keys().Current.Public, pub) {
		t.Error("a refused key set replaced the keys")
	}

	b64 := base64.StdEncoding.EncodeToString(pub)
	ks, err := KeySetFromWire(signingKeys(b64, b64, t0))
	if err != nil || !bytes.Equal(ks.Previous.Public, pub) || !ks.TransitionExpires.Equal(t0) {
		t.Fatalf("KeySetFromWire: %v %v", ks, err)
	}
	for _, bad := range []struct{ cur, prev string }{{"", ""}, {"abc", ""}, {b64, "abc"}} {
		if _, err := KeySetFromWire(signingKeys(bad.cur, bad.prev, t0)); err == nil {
			t.Errorf("KeySetFromWire(%q, %q) accepted", bad.cur, bad.prev)
		}
	}
	if _, err := KeySetFromWire(signingKeys(b64, b64, time.Time{})); err == nil {
		t.Error("previous without deadline accepted")
	}
}

// TestReplayCacheMemoryBound fills a default cache: the next nonce is
// refused and the heap held stays within a fixed budget.
func TestReplayCacheMemoryBound(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newReplayCache(DefaultMaxNonces)
	long := strings.Repeat("n", 256) // nonce length does not matter
	for i := range DefaultMaxNonces {
		if err := c.add(long+strconv.Itoa(i), t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.add("one-more", t0, t0); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("over the bound: %v", err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 6<<20 {
		t.Fatalf("a full cache holds %d bytes, budget 6 MiB", grew)
	}
	runtime.KeepAlive(c)
}

// TestInvalidPayloadNeverVerifies: whitespace removal would turn the
// invalid payload {"a":tr ue} into the signed {"a":true}; §7.2 says a
// payload that is not JSON fails verification.
func TestInvalidPayloadNeverVerifies(t *testing.T) {
	k, pub := newKey(t, 1)
	e, err := newSigner(t, k, "", func() time.Time { return t0 }).Sign(context.Background(),
		Event{Type: "x", ID: "e", Payload: json.RawMessage(`{"a":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	e.Payload = json.RawMessage(`{"a":tr ue}`)
	v := newVerifier(t, KeySet{Current: Key{Public: pub}}, func() time.Time { return t0 })
	if _, err := v.Verify(&e); !errors.Is(err, ErrMalformed) {
		t.Fatalf("invalid payload: %v, want ErrMalformed", err)
	}
	wire := []byte(`{"event_type":"x","event_id":"e","issued_at":"2026-03-01T12:00:00Z","nonce":"` + e.Nonce +
		`","payload":{"a":tr ue},"signature":"` + e.Signature + `"}`)
	if _, err := v.VerifyJSON(wire); !errors.Is(err, ErrMalformed) {
		t.Fatalf("invalid payload on the wire: %v, want ErrMalformed", err)
	}
	e.Payload = json.RawMessage(`{"a": true}`)
	if _, err := v.Verify(&e); err != nil {
		t.Fatalf("valid payload: %v", err)
	}
}
