package stream

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
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
	s := newStream(t, src, nil)
	start := time.Now()
	s.Run(context.Background())
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("reconnected after %v, before Retry-After", el)
	}
}

// TestPollingFallback: after PollAfter of continuous failure the stream
// polls state every PollInterval while it keeps retrying.
func TestPollingFallback(t *testing.T) {
	src := &fakeSource{results: make(chan openResult, 1000), lastIDs: make(chan string, 1000)}
	for range 1000 {
		src.results <- openResult{err: errors.New("connection refused")}
	}
	var polls atomic.Int32
	var sawPolling atomic.Bool
	s := newStream(t, src, func(o *Options) {
		o.PollAfter, o.PollInterval = 50*time.Millisecond, 20*time.Millisecond
		o.Poll = func(context.Context) error { polls.Add(1); return nil }
		o.OnState = func(st State) {
			if st == StatePolling {
				sawPolling.Store(true)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	if polls.Load() < 2 || !sawPolling.Load() {
		t.Errorf("polls %d, polling state seen %v", polls.Load(), sawPolling.Load())
	}
	if polls.Load() > 20 {
		t.Errorf("polled %d times in 250 ms at a 20 ms interval", polls.Load())
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
