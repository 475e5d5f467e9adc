package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
)

// blockingExec holds every command until released or cancelled.
type blockingExec struct {
	started chan string
	release chan struct{}
}

func newBlockingExec() *blockingExec {
	return &blockingExec{started: make(chan string, 16), release: make(chan struct{})}
}

func (b *blockingExec) run(ctx context.Context, _ string, args []string, _, _ io.Writer) (int, error) {
	b.started <- args[len(args)-1]
	select {
	case <-ctx.Done():
		return -1, ctx.Err()
	case <-b.release:
		return 0, nil
	}
}

func ping(id string) nodeproto.ActionRequest {
	return nodeproto.ActionRequest{ExecutionID: id, Action: nodeproto.BuiltinPing, Parameters: map[string]string{"target": "10.0.0.1"}}
}

// TestConcurrencyLimitAndCancel: the sixth execution is rejected with
// max_concurrent_reached; cancel is still admitted and ends one with
// status cancelled.
func TestConcurrencyLimitAndCancel(t *testing.T) {
	cp := newFakeCP()
	bx := newBlockingExec()
	e := start(t, cp, Options{Exec: bx.run})
	for i := range MaxConcurrent {
		e.Submit(context.Background(), ping(fmt.Sprint("run", i)))
		if a := recv(t, cp.acks); a.Status != nodeproto.AckAccepted {
			t.Fatalf("ack %d: %+v", i, a)
		}
		recv(t, bx.started)
	}
	e.Submit(context.Background(), ping("sixth"))
	if a := recv(t, cp.acks); a != (nodeproto.ExecutionAck{ExecutionID: "sixth", Status: nodeproto.AckRejected, Reason: nodeproto.AckReasonMaxConcurrent}) {
		t.Errorf("sixth: %+v", a)
	}
	if got := e.Running(); len(got) != MaxConcurrent {
		t.Errorf("running %v", got)
	}
	e.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "c1", Action: BuiltinCancel, Parameters: map[string]string{"execution_id": "run2"}})
	if a := recv(t, cp.acks); a.Status != nodeproto.AckAccepted {
		t.Fatalf("cancel ack %+v", a)
	}
	got := map[string]nodeproto.ExecutionResult{}
	for range 2 {
		r := recv(t, cp.results)
		got[r.ExecutionID] = r
	}
	if r := got["run2"]; r.Status != nodeproto.ResultCancelled || r.Error == "" {
		t.Errorf("cancelled execution: %+v", r)
	}
	if r := got["c1"]; r.Status != nodeproto.ResultSuccess {
		t.Errorf("cancel action: %+v", r)
	}
	if e.Cancel("run2") {
		t.Error("a finished execution was cancelled again")
	}
	close(bx.release)
	for range MaxConcurrent - 1 {
		if r := recv(t, cp.results); r.Status != nodeproto.ResultSuccess {
			t.Errorf("released: %+v", r)
		}
	}
}

func TestRejections(t *testing.T) {
	dir := t.TempDir()
	cp := newFakeCP()
	e := start(t, cp, Options{DataDir: dir})
	run(t, e, cp, nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo})
	for _, c := range []struct {
		req    nodeproto.ActionRequest
		reason string
	}{
		{nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo}, nodeproto.AckReasonDuplicateExecutionID},
		{nodeproto.ActionRequest{ExecutionID: "e2", Action: "rm-rf"}, nodeproto.AckReasonUnknownAction},
		{nodeproto.ActionRequest{ExecutionID: "e2", Action: nodeproto.BuiltinGatherInfo}, nodeproto.AckReasonDuplicateExecutionID},
	} {
		e.Submit(context.Background(), c.req)
		if a := recv(t, cp.acks); a.Status != nodeproto.AckRejected || a.Reason != c.reason || a.ExecutionID != c.req.ExecutionID {
			t.Errorf("%+v: ack %+v, want %s", c.req, a, c.reason)
		}
	}
	e.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "", Action: nodeproto.BuiltinGatherInfo})
	none(t, cp.acks, "ack for an empty execution id")
	none(t, cp.results, "result of a rejected request")

	// A restart remembers the ids: the redelivered request is a duplicate.
	cp2 := newFakeCP()
	e2 := start(t, cp2, Options{DataDir: dir})
	e2.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo})
	if a := recv(t, cp2.acks); a.Reason != nodeproto.AckReasonDuplicateExecutionID {
		t.Errorf("after restart: %+v", a)
	}
	none(t, cp2.results, "re-run after restart")
}

