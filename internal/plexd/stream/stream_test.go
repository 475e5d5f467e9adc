package stream

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
)

func TestBackoffBounds(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		rf := func() float64 { return r }
		prev := time.Duration(0)
		for n := range 12 {
			d := Backoff(n, time.Second, time.Minute, rf)
			base := min(time.Second<<n, time.Minute)
			if d < base*3/4 || d > base*5/4 {
				t.Errorf("attempt %d jitter %v: %v outside ±25%% of %v", n, r, d, base)
			}
			if r == 0.5 && d < prev {
				t.Errorf("attempt %d: backoff shrank", n)
			}
			prev = d
		}
	}
}

// openResult is one programmed answer of fakeSource.
type openResult struct {
	body io.ReadCloser
	err  error
}

type fakeSource struct {
	results chan openResult
	opens   atomic.Int32
	lastIDs chan string
}

func (f *fakeSource) OpenEvents(ctx context.Context, last string) (io.ReadCloser, error) {
	f.opens.Add(1)
	select {
	case f.lastIDs <- last:
	default:
	}
	select {
	case r := <-f.results:
		return r.body, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type nopHandler struct{}

func (nopHandler) HandleEvent(context.Context, *envelope.Envelope) {}

func verifier(t *testing.T) *envelope.Verifier {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := envelope.NewVerifier(envelope.VerifierOptions{Keys: envelope.KeySet{Current: envelope.Key{Public: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newStream(t *testing.T, src *fakeSource, mod func(*Options)) *Stream {
	o := Options{Source: src, Verifier: verifier(t), Handler: nopHandler{}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUnauthorizedStopsTheStream(t *testing.T) {
	src := &fakeSource{results: make(chan openResult, 4), lastIDs: make(chan string, 16)}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusNotFound}}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusForbidden}}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusUnauthorized}}
	s := newStream(t, src, nil)
	err := s.Run(context.Background())
	if !errors.Is(err, ErrRevoked) {
		t.Fatalf("Run: %v, want ErrRevoked", err)
	}
	if src.opens.Load() != 3 {
		t.Errorf("%d opens: 404 and 403 must be retried, 401 must stop", src.opens.Load())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	src := &fakeSource{results: make(chan openResult, 4), lastIDs: make(chan string, 16)}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusServiceUnavailable, RetryAfter: 300 * time.Millisecond}}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusUnauthorized}}
	clk := &stepClock{now: time.Unix(0, 0)}
	s := newStream(t, src, func(o *Options) { o.Clock = clk })
	if err := s.Run(context.Background()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Run: %v", err)
	}
	if len(clk.waits) != 1 || clk.waits[0] != 300*time.Millisecond {
		t.Errorf("waited %v before reconnecting, want Retry-After's 300ms", clk.waits)
	}
}

// stepClock is a virtual clock for Run's single goroutine: After(d)
// moves the time forward by d and fires at once, so a test sees exactly
// the times Run would see, without waiting for them.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// TestPollingFallback: after PollAfter of continuous failure the stream
// polls state every PollInterval while it keeps retrying. It runs on a
// virtual clock (reconnects every 10 ms of virtual time, no jitter), so
// the poll times are exact: never before PollAfter, then one per
// PollInterval, and the stream keeps reconnecting throughout.
func TestPollingFallback(t *testing.T) {
	const failures = 12
	src := &fakeSource{results: make(chan openResult, failures+1), lastIDs: make(chan string, failures+1)}
	for range failures {
		src.results <- openResult{err: errors.New("connection refused")}
	}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusUnauthorized}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &stepClock{now: t0}
	var polls []time.Duration
	var states []State
	s := newStream(t, src, func(o *Options) {
		o.Clock, o.Rand = clk, func() float64 { return 0.5 } // 0.5: no jitter
		o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, 10*time.Millisecond
		o.PollAfter, o.PollInterval = 50*time.Millisecond, 20*time.Millisecond
		o.Poll = func(context.Context) error { polls = append(polls, clk.Now().Sub(t0)); return nil }
		o.OnState = func(st State) {
			if st == StateBackoff || st == StatePolling {
				states = append(states, st)
			}
		}
	})
	if err := s.Run(context.Background()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Run: %v, want ErrRevoked after the programmed failures", err)
	}
	// Attempt k fails at k·10 ms; polling starts at 50 ms and repeats
	// every 20 ms: at 50, 70, 90 and 110 ms.
	ms := time.Millisecond
	if want := []time.Duration{50 * ms, 70 * ms, 90 * ms, 110 * ms}; !slices.Equal(polls, want) {
		t.Errorf("polled at %v, want %v", polls, want)
	}
	var wantStates []State
	for k := range failures {
		if k < 5 {
			wantStates = append(wantStates, StateBackoff)
		} else {
			wantStates = append(wantStates, StatePolling)
		}
	}
	if !slices.Equal(states, wantStates) {
		t.Errorf("states %v, want %v", states, wantStates)
	}
	if n := src.opens.Load(); n != failures+1 {
		t.Errorf("%d opens, want %d: polling must not stop the reconnects", n, failures+1)
	}
	for i, w := range clk.waits {
		if w != 10*ms {
			t.Errorf("wait %d was %v, want the 10 ms backoff", i, w)
		}
	}
}

// blockingBody never yields a byte until closed.
type blockingBody struct{ closed chan struct{} }

func (b *blockingBody) Read([]byte) (int, error) { <-b.closed; return 0, io.EOF }
func (b *blockingBody) Close() error             { close(b.closed); return nil }

// TestIdleStreamIsDropped: a connection silent for IdleTimeout is closed
// and reopened with the same Last-Event-ID.
func TestIdleStreamIsDropped(t *testing.T) {
	src := &fakeSource{results: make(chan openResult, 4), lastIDs: make(chan string, 16)}
	src.results <- openResult{body: &blockingBody{closed: make(chan struct{})}}
	src.results <- openResult{err: &cpclient.StatusError{Status: http.StatusUnauthorized}}
	s := newStream(t, src, func(o *Options) { o.IdleTimeout = 50 * time.Millisecond; o.LastEventID = "7" })
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an idle stream was never dropped")
	}
	<-src.lastIDs
	if id := <-src.lastIDs; id != "7" {
		t.Errorf("reopened with Last-Event-ID %q, want 7", id)
	}
}
