package plexctl

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Fixture ids of the fleet-operation tests (valid UUIDs: plexctl passes
// ids through and resolves anything else as a name).
const (
	execProject = "0190c0de-0000-7000-8000-0000000000a1"
	execID      = "0190c0de-0000-7000-8000-0000000000e1"
	execNode1   = "0190c0de-0000-7000-8000-000000000001"
	execNode2   = "0190c0de-0000-7000-8000-000000000002"
	execNode3   = "0190c0de-0000-7000-8000-000000000003"
	violationID = "0190c0de-0000-7000-8000-0000000000f1"
)

// execFake stands in for the control plane's execution endpoints: a
// dispatch records its body and answers pending targets, and each read of
// the execution answers the next of a scripted series of states (the last
// one repeats).
type execFake struct {
	t *testing.T

	// mu guards the fields below.
	mu         sync.Mutex
	dispatched []apiclient.DispatchExecutionRequest
	previewed  []apiclient.DispatchExecutionRequest
	states     []apiclient.Execution
	reads      int
	// failReads is how many reads answer 503 before the script.
	failReads int
	skipped   []apiclient.SkippedTarget
}

func newExecFake(t *testing.T, h *harness) *execFake {
	f := &execFake{t: t, skipped: []apiclient.SkippedTarget{{NodeID: execNode3, Reason: "drifted"}}}
	h.srv.JSON("GET /v1/nodes", 200, apiv1.List[apiv1.NodeSummary]{Items: []apiv1.NodeSummary{
		{ID: execNode1, Name: "web-1"}, {ID: execNode2, Name: "web-2"}, {ID: execNode3, Name: "db-1"},
	}})
	h.srv.Handle("GET /v1/nodes/{id}", func(w http.ResponseWriter, r *http.Request) {
		names := map[string]string{execNode1: "web-1", execNode2: "web-2", execNode3: "db-1"}
		name, ok := names[r.PathValue("id")]
		if !ok {
			apiclienttest.WriteProblem(w, apiv1.Problem{Status: 404, Code: "node_not_found", Title: "Not Found"})
			return
		}
		apiclienttest.WriteJSON(w, 200, apiv1.Node{ID: r.PathValue("id"), Name: name, ProjectID: execProject})
	})
	h.srv.Handle("POST /v1/projects/{pid}/executions:dispatch", f.dispatch)
	h.srv.Handle("POST /v1/projects/{pid}/executions:preview", f.preview)
	h.srv.Handle("GET /v1/projects/{pid}/executions/{id}", f.get)
	return f
}

// script sets the states successive reads of the execution answer.
func (f *execFake) script(states ...apiclient.Execution) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states, f.reads = states, 0
}

func (f *execFake) decode(w http.ResponseWriter, r *http.Request) (apiclient.DispatchExecutionRequest, bool) {
	var in apiclient.DispatchExecutionRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 400, Code: "invalid_body", Title: "Bad Request"})
		return in, false
	}
	return in, true
}

// targetsOf are the nodes a request names (a selector matches node 1
// and node 2).
func targetsOf(in apiclient.DispatchExecutionRequest) []string {
	switch {
	case in.NodeID != "":
		return []string{in.NodeID}
	case len(in.NodeIDs) > 0:
		return in.NodeIDs
	}
	return []string{execNode1, execNode2}
}

func (f *execFake) dispatch(w http.ResponseWriter, r *http.Request) {
	in, ok := f.decode(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	f.dispatched = append(f.dispatched, in)
	skipped := f.skipped
	f.mu.Unlock()
	ex := apiclient.Execution{ID: execID, ProjectID: r.PathValue("pid"), Action: in.Action, Type: "builtin",
		Status: "pending", Selector: in.Selector, MaxInFlight: in.MaxInFlight, CreatedAt: testNow, UpdatedAt: testNow,
		Skipped: skipped}
	for _, n := range targetsOf(in) {
		ex.Targets = append(ex.Targets, apiclient.ExecutionTarget{NodeID: n, Status: "pending", CreatedAt: testNow,
			UpdatedAt: testNow})
	}
	apiclienttest.WriteJSON(w, http.StatusCreated, ex)
}

func (f *execFake) preview(w http.ResponseWriter, r *http.Request) {
	in, ok := f.decode(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	f.previewed = append(f.previewed, in)
	f.mu.Unlock()
	apiclienttest.WriteJSON(w, http.StatusOK, apiclient.DispatchPreview{Targets: targetsOf(in),
		Skipped: []apiclient.SkippedTarget{{NodeID: execNode3, Reason: "insufficient_relation"}}})
}

func (f *execFake) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.PathValue("id") != execID || (len(f.states) == 0 && f.failReads == 0) {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 404, Code: "execution_not_found", Title: "Not Found"})
		return
	}
	if f.failReads > 0 {
		f.failReads--
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 503, Code: "unavailable", Title: "Service Unavailable"})
		return
	}
	ex := f.states[min(f.reads, len(f.states)-1)]
	f.reads++
	apiclienttest.WriteJSON(w, http.StatusOK, ex)
}

func (f *execFake) requests() (dispatched, previewed []apiclient.DispatchExecutionRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(dispatched, f.dispatched...), append(previewed, f.previewed...)
}

// execution builds an execution state from "node=status[:exit]" specs,
// with a second of runtime per target and output for the final ones.
func execution(status string, specs ...string) apiclient.Execution {
	ex := apiclient.Execution{ID: execID, ProjectID: execProject, Action: "gather_info", Type: "builtin",
		Status: status, CreatedAt: testNow, UpdatedAt: testNow,
		Skipped: []apiclient.SkippedTarget{{NodeID: execNode3, Reason: "drifted"}}}
	for i, s := range specs {
		node, st, _ := strings.Cut(s, "=")
		st, exit, hasExit := strings.Cut(st, ":")
		t := apiclient.ExecutionTarget{NodeID: node, Status: st, CreatedAt: testNow,
			UpdatedAt: testNow.Add(time.Duration(i+1) * time.Second)}
		if hasExit {
			code, _ := strconv.Atoi(exit)
			dur := int64(1200 + i)
			t.ExitCode, t.DurationMS = &code, &dur
			if code == 0 {
				t.Stdout = "line one\nline two\nline three\nline four\n"
			} else {
				t.Stderr = "boom: \x1b[31mred\x1b[0m"
				t.Detail = "exit status " + exit
			}
		}
		ex.Targets = append(ex.Targets, t)
	}
	return ex
}

// execRun is one plexctl run with its sleeps recorded and whether stderr
// counts as a terminal.
type execRun struct {
	result
	sleeps []time.Duration
}

func (h *harness) runExec(tty bool, args ...string) execRun {
	h.t.Helper()
	var out, errb bytes.Buffer
	var r execRun
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return h.env[k] })
	a.now = func() time.Time { return testNow }
	a.hooks.sleep = func(ctx context.Context, d time.Duration) error {
		r.sleeps = append(r.sleeps, d)
		return ctx.Err()
	}
	a.tty = func(io.Writer) bool { return tty }
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	defer cancel()
	r.code = a.run(ctx, args)
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}
