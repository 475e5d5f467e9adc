package events

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
)

// recorder is a stream's client side: what was written, and when.
type recorder struct {
	// mu guards writes.
	mu     sync.Mutex
	writes []stamped
}

type stamped struct {
	at   time.Time
	text string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, stamped{time.Now(), string(p)})
	return len(p), nil
}

func (r *recorder) Flush() error { return nil }

func (r *recorder) snapshot() []stamped {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stamped(nil), r.writes...)
}

// TestKeepaliveEvery15s: on an idle stream a keepalive comment goes out
// every 15 s (F3), and a wake-up writes the new entry at once, without
// disturbing the keepalive rhythm.
func TestKeepaliveEvery15s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys, err := NewStaticKeys("k1", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		var log []record
		var mu sync.Mutex
		s := &Service{cfg: Config{Keys: keys, Keepalive: DefaultKeepalive, Sweep: time.Hour, Now: time.Now}}
		s.source = func(_ context.Context, _ string, after int64, _ int) ([]record, error) {
			mu.Lock()
			defer mu.Unlock()
			var out []record
			for _, r := range log {
				if r.seq > after {
					out = append(out, r)
				}
			}
			return out, nil
		}
		sub := &subscriber{nodeID: "n1", wake: make(chan struct{}, 1), done: make(chan struct{})}
		rec := &recorder{}
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.pump(ctx, sub, 0, rec, nil) }()

		time.Sleep(20 * time.Second)
		mu.Lock()
		log = append(log, record{seq: 1, eventID: "e1", eventType: "policy_updated", payload: []byte(`{}`), domainID: "d", keyID: "k1"})
		mu.Unlock()
		sub.wake <- struct{}{}
		time.Sleep(26 * time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		var keepalives []time.Duration
		var frameAt time.Duration = -1
		for _, w := range rec.snapshot() {
			switch {
			case w.text == ": keepalive\n\n":
				keepalives = append(keepalives, w.at.Sub(start))
			case strings.HasPrefix(w.text, "id: 1\n"):
				frameAt = w.at.Sub(start)
			}
		}
		want := []time.Duration{15 * time.Second, 30 * time.Second, 45 * time.Second}
		if len(keepalives) != len(want) {
			t.Fatalf("keepalives at %v, want %v", keepalives, want)
		}
		for i := range want {
			if keepalives[i] != want[i] {
				t.Fatalf("keepalives at %v, want %v", keepalives, want)
			}
		}
		if frameAt != 20*time.Second {
			t.Errorf("entry written at %v, want 20s (on the wake-up)", frameAt)
		}
	})
}

// TestHoldUntilStateOrTimeout: a K6 hold keeps waiting entries back until
// the node has been served a state begun inside the window, or until the
// hold runs out; keepalives go on meanwhile.
func TestHoldUntilStateOrTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stateAt time.Duration // 0: no state request
		want    time.Duration
	}{{"state", 3 * time.Second, 3 * time.Second}, {"timeout", 0, StateHold}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				keys, err := NewStaticKeys("k1", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)))
				if err != nil {
					t.Fatal(err)
				}
				s := &Service{cfg: Config{Keys: keys, Keepalive: 2 * time.Second, Sweep: time.Hour, Now: time.Now}}
				s.hub = newHub(nil, "", nil)
				s.source = func(_ context.Context, _ string, after int64, _ int) ([]record, error) {
					if after >= 1 {
						return nil, nil
					}
					return []record{{seq: 1, eventID: "e1", eventType: "policy_updated", payload: []byte(`{}`), domainID: "d", keyID: "k1"}}, nil
				}
				sub := s.hub.subscribe("n1")
				rec := &recorder{}
				start := time.Now()
				h := &hold{until: start.Add(StateHold), stateAfter: start.Add(-StateHold)}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- s.pump(ctx, sub, 0, rec, h) }()
				if tc.stateAt > 0 {
					time.Sleep(tc.stateAt)
					s.stateServed("n1", start.Add(-time.Second))
				}
				time.Sleep(StateHold + time.Second - tc.stateAt)
				synctest.Wait()
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				at := time.Duration(-1)
				keepalives := 0
				for _, w := range rec.snapshot() {
					if strings.HasPrefix(w.text, "id: 1\n") {
						at = w.at.Sub(start)
					}
					if w.text == envelope.KeepaliveComment {
						keepalives++
					}
				}
				if at != tc.want {
					t.Errorf("entry written at %v, want %v", at, tc.want)
				}
				if keepalives < 4 {
					t.Errorf("%d keepalives during the hold", keepalives)
				}
			})
		})
	}
}
