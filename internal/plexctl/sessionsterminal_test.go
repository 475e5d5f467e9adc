package plexctl

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// terminalFake plays the control plane's OpenSessionTerminal: it echoes
// input as output with an "out:" prefix, answers a resize with a line
// naming the size, and closes as the test says.
type terminalFake struct {
	mu      sync.Mutex
	texts   []string // text messages received
	inputs  []string // binary messages received
	queries []string // cols x rows of each upgrade
	auth    []string
	// onResize and onInput, when set, end the socket after answering.
	onResize func(ctx context.Context, ws *websocket.Conn)
	onInput  func(ctx context.Context, ws *websocket.Conn, msg []byte) bool
}

func newTerminalFake(t *testing.T, h *harness) *terminalFake {
	f := &terminalFake{}
	h.srv.Handle("GET /v1/projects/{pid}/sessions/{sid}/terminal", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("pid") != accessProject {
			apiclienttest.WriteProblem(w, apiv1.Problem{Status: 404, Code: "session_not_found", Title: "Not Found"})
			return
		}
		if r.PathValue("sid") == "not-terminal" {
			apiclienttest.WriteProblem(w, apiv1.Problem{Status: 409, Code: "session_not_terminal", Title: "Conflict",
				Detail: "The session accepts the operator's own key."})
			return
		}
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.Query().Get("cols")+"x"+r.URL.Query().Get("rows"))
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		for {
			typ, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageText {
				f.mu.Lock()
				f.texts = append(f.texts, string(msg))
				f.mu.Unlock()
				var m struct {
					Type       string
					Cols, Rows int
				}
				if json.Unmarshal(msg, &m) == nil && m.Type == "resize" {
					_ = ws.Write(ctx, websocket.MessageBinary, []byte("resized "+itoa(m.Cols)+"x"+itoa(m.Rows)+"\n"))
					if f.onResize != nil {
						f.onResize(ctx, ws)
						return
					}
				}
				continue
			}
			f.mu.Lock()
			f.inputs = append(f.inputs, string(msg))
			f.mu.Unlock()
			if f.onInput != nil && f.onInput(ctx, ws, msg) {
				return
			}
			_ = ws.Write(ctx, websocket.MessageBinary, append([]byte("out:"), msg...))
		}
	})
	return f
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (f *terminalFake) snapshot() (texts, inputs, queries, auth []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.texts...), append([]string(nil), f.inputs...),
		append([]string(nil), f.queries...), append([]string(nil), f.auth...)
}

// Issue 13: plexctl sessions terminal sends the local size on open and on
// a window change (the resize message), carries input and output, and a
// revocation (1008) ends it with the server's reason and exit code 1.
func TestSessionsTerminalResizeAndRevoked(t *testing.T) {
	h := newHarness(t)
	f := newTerminalFake(t, h)
	f.onResize = func(ctx context.Context, ws *websocket.Conn) {
		_ = ws.Close(websocket.StatusPolicyViolation, "session_revoked: operator_request")
	}
	var (
		mu         sync.Mutex
		cols, rows = 100, 30
	)
	winch := make(chan struct{}, 1)
	hooks := accessHooks{
		termSize: func() (int, int) { mu.Lock(); defer mu.Unlock(); return cols, rows },
		resizes:  func(context.Context) <-chan struct{} { return winch },
	}
	r := h.start(hooks, "sessions", "terminal", "--project", accessProject, "s1")
	if _, err := io.WriteString(r.stdin, "uptime\r"); err != nil {
		t.Fatal(err)
	}
	line, err := r.stdout.ReadString('\r')
	if err != nil || line != "out:uptime\r" {
		t.Fatalf("output %q, %v; stderr:\n%s", line, err, r.stderr)
	}
	mu.Lock()
	cols, rows = 120, 40
	mu.Unlock()
	winch <- struct{}{}
	rest, _ := io.ReadAll(r.stdout)
	if code := r.wait(t); code != ExitError {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr)
	}
	if string(rest) != "resized 120x40\n" {
		t.Errorf("output after the resize %q", rest)
	}
	texts, inputs, queries, auth := f.snapshot()
	if len(texts) != 1 || texts[0] != `{"type":"resize","cols":120,"rows":40}` {
		t.Errorf("text messages %q", texts)
	}
	if len(inputs) != 1 || inputs[0] != "uptime\r" {
		t.Errorf("input messages %q", inputs)
	}
	if len(queries) != 1 || queries[0] != "100x30" || auth[0] != "Bearer psk_dev_env" {
		t.Errorf("upgrade size %q, authorization %q", queries, auth)
	}
	if s := r.stderr.String(); !strings.Contains(s, "the session was revoked (session_revoked: operator_request)") {
		t.Errorf("stderr:\n%s", s)
	}
}

