package push

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a real HTTP endpoint answering the statuses in script, then
// 204, recording the bodies it accepted and the Authorization it saw.
type receiver struct {
	mu     sync.Mutex
	script []int
	got    []string
	auth   []string
	calls  atomic.Int64
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	if len(r.script) > 0 {
		st := r.script[0]
		r.script = r.script[1:]
		w.Header().Set("Retry-After", "0")
		http.Error(w, "scripted failure", st)
		return
	}
	r.got = append(r.got, string(body))
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func newQueue(t *testing.T, url string, cfg Config[string]) *Queue[string] {
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := Target{URL: url, Bearer: BearerFile(tok)}
	cfg.Send = func(ctx context.Context, batch []string) error {
		return target.Post(ctx, http.Header{"Content-Type": {"text/plain"}}, []byte(strings.Join(batch, ",")))
	}
	cfg.MinBackoff = time.Millisecond
	cfg.FlushEvery = 10 * time.Millisecond
	q := New(cfg)
	t.Cleanup(func() { q.Close(time.Second) })
	return q
}

// Batches are cut at MaxBatch, 5xx and 429 are retried with backoff until
// the receiver accepts, and the bearer token comes from the file.
func TestQueueBatchesAndRetries(t *testing.T) {
	r := &receiver{script: []int{503, 429}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	q := newQueue(t, srv.URL, Config[string]{MaxBatch: 3, MaxQueue: 100})
	if d := q.Enqueue("a", "b", "c", "d", "e"); d != 0 {
		t.Fatalf("dropped %d", d)
	}
	waitFor(t, "delivery", func() bool { return q.Stats().Sent == 5 })
	got := r.bodies()
	if len(got) != 2 || got[0] != "a,b,c" || got[1] != "d,e" {
		t.Fatalf("bodies %q", got)
	}
	st := q.Stats()
	if st.Retries != 2 || st.Failed != 0 || st.Dropped != 0 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, a := range r.auth {
		if a != "Bearer s3cret" {
			t.Fatalf("authorization %q", a)
		}
	}
}

// A 4xx other than 429 is not retried: the batch is counted failed. A full
// queue drops (and counts) what does not fit.
func TestQueueGivesUpAndDrops(t *testing.T) {
	r := &receiver{script: []int{400}}
	srv := httptest.NewServer(r)
	defer srv.Close()
	q := newQueue(t, srv.URL, Config[string]{MaxBatch: 10, MaxQueue: 100})
	q.Enqueue("x", "y")
	waitFor(t, "the refusal", func() bool { return q.Stats().Failed == 2 })
	if c := r.calls.Load(); c != 1 {
		t.Fatalf("a 400 was retried: %d calls", c)
	}

	// A receiver that never answers in time keeps the sender busy; the
	// queue beyond MaxQueue drops.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	q2 := newQueue(t, slow.URL, Config[string]{MaxBatch: 2, MaxQueue: 4})
	q2.Enqueue("1", "2")
	waitFor(t, "the sender to take the first batch", func() bool { return q2.Stats().Queued == 0 })
	if d := q2.Enqueue("3", "4", "5", "6", "7", "8"); d != 2 {
		t.Fatalf("dropped %d, want 2", d)
	}
	if st := q2.Stats(); st.Dropped != 2 || st.Queued != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// A network error is retryable; a status error only when 5xx or 429.
func TestRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		errors.New("connection refused"): true,
		&StatusError{Status: 500}:        true,
		&StatusError{Status: 429}:        true,
		&StatusError{Status: 400}:        false,
		&StatusError{Status: 413}:        false,
	} {
		if Retryable(err) != want {
			t.Errorf("%v: want %v", err, want)
		}
	}
	for _, u := range []string{"ftp://x", "http://", "https://u:p@host/x", "::"} {
		if CheckURL(u) == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if CheckURL("https://mimir.example/api/v1/push") != nil {
		t.Error("a good URL refused")
	}
}