func TestDisabledAndShuttingDown(t *testing.T) {
	cp := newFakeCP()
	e := start(t, cp, Options{Disabled: true})
	e.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo})
	if a := recv(t, cp.acks); a.Reason != nodeproto.AckReasonActionsDisabled {
		t.Errorf("disabled: %+v", a)
	}

	cp = newFakeCP()
	e, err := New(Options{NodeID: testNode, ControlPlane: cp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.Run(ctx) // returns at once: shut down
	e.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo})
	select {
	case a := <-e.rejects:
		if a.Reason != nodeproto.AckReasonShuttingDown {
			t.Errorf("after shutdown: %+v", a)
		}
	default:
		t.Error("no rejection queued after shutdown")
	}
}

// TestShutdownCancelsAndKeepsResults: stopping plexd cancels a running
// execution; its result stays on disk and the next start delivers it.
func TestShutdownCancelsAndKeepsResults(t *testing.T) {
	dir := t.TempDir()
	cp := newFakeCP()
	cp.resultErr = func() error { return errors.New("control plane unreachable") }
	bx := newBlockingExec()
	e, err := New(Options{NodeID: testNode, ControlPlane: cp, DataDir: dir, Exec: bx.run, RetryMin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	e.Submit(context.Background(), ping("long"))
	recv(t, cp.acks)
	recv(t, bx.started)
	cancel()
	<-done
	if e.Pending() != 1 {
		t.Fatalf("%d results pending", e.Pending())
	}
	cp2 := newFakeCP()
	e2 := start(t, cp2, Options{DataDir: dir})
	if r := recv(t, cp2.results); r.ExecutionID != "long" || r.Status != nodeproto.ResultCancelled {
		t.Errorf("delivered after restart: %+v", r)
	}
	waitFor(t, func() bool { return e2.Pending() == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cpServer is a control plane over HTTP answering results with the
// statuses in script (then 204), recording every request.
type cpServer struct {
	mu      sync.Mutex
	script  []int
	results []nodeproto.ExecutionResult
	paths   []string
	calls   atomic.Int32
}

func (s *cpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, r.Method+" "+r.URL.Path)
	if r.URL.Path != "/v1/nodes/"+testNode+"/executions/e1/result" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.calls.Add(1)
	if len(s.script) > 0 {
		st := s.script[0]
		s.script = s.script[1:]
		w.WriteHeader(st)
		return
	}
	var res nodeproto.ExecutionResult
	if err := json.NewDecoder(r.Body).Decode(&res); err == nil {
		s.results = append(s.results, res)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *cpServer) delivered() []nodeproto.ExecutionResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.results)
}

func httpCP(t *testing.T, script ...int) (*cpServer, *cpclient.Client) {
	s := &cpServer{script: script}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cl, err := cpclient.New(cpclient.Options{Server: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cl.SetCredentials(testNode, "nsk-0123456789abcdefghijklmnopqrs")
	return s, cl
}

// TestResultRetriedUntil2xx: transient answers (503, 429, a 500) are
// retried with backoff until the control plane accepts the result.
func TestResultRetriedUntil2xx(t *testing.T) {
	s, cl := httpCP(t, 503, 429, 500)
	e := start(t, cl, Options{})
	e.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo})
	waitFor(t, func() bool { return len(s.delivered()) == 1 })
	if got := s.delivered()[0]; got.ExecutionID != "e1" || got.Status != nodeproto.ResultSuccess || s.calls.Load() != 4 {
		t.Errorf("after %d calls: %+v", s.calls.Load(), got)
	}
	waitFor(t, func() bool { return e.Pending() == 0 })
	s.mu.Lock()
	if !slices.Contains(s.paths, "POST /v1/nodes/"+testNode+"/executions/e1/ack") || !slices.Contains(s.paths, "PUT /v1/nodes/"+testNode+"/capabilities") {
		t.Errorf("requests %v", s.paths)
	}
	s.mu.Unlock()
}

// TestResultRefusedIsDropped: a 409 (already terminal) cannot become 2xx.
func TestResultRefusedIsDropped(t *testing.T) {
	s, cl := httpCP(t, 409, 409, 409)
	e := start(t, cl, Options{})
	e.Submit(context.Background(), nodeproto.ActionRequest{ExecutionID: "e1", Action: nodeproto.BuiltinGatherInfo})
	waitFor(t, func() bool { return s.calls.Load() == 1 && e.Pending() == 0 })
	time.Sleep(30 * time.Millisecond) // several backoff periods: no retry may follow
	if n := s.calls.Load(); n != 1 {
		t.Errorf("a refused result was sent %d times", n)
	}
}
