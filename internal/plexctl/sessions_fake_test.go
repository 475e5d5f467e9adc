package plexctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Fixture ids of the access tests.
const (
	accessProject  = "0190c0de-0000-7000-8000-0000000000p1"
	accessResource = "0190c0de-0000-7000-8000-0000000000r1"
	accessNode     = "0190c0de-0000-7000-8000-000000000007"
	accessNodeName = "web-1"
)

// accessFake stands in for the control plane's node and session
// endpoints on top of the harness's recording server. Attach is a real
// WebSocket; what happens on it is up to attach.
type accessFake struct {
	t   *testing.T
	srv *apiclienttest.Server

	// mu guards issued and refuse.
	mu     sync.Mutex
	issued []apiclient.IssueSessionRequest
	// refuse, when set, answers issuance instead.
	refuse func(w http.ResponseWriter)

	// attach serves an accepted attach WebSocket of the n-th issued
	// session (0-based); the default echoes with an "echo:" prefix.
	attach func(ctx context.Context, ws *websocket.Conn, in apiclient.IssueSessionRequest)
}

func newAccessFake(t *testing.T, h *harness) *accessFake {
	f := &accessFake{t: t, srv: h.srv}
	f.attach = echoAttach
	node := apiv1.Node{ID: accessNode, Name: accessNodeName, ProjectID: accessProject, ResourceID: accessResource,
		DomainID: "d1", MeshIP: "100.64.0.7"}
	h.srv.JSON("GET /v1/nodes", 200, apiv1.List[apiv1.NodeSummary]{Items: []apiv1.NodeSummary{
		{ID: "0190c0de-0000-7000-8000-000000000008", Name: "db-1"},
		{ID: accessNode, Name: accessNodeName},
	}})
	h.srv.Handle("GET /v1/nodes/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case accessNode:
			apiclienttest.WriteJSON(w, 200, node)
		case "0190c0de-0000-7000-8000-000000000008":
			apiclienttest.WriteJSON(w, 200, apiv1.Node{ID: r.PathValue("id"), Name: "db-1", ProjectID: "other",
				ResourceID: "r2"})
		default:
			apiclienttest.WriteProblem(w, apiv1.Problem{Status: 404, Code: "node_not_found", Title: "Not Found"})
		}
	})
	h.srv.JSON("GET /v1/auth/whoami", 200, apiv1.Whoami{Subject: "user:1", Email: "alice@example.com"})
	h.srv.Handle("POST /v1/projects/{pid}/sessions", f.issue)
	h.srv.Handle("GET /v1/projects/{pid}/sessions/{sid}/attach", f.serveAttach)
	return f
}

func (f *accessFake) issue(w http.ResponseWriter, r *http.Request) {
	var in apiclient.IssueSessionRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 400, Code: "invalid_body", Title: "Bad Request"})
		return
	}
	f.mu.Lock()
	refuse := f.refuse
	if refuse == nil {
		f.issued = append(f.issued, in)
	}
	n := len(f.issued)
	f.mu.Unlock()
	if refuse != nil {
		refuse(w)
		return
	}
	sid := "s" + strconv.Itoa(n)
	exp := testNow.Add(15 * time.Minute)
	apiclienttest.WriteJSON(w, http.StatusCreated, apiclient.IssuedSession{SessionID: sid, Token: "tok-" + sid,
		ExpiresAt: exp, Session: apiclient.Session{ID: sid, ProjectID: r.PathValue("pid"), ResourceID: in.ResourceID,
			Kind: in.Kind, Status: "active", Target: in.Target, ExpiresAt: exp}})
}

func (f *accessFake) serveAttach(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(strings.TrimPrefix(r.PathValue("sid"), "s"))
	f.mu.Lock()
	ok := err == nil && n >= 1 && n <= len(f.issued)
	var in apiclient.IssueSessionRequest
	if ok {
		in = f.issued[n-1]
	}
	f.mu.Unlock()
	if !ok || r.Header.Get(apiclient.SessionTokenHeader) != "tok-"+r.PathValue("sid") {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 404, Code: "session_not_found", Title: "Not Found"})
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		f.t.Errorf("attach: %v", err)
		return
	}
	defer ws.CloseNow()
	f.attach(r.Context(), ws, in)
}

// issuedRequests returns the issuance bodies received so far.
func (f *accessFake) issuedRequests() []apiclient.IssueSessionRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiclient.IssueSessionRequest(nil), f.issued...)
}

func (f *accessFake) setRefuse(fn func(w http.ResponseWriter)) {
	f.mu.Lock()
	f.refuse = fn
	f.mu.Unlock()
}

// echoAttach answers every message with "echo:" and the message, until
// the client closes.
func echoAttach(ctx context.Context, ws *websocket.Conn, _ apiclient.IssueSessionRequest) {
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if err := ws.Write(ctx, websocket.MessageBinary, append([]byte("echo:"), msg...)); err != nil {
			return
		}
	}
}

// tcpAttach plays the gateway and node of a tcp session: it dials the
// session's target for real and splices the WebSocket to it.
func tcpAttach(ctx context.Context, ws *websocket.Conn, in apiclient.IssueSessionRequest) {
	if in.Target.TCP == nil {
		_ = ws.Close(websocket.StatusPolicyViolation, "kind_mismatch")
		return
	}
	target, err := net.Dial("tcp", net.JoinHostPort(in.Target.TCP.Host, strconv.Itoa(in.Target.TCP.Port)))
	if err != nil {
		_ = ws.Close(websocket.StatusInternalError, "dial target")
		return
	}
	defer target.Close()
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(target, nc); done <- struct{}{} }()
	go func() { _, _ = io.Copy(nc, target); done <- struct{}{} }()
	<-done
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader running
// concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is one plexctl invocation in flight, with piped stdio.
type running struct {
	stdin  *io.PipeWriter
	stdout *bufio.Reader
	stderr *lockedBuffer
	done   chan int
}

// start runs args in the background with piped stdin/stdout and hooks.
func (h *harness) start(hooks accessHooks, args ...string) *running {
	h.t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	r := &running{stdin: inW, stdout: bufio.NewReader(outR), stderr: &lockedBuffer{}, done: make(chan int, 1)}
	a := newApp(inR, outW, r.stderr, func(k string) string { return h.env[k] })
	a.now = func() time.Time { return testNow }
	a.hooks = hooks
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	go func() {
		defer cancel()
		code := a.run(ctx, args)
		outW.Close()
		inR.Close()
		r.done <- code
	}()
	h.t.Cleanup(func() { inW.Close(); outR.Close() })
	return r
}

// wait returns the exit code, failing the test after a timeout.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("plexctl did not finish; stderr:\n%s", r.stderr.String())
		return -1
	}
}

// runHooked runs args to completion with hooks and buffered output.
func (h *harness) runHooked(hooks accessHooks, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return h.env[k] })
	a.now = func() time.Time { return testNow }
	a.hooks = hooks
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// fail runs args and fails the test unless the exit code is code and
// stderr holds every want.
func (h *harness) fail(code int, want []string, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != code {
		h.t.Fatalf("plexctl %s: exit %d, want %d\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			h.t.Errorf("plexctl %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
