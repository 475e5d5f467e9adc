package sealing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
)

// fakeClient answers RegisterSealingKey from a script of errors (nil is
// success) and records what was installed and sent.
type fakeClient struct {
	mu        sync.Mutex
	script    []error
	calls     []string
	installed string
	acked     bool
}

func (f *fakeClient) SetSealingKey(private string, acknowledged bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installed, f.acked = private, acknowledged
	return nil
}

func (f *fakeClient) RegisterSealingKey(_ context.Context, pub string) (*nodeproto.SealingKeyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, pub)
	var err error
	if len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	if err != nil {
		return nil, err
	}
	kid, _ := nodeproto.SealingKID(pub)
	return &nodeproto.SealingKeyResponse{KID: kid, PublicKey: pub}, nil
}

// instantClock fires every wait at once and records it.
type instantClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *instantClock) Now() time.Time { return time.Unix(0, 0) }

func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Unix(0, 0)
	return ch
}

type rig struct {
	store  *identity.Store
	client *fakeClient
	clock  *instantClock
	logs   *bytes.Buffer
	reg    *Registrar
}

func newRig(t *testing.T, dir string, script ...error) *rig {
	t.Helper()
	store, _ := identity.NewStore(dir)
	r := &rig{store: store, client: &fakeClient{script: script}, clock: &instantClock{}, logs: &bytes.Buffer{}}
	reg, err := New(Options{NodeID: "node-1", Store: store, Client: r.client, Clock: r.clock,
		Logger: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Jitter: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	r.reg = reg
	return r
}

func (r *rig) start(t *testing.T) {
	t.Helper()
	if !r.reg.Install(context.Background()) {
		t.Fatalf("Install failed: %s", r.logs)
	}
	r.reg.Run(context.Background())
}

func unavailable() error {
	return &cpclient.StatusError{Op: "sealing-key", Status: http.StatusServiceUnavailable}
}

// TestRegistersUntilAcknowledged: transient failures are retried with
// growing backoff (Retry-After wins), logged at warn once; the confirmed
// kid is remembered so the next start sends nothing.
func TestRegistersUntilAcknowledged(t *testing.T) {
	dir := t.TempDir()
	slow := &cpclient.StatusError{Op: "sealing-key", Status: http.StatusTooManyRequests, RetryAfter: 9 * time.Second}
	r := newRig(t, dir, unavailable(), errors.New("connection refused"), slow, unavailable())
	r.start(t)
	k, err := r.store.LoadSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.client.calls) != 5 || r.client.calls[0] != k.PublicKey || r.client.installed != k.PrivateKey {
		t.Fatalf("%d calls; installed the saved key: %v", len(r.client.calls), r.client.installed == k.PrivateKey)
	}
	if !k.Acknowledged("node-1") {
		t.Error("the confirmed kid was not remembered")
	}
	want := []time.Duration{time.Second, 2 * time.Second, 9 * time.Second, 8 * time.Second}
	if len(r.clock.waits) != len(want) {
		t.Fatalf("waits %v, want %v", r.clock.waits, want)
	}
	for i := range want {
		if r.clock.waits[i] != want[i] {
			t.Errorf("wait %d = %v, want %v", i, r.clock.waits[i], want[i])
		}
	}
	if n := strings.Count(r.logs.String(), `"level":"WARN"`); n != 1 {
		t.Errorf("%d warnings for one start's failures, want 1:\n%s", n, r.logs)
	}
	if !strings.Contains(r.logs.String(), "sealing key registered") || strings.Contains(r.logs.String(), k.PrivateKey) {
		t.Errorf("log: %s", r.logs)
	}
	next := newRig(t, dir)
	next.start(t)
	if len(next.client.calls) != 0 || !next.client.acked || next.client.installed != k.PrivateKey {
		t.Errorf("next start: %d calls, acked %v; want none and the same key acknowledged", len(next.client.calls), next.client.acked)
	}
	// Another node id (the data directory re-joined): register again.
	other, _ := New(Options{NodeID: "node-2", Store: next.store, Client: next.client, Clock: next.clock})
	other.Install(context.Background())
	other.Run(context.Background())
	if len(next.client.calls) != 1 {
		t.Errorf("a new node id did not re-register the key (%d calls)", len(next.client.calls))
	}
}

// TestOlderControlPlaneStaysAtLevelOne: 404, 405 and 501 end this start's
// attempts without an error and without remembering anything; the next
// start asks again.
func TestOlderControlPlaneStaysAtLevelOne(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented} {
		dir := t.TempDir()
		r := newRig(t, dir, &cpclient.StatusError{Op: "sealing-key", Status: status})
		r.start(t)
		if len(r.client.calls) != 1 || len(r.clock.waits) != 0 {
			t.Errorf("%d: %d calls, %d waits; want one call and no retry", status, len(r.client.calls), len(r.clock.waits))
		}
		if !strings.Contains(r.logs.String(), "level-1 delivery") {
			t.Errorf("%d: no note of level-1 delivery: %s", status, r.logs)
		}
		if k, _ := r.store.LoadSealingKey(); k == nil || k.Acknowledged("node-1") {
			t.Errorf("%d: key missing or wrongly acknowledged", status)
		}
		next := newRig(t, dir)
		next.start(t)
		if len(next.client.calls) != 1 {
			t.Errorf("%d: the next start did not retry", status)
		}
	}
}

// TestRefusedKeyIsNotRetried: a 400 (e.g. a level-1 negotiation) stops
// this start's attempts with a warning.
func TestRefusedKeyIsNotRetried(t *testing.T) {
	r := newRig(t, t.TempDir(), &cpclient.StatusError{Op: "sealing-key", Status: http.StatusBadRequest, Code: "protocol_level_required"})
	r.start(t)
	if len(r.client.calls) != 1 || !strings.Contains(r.logs.String(), "sealing key refused") {
		t.Errorf("%d calls; log %s", len(r.client.calls), r.logs)
	}
}

// TestCancelStopsTheRetries: ctx ends the background loop.
func TestCancelStopsTheRetries(t *testing.T) {
	r := newRig(t, t.TempDir(), unavailable(), unavailable(), unavailable())
	r.reg.Install(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.reg.Run(ctx)
	if len(r.client.calls) > 1 {
		t.Errorf("%d calls after cancel", len(r.client.calls))
	}
}

func TestNewNamesTheMissingField(t *testing.T) {
	store, _ := identity.NewStore(t.TempDir())
	for want, o := range map[string]Options{
		"NodeID": {Store: store, Client: &fakeClient{}},
		"Store":  {NodeID: "n", Client: &fakeClient{}},
		"Client": {NodeID: "n", Store: store},
	} {
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s: %v", want, err)
		}
	}
}

// TestNoKeyNeverFails: a data directory that cannot hold the key leaves
// the node at level-1 delivery: a warning, nothing installed, nothing sent.
func TestNoKeyNeverFails(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	r := newRig(t, filepath.Join(blocker, "data"))
	if r.reg.Install(context.Background()) {
		t.Fatal("Install reported a key it could not save")
	}
	r.reg.Run(context.Background())
	if len(r.client.calls) != 0 || r.client.installed != "" || !strings.Contains(r.logs.String(), "no sealing key") {
		t.Errorf("%d calls, installed %v; log %s", len(r.client.calls), r.client.installed != "", r.logs)
	}
}
