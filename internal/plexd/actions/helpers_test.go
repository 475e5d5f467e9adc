package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// fakeCP is a channel-backed control plane.
type fakeCP struct {
	acks       chan nodeproto.ExecutionAck
	results    chan nodeproto.ExecutionResult
	caps       chan nodeproto.Capabilities
	violations chan nodeproto.IntegrityViolation
	// resultErr, when set, answers result posts (nil: success).
	mu        sync.Mutex
	resultErr func() error
}

func newFakeCP() *fakeCP {
	return &fakeCP{acks: make(chan nodeproto.ExecutionAck, 64), results: make(chan nodeproto.ExecutionResult, 64),
		caps: make(chan nodeproto.Capabilities, 64), violations: make(chan nodeproto.IntegrityViolation, 64)}
}

func (f *fakeCP) ExecutionAck(_ context.Context, _, _ string, a nodeproto.ExecutionAck) error {
	f.acks <- a
	return nil
}

func (f *fakeCP) ExecutionResult(_ context.Context, _, _ string, r nodeproto.ExecutionResult) error {
	f.mu.Lock()
	fail := f.resultErr
	f.mu.Unlock()
	if fail != nil {
		if err := fail(); err != nil {
			return err
		}
	}
	f.results <- r
	return nil
}

func (f *fakeCP) PutCapabilities(_ context.Context, _ string, c nodeproto.Capabilities) error {
	f.caps <- c
	return nil
}

func (f *fakeCP) IntegrityViolation(_ context.Context, _ string, v nodeproto.IntegrityViolation) error {
	f.violations <- v
	return nil
}

const testNode = "node-1"

// start builds an executor on cp and runs it until the test ends.
func start(t *testing.T, cp ControlPlane, opts Options) *Executor {
	t.Helper()
	opts.NodeID, opts.ControlPlane = testNode, cp
	if opts.BinaryChecksum == nil {
		opts.BinaryChecksum = func() (string, error) { return sum("plexd"), nil }
	}
	if opts.RetryMin == 0 {
		opts.RetryMin, opts.RetryMax = 5*time.Millisecond, 20*time.Millisecond
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func recv[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received")
	}
	var zero T
	return zero
}

func none[T any](t *testing.T, c <-chan T, what string) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(50 * time.Millisecond):
	}
}

// run submits req and returns its ack and result.
func run(t *testing.T, e *Executor, cp *fakeCP, req nodeproto.ActionRequest) (nodeproto.ExecutionAck, nodeproto.ExecutionResult) {
	t.Helper()
	e.Submit(context.Background(), req)
	ack := recv(t, cp.acks)
	if ack.Status != nodeproto.AckAccepted {
		t.Fatalf("ack %+v", ack)
	}
	return ack, recv(t, cp.results)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// writeHook writes an executable and its manifest into hooksDir.
func writeHook(t *testing.T, hooksDir, name, script, extra string) (path, checksum string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name+".sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	checksum = sum(script)
	manifest := "name: " + name + "\ncommand: " + path + "\nchecksum: " + checksum + "\n" + extra
	if err := os.WriteFile(filepath.Join(hooksDir, name+".yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, checksum
}
