package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// The stream owns one part of §7.4: every frame goes through the
// Verifier the agent injects, a rejected envelope never reaches the
// Handler, it is counted and logged with its rejection class, and the
// cursor still moves past it (L8). These tests feed signed frames through
// Consume; the keys, freshness window and replay cache are the real
// envelope.Verifier's, on a fixed clock.

// t0 is the verifier's clock in these tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recorder is a Handler that keeps what it was given, in order.
type recorder struct{ got []*envelope.Envelope }

func (r *recorder) HandleEvent(_ context.Context, e *envelope.Envelope) { r.got = append(r.got, e) }

func (r *recorder) ids() []string {
	var ids []string
	for _, e := range r.got {
		ids = append(ids, e.EventID)
	}
	return ids
}

// memCursor records every saved cursor.
type memCursor struct{ saved []string }

func (c *memCursor) SaveCursor(id string) error { c.saved = append(c.saved, id); return nil }

// signKit signs envelopes with cptest signers whose clock the test sets.
type signKit struct {
	t      *testing.T
	srv    *cptest.Server
	signAt time.Time
	seq    int
}

func newSignKit(t *testing.T) *signKit {
	k := &signKit{t: t, signAt: t0}
	k.srv = cptest.New(t, cptest.Options{Now: func() time.Time { return k.signAt }})
	return k
}

// sign signs a fresh event with sg at k.signAt.
func (k *signKit) sign(sg *envelope.Signer) envelope.Envelope {
	k.t.Helper()
	k.seq++
	ev := envelope.Event{Type: "peer_removed", ID: "evt" + strconv.Itoa(k.seq), Payload: json.RawMessage(`{"peer_id":"p` + strconv.Itoa(k.seq) + `"}`)}
	e, err := sg.Sign(context.Background(), ev)
	if err != nil {
		k.t.Fatal(err)
	}
	return e
}