// Issue 13: from a pipe, the terminal is 80x24, the end of input sends
// Ctrl-D, and the shell's exit (1000) is exit code 0 with nothing on
// stderr.
func TestSessionsTerminalPipe(t *testing.T) {
	h := newHarness(t)
	f := newTerminalFake(t, h)
	f.onInput = func(ctx context.Context, ws *websocket.Conn, msg []byte) bool {
		if string(msg) != "\x04" {
			return false
		}
		_ = ws.Write(ctx, websocket.MessageBinary, []byte("logout\r\n"))
		_ = ws.Close(websocket.StatusNormalClosure, "shell exited")
		return true
	}
	r := h.runIn(strings.NewReader("echo hi\n"), "sessions", "terminal", "--project", accessProject, "s1")
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r.stdout != "out:echo hi\nlogout\r\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	texts, inputs, queries, _ := f.snapshot()
	if len(texts) != 0 || strings.Join(inputs, "") != "echo hi\n\x04" || len(queries) != 1 || queries[0] != "80x24" {
		t.Errorf("texts %q, inputs %q, size %q", texts, inputs, queries)
	}
}

// Issue 13: a session issued for plain ssh is refused before the upgrade
// with an explanation; the arguments are checked.
func TestSessionsTerminalRefused(t *testing.T) {
	h := newHarness(t)
	newTerminalFake(t, h)
	h.fail(ExitError, []string{"the session accepts its operator's own key", "session_not_terminal"},
		"sessions", "terminal", "--project", accessProject, "not-terminal")
	h.fail(ExitError, []string{"session_not_found"}, "sessions", "terminal", "--project", "other", "s1")
	h.fail(ExitUsage, []string{"expected a SESSION_ID, or --resource and --user"},
		"sessions", "terminal", "--project", accessProject)
	h.fail(ExitUsage, []string{"not both"},
		"sessions", "terminal", "--project", accessProject, "s1", "--resource", accessResource, "--user", "root")
	h.fail(ExitUsage, []string{"project"}, "sessions", "terminal", "s1")
}

// Issue 13: without a SESSION_ID, sessions terminal issues an ssh session
// with terminal (and no public key) and opens that session's terminal.
func TestSessionsTerminalIssues(t *testing.T) {
	h := newHarness(t)
	a := newAccessFake(t, h)
	f := newTerminalFake(t, h)
	f.onInput = func(ctx context.Context, ws *websocket.Conn, msg []byte) bool {
		if string(msg) != "\x04" {
			return false
		}
		_ = ws.Close(websocket.StatusNormalClosure, "shell exited")
		return true
	}
	r := h.runIn(strings.NewReader("id\n"), "sessions", "terminal", "--project", accessProject,
		"--resource", accessResource, "--user", "deploy", "--ttl", "90s")
	if r.code != ExitOK || r.stdout != "out:id\n" {
		t.Fatalf("exit %d, stdout %q; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	issued := a.issuedRequests()
	if len(issued) != 1 {
		t.Fatalf("issued %d sessions", len(issued))
	}
	in := issued[0]
	if !in.Terminal || in.PublicKey != "" || in.Kind != "ssh" || in.ResourceID != accessResource ||
		in.Target.SSH == nil || in.Target.SSH.User != "deploy" || in.RequestedTTLSeconds != 90 {
		t.Errorf("issuance %+v", in)
	}
	// The terminal opened is the issued one's.
	if last := h.srv.Last(); last.EscapedPath != "/v1/projects/"+accessProject+"/sessions/s1/terminal" {
		t.Errorf("opened %s", last.EscapedPath)
	}
}

// Issue 13: sessions issue --terminal asks for a terminal session;
// without it the session accepts plexctl's managed key; the token shows
// only in structured output.
func TestSessionsIssue(t *testing.T) {
	h := newHarness(t)
	a := newAccessFake(t, h)
	r := h.ok("sessions", "issue", "--project", accessProject, "--resource", accessResource, "--user", "deploy",
		"--terminal")
	if !strings.Contains(r.stdout, "s1") || strings.Contains(r.stdout, "tok-s1") {
		t.Errorf("table:\n%s", r.stdout)
	}
	r = h.ok("-o", "json", "sessions", "issue", "--project", accessProject, "--resource", accessResource,
		"--user", "root", "--allow-command", "uptime")
	var iss apiclient.IssuedSession
	if err := json.Unmarshal([]byte(r.stdout), &iss); err != nil || iss.Token != "tok-s2" || iss.SessionID != "s2" {
		t.Errorf("json %q: %v", r.stdout, err)
	}
	issued := a.issuedRequests()
	if len(issued) != 2 {
		t.Fatalf("issued %d sessions", len(issued))
	}
	if !issued[0].Terminal || issued[0].PublicKey != "" || issued[0].Target.SSH.User != "deploy" {
		t.Errorf("terminal issuance %+v", issued[0])
	}
	if issued[1].Terminal || !strings.HasPrefix(issued[1].PublicKey, "ssh-ed25519 ") ||
		len(issued[1].Target.SSH.AllowedCommands) != 1 {
		t.Errorf("key issuance %+v", issued[1])
	}
	h.fail(ExitUsage, []string{"--terminal or --public-key, not both"}, "sessions", "issue", "--project", accessProject,
		"--resource", accessResource, "--user", "deploy", "--terminal", "--public-key", "/nonexistent")
	h.fail(ExitUsage, []string{"user"}, "sessions", "issue", "--project", accessProject, "--resource", accessResource)
}