// verifierFor trusts ks on the fixed clock t0.
func verifierFor(t *testing.T, ks envelope.KeySet, maxNonces int) *envelope.Verifier {
	t.Helper()
	v, err := envelope.NewVerifier(envelope.VerifierOptions{Keys: ks, Now: func() time.Time { return t0 }, MaxNonces: maxNonces})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sse frames envs as log entries 1, 2, … of one event stream.
func sse(t *testing.T, envs ...envelope.Envelope) io.Reader {
	t.Helper()
	var b bytes.Buffer
	for i := range envs {
		f, err := envelope.EnvelopeFrame(uint64(i+1), &envs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := envelope.WriteFrame(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return &b
}

// slogJSON logs everything as JSON lines into w.
func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rejections returns the reason of every "event rejected" log record.
func rejections(t *testing.T, logs *bytes.Buffer) []string {
	t.Helper()
	var reasons []string
	dec := json.NewDecoder(logs)
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); errors.Is(err, io.EOF) {
			return reasons
		} else if err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "event rejected" {
			r, _ := rec[logkey.Reason].(string)
			reasons = append(reasons, r)
		}
	}
}

// TestStreamDeliversOnlyVerifiedEnvelopes: each hostile envelope is
// followed by a valid one. The hostile one must be counted, logged with
// its class and never handed to the Handler; the stream survives it and
// delivers the valid one; the cursor ends past both.
//
// Issue 17: mutation: stream.go HandleFrame
// `env, err := s.opts.Verifier.VerifyJSON(f.Data)` → `env, err := envelope.Parse(f.Data)`
// (parse without verifying) → this test fails (every rejection case).
// Issue 17: mutation: stream.go HandleFrame `if err != nil {` →
// `if errors.Is(err, envelope.ErrMalformed) {` (only malformed input
// dropped) → this test fails.
// Issue 17: mutation: stream.go reason `{envelope.ErrStale, "stale"},` →
// `{envelope.ErrStale, "future"},` (or any row deleted or swapped) → this
// test fails.
// Issue 17: mutation: stream.go HandleFrame, the `return` after
// "event rejected" deleted (rejection falls through to acceptance) → this
// test fails.
// Issue 17: mutation: stream.go HandleFrame `s.advance(ctx, f.ID)` deleted,
// or moved below `s.count(true)` (cursor advances only on verified frames,
// so a rejected event is requested again, against L8) → this test fails.
func TestStreamDeliversOnlyVerifiedEnvelopes(t *testing.T) {
	k := newSignKit(t)
	cur, prev, other := k.srv.Signer(), k.srv.NewSigner(nil), k.srv.NewSigner(nil)
	rotating := envelope.KeySet{
		Current: envelope.Key{ID: "k2", Public: cur.Public()}, Previous: envelope.Key{ID: "k1", Public: prev.Public()},
		TransitionExpires: t0.Add(time.Hour),
	}
	expired := rotating
	expired.TransitionExpires = t0.Add(-time.Second)
	only := envelope.KeySet{Current: envelope.Key{ID: "k2", Public: cur.Public()}}
	at := func(d time.Duration, sg *envelope.Signer) envelope.Envelope {
		k.signAt = t0.Add(d)
		defer func() { k.signAt = t0 }()
		return k.sign(sg)
	}

	cases := []struct {
		name      string
		keys      envelope.KeySet
		maxNonces int
		// bad builds the frames to send before a valid one; accepted
		// says whether they verify (ids in order).
		bad      func() []envelope.Envelope
		accepted []bool
		reason   string
		// fullCache: the trailing valid envelope is refused too.
		fullCache bool
	}{
		{name: "tampered_payload", keys: only, reason: "bad_signature", accepted: []bool{false},
			bad: func() []envelope.Envelope {
				e := k.sign(cur)
				e.Payload = json.RawMessage(`{"peer_id":"victim"}`)
				return []envelope.Envelope{e}
			}},
		{name: "tampered_event_type", keys: only, reason: "bad_signature", accepted: []bool{false},
			bad: func() []envelope.Envelope {
				e := k.sign(cur)
				e.EventType = "peer_added"
				return []envelope.Envelope{e}
			}},
		{name: "wrong_signing_key", keys: only, reason: "bad_signature", accepted: []bool{false},
			bad: func() []envelope.Envelope { return []envelope.Envelope{k.sign(other)} }},
		{name: "unknown_key_id", keys: only, reason: "unknown_key", accepted: []bool{false},
			bad: func() []envelope.Envelope {
				e := k.sign(other)
				e.KeyID = "k9"
				return []envelope.Envelope{e}
			}},
		{name: "stale", keys: only, reason: "stale", accepted: []bool{false},
			bad: func() []envelope.Envelope {
				return []envelope.Envelope{at(-envelope.FreshnessWindow-time.Millisecond, cur)}
			}},
		{name: "future", keys: only, reason: "future", accepted: []bool{false},
			bad: func() []envelope.Envelope {
				return []envelope.Envelope{at(envelope.FreshnessWindow+time.Millisecond, cur)}
			}},
		{name: "window_edges_accepted", keys: only, accepted: []bool{true, true},
			bad: func() []envelope.Envelope {
				return []envelope.Envelope{at(-envelope.FreshnessWindow, cur), at(envelope.FreshnessWindow, cur)}
			}},
		{name: "replayed_nonce", keys: only, reason: "replayed_nonce", accepted: []bool{true, false},
			bad: func() []envelope.Envelope { e := k.sign(cur); return []envelope.Envelope{e, e} }},
		{name: "previous_key_in_transition", keys: rotating, accepted: []bool{true},
			bad: func() []envelope.Envelope { return []envelope.Envelope{k.sign(prev)} }},
		{name: "previous_key_past_deadline", keys: expired, reason: "key_expired", accepted: []bool{false},
			bad: func() []envelope.Envelope { return []envelope.Envelope{k.sign(prev)} }},
		{name: "replay_cache_full", keys: only, maxNonces: 2, reason: "replay_cache_full", accepted: []bool{true, true},
			fullCache: true, // the third (valid) envelope is refused: fail closed
			bad:       func() []envelope.Envelope { return []envelope.Envelope{k.sign(cur), k.sign(cur)} }},
		{name: "malformed_signature", keys: only, reason: "malformed", accepted: []bool{false},
			bad: func() []envelope.Envelope {
				e := k.sign(cur)
				e.Signature = "AAAA"
				return []envelope.Envelope{e}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			rec, cur2 := &recorder{}, &memCursor{}
			s, err := New(Options{
				Source: &fakeSource{}, Verifier: verifierFor(t, tc.keys, tc.maxNonces), Handler: rec, Cursor: cur2,
				Logger: slogJSON(&logs),
			})
			if err != nil {
				t.Fatal(err)
			}
			envs := append(tc.bad(), k.sign(cur))
			accepted := append(slices.Clone(tc.accepted), !tc.fullCache)
			if err := s.Consume(context.Background(), sse(t, envs...)); !errors.Is(err, io.EOF) {
				t.Fatalf("Consume: %v, want io.EOF (bad frames never end the stream)", err)
			}
			var want []string
			var wantReasons []string
			for i, ok := range accepted {
				if ok {
					want = append(want, envs[i].EventID)
				} else {
					wantReasons = append(wantReasons, tc.reason)
				}
			}
			if got := rec.ids(); !slices.Equal(got, want) {
				t.Errorf("handler got %v, want %v", got, want)
			}
			if a, r := s.Counts(); a != len(want) || r != len(wantReasons) {
				t.Errorf("counts accepted %d rejected %d, want %d and %d", a, r, len(want), len(wantReasons))
			}
			if got := rejections(t, &logs); !slices.Equal(got, wantReasons) {
				t.Errorf("rejection reasons %v, want %v", got, wantReasons)
			}
			last := strconv.Itoa(len(envs))
			if s.LastEventID() != last || len(cur2.saved) != len(envs) {
				t.Errorf("cursor %q saved %v, want %s after every frame", s.LastEventID(), cur2.saved, last)
			}
		})
	}
}

// rotatingHandler applies signing_key_rotated the way the agent does:
// it installs the new set on the stream's verifier before the next frame.
type rotatingHandler struct {
	recorder
	v    *envelope.Verifier
	next envelope.KeySet
}

func (h *rotatingHandler) HandleEvent(ctx context.Context, e *envelope.Envelope) {
	h.recorder.HandleEvent(ctx, e)
	if e.EventType == "signing_key_rotated" {
		if err := h.v.SetKeys(h.next); err != nil {
			panic(err)
		}
	}
}

// TestStreamFollowsKeyRotation: the stream verifies each frame with the
// injected verifier as it stands when the frame arrives, so a rotation
// handled from frame n governs frame n+1: the new key verifies at once,
// the old one until its deadline, then it is rejected as key_expired
// while the stream keeps delivering what the new key signs.
//
// Issue 17: mutation: stream.go HandleFrame
// `env, err := s.opts.Verifier.VerifyJSON(f.Data)` → `env, err := envelope.Parse(f.Data)`
// → this test fails.
func TestStreamFollowsKeyRotation(t *testing.T) {
	k := newSignKit(t)
	old, next := k.srv.Signer(), k.srv.NewSigner(nil)
	now := t0
	v, err := envelope.NewVerifier(envelope.VerifierOptions{
		Keys: envelope.KeySet{Current: envelope.Key{Public: old.Public()}}, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(time.Hour)
	h := &rotatingHandler{v: v, next: envelope.KeySet{
		Current: envelope.Key{Public: next.Public()}, Previous: envelope.Key{Public: old.Public()}, TransitionExpires: deadline,
	}}
	var logs bytes.Buffer
	s, err := New(Options{Source: &fakeSource{}, Verifier: v, Handler: h, Logger: slogJSON(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	early := k.sign(next) // the new key before the rotation arrived
	rot, err := old.Sign(context.Background(), envelope.Event{Type: "signing_key_rotated", ID: "rot1", Payload: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	first := []envelope.Envelope{early, rot, k.sign(next), k.sign(old)}
	if err := s.Consume(context.Background(), sse(t, first...)); !errors.Is(err, io.EOF) {
		t.Fatalf("Consume: %v", err)
	}
	want := []string{rot.EventID, first[2].EventID, first[3].EventID}
	if got := h.ids(); !slices.Equal(got, want) {
		t.Fatalf("before the deadline the handler got %v, want %v", got, want)
	}

	// Past the deadline, on a new connection.
	now = deadline.Add(time.Second)
	k.signAt = now
	second := []envelope.Envelope{k.sign(old), k.sign(next)}
	if err := s.Consume(context.Background(), sse(t, second...)); !errors.Is(err, io.EOF) {
		t.Fatalf("Consume: %v", err)
	}
	want = append(want, second[1].EventID)
	if got := h.ids(); !slices.Equal(got, want) {
		t.Errorf("after the deadline the handler got %v, want %v", got, want)
	}
	if got := rejections(t, &logs); !slices.Equal(got, []string{"bad_signature", "key_expired"}) {
		t.Errorf("rejection reasons %v, want [bad_signature key_expired]", got)
	}
}

// instantClock fires backoff timers at once, so Run's reconnects need no
// real time, and never fires one of an hour or more (the idle timeout).
type instantClock struct{}

func (instantClock) Now() time.Time { return t0 }
func (instantClock) After(d time.Duration) <-chan time.Time {
	if d >= time.Hour {
		return nil
	}
	c := make(chan time.Time, 1)
	c <- t0
	return c
}

// TestReplayAcrossReconnectIsRejected: Run keeps one verifier for the
// life of the stream, so an envelope replayed on a later connection (a
// hostile or confused server resending it) is refused as replayed_nonce
// and not handed over twice; the connection's valid events still are.
//
// Issue 17: mutation: stream.go HandleFrame
// `env, err := s.opts.Verifier.VerifyJSON(f.Data)` → `env, err := envelope.Parse(f.Data)`
// → this test fails.
func TestReplayAcrossReconnectIsRejected(t *testing.T) {
	k := newSignKit(t)
	cur := k.srv.Signer()
	a, b := k.sign(cur), k.sign(cur)
	src := &fakeSource{results: make(chan openResult, 3), lastIDs: make(chan string, 3)}
	src.results <- openResult{body: io.NopCloser(sse(t, a))}
	src.results <- openResult{body: io.NopCloser(sse(t, a, b))}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusUnauthorized}}
	var logs bytes.Buffer
	rec := &recorder{}
	s, err := New(Options{
		Source: src, Verifier: verifierFor(t, envelope.KeySet{Current: envelope.Key{Public: cur.Public()}}, 0),
		Handler: rec, Clock: instantClock{}, IdleTimeout: time.Hour, Logger: slogJSON(&logs), Rand: func() float64 { return 0.5 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Run: %v, want ErrRevoked", err)
	}
	if got, want := rec.ids(), []string{a.EventID, b.EventID}; !slices.Equal(got, want) {
		t.Errorf("handler got %v, want %v", got, want)
	}
	if got := rejections(t, &logs); !slices.Equal(got, []string{"replayed_nonce"}) {
		t.Errorf("rejection reasons %v, want [replayed_nonce]", got)
	}
}

// TestNewRequiresVerifier: a stream without a verifier is refused at
// construction, naming the field, rather than built to fail on (or pass)
// every frame.
//
// Issue 17: mutation: stream.go New `case opts.Verifier == nil:` →
// `case false:` → this test fails.
func TestNewRequiresVerifier(t *testing.T) {
	_, err := New(Options{Source: &fakeSource{}, Handler: &recorder{}})
	if err == nil || !strings.Contains(err.Error(), "Options.Verifier") {
		t.Fatalf("New without a verifier: %v, want an error naming Options.Verifier", err)
	}
}
