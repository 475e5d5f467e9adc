package access_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/demonodes"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// TestBrowserTerminal is the browser terminal end to end on the real
// control plane: a demo plexd (the agent core on netstack WireGuard, its
// access listener and SSH server) in a Project, reached through the
// Project's session gateway. A session issued with terminal carries the
// control plane's derived key; the terminal WebSocket gets a shell that
// runs commands and follows resizes; revocation closes it with 1008.
// Refusals come before the upgrade.
func TestBrowserTerminal(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	e := apptest.Start(t, apptest.SQLite)
	enr := e.NewEnrolment(t, "term", "100.83.0.0/24", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	fleet, err := demonodes.Start(ctx, demonodes.Options{Server: e.URL, N: 1, Dir: t.TempDir(), HeartbeatInterval: time.Second,
		SSHAccount: me.Username, Issue: func(context.Context, int) (string, error) { return enr.Token.Token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	e.Server.Gateways.SetWrap(fleet.Wrap)
	var n apiv1.Node
	if st, raw := e.Do(t, "GET", "/v1/nodes/"+fleet.Nodes[0].ID, nil, &n); st != 200 {
		t.Fatalf("node: %d %s", st, raw)
	}
	path := "/v1/projects/" + enr.Project.ID + "/sessions"
	sshTarget := apiv1.SessionTarget{SSH: &nodeproto.SSHTarget{User: demonodes.DemoSSHUser}}

	// Refused at issuance: terminal on a tcp session, or with a key.
	for name, req := range map[string]apiv1.IssueSessionRequest{
		"tcp": {ResourceID: n.ResourceID, Kind: "tcp", Terminal: true,
			Target: apiv1.SessionTarget{TCP: &nodeproto.TCPTarget{Host: "127.0.0.1", Port: 22}}},
		"with a key": {ResourceID: n.ResourceID, Kind: "ssh", Terminal: true, Target: sshTarget, PublicKey: sshPublicKey(t)},
	} {
		if st, raw := e.Do(t, "POST", path, req, nil); st != 400 || code(raw) != "invalid_target" {
			t.Errorf("terminal %s: %d %s", name, st, raw)
		}
	}
	// An ssh session with the operator's own key has no terminal.
	var own apiv1.IssuedSession
	if st, raw := e.Do(t, "POST", path, apiv1.IssueSessionRequest{ResourceID: n.ResourceID, Kind: "ssh", Target: sshTarget,
		PublicKey: sshPublicKey(t)}, &own); st != 201 || own.Session.Terminal {
		t.Fatalf("ssh session: %d %s", st, raw)
	}
	if resp, raw := dialTerminal(t, e, path+"/"+own.SessionID+"/terminal", ""); resp == nil || resp.StatusCode != 409 || code(raw) != "session_not_terminal" {
		t.Errorf("terminal of a session with the operator's key: %v %s", resp, raw)
	}

	var got apiv1.IssuedSession
	if st, raw := e.Do(t, "POST", path, apiv1.IssueSessionRequest{ResourceID: n.ResourceID, Kind: "ssh", Target: sshTarget,
		Terminal: true}, &got); st != 201 || !got.Session.Terminal {
		t.Fatalf("terminal session: %d %s", st, raw)
	}
	c, err := accesstoken.Unverified(got.Token)
	if err != nil || !strings.HasPrefix(c.AuthorizedKey, "ssh-ed25519 ") || !strings.HasSuffix(c.AuthorizedKey, " plexsphere-terminal:"+got.SessionID) {
		t.Fatalf("the token's authorized_key %q (%v)", c.AuthorizedKey, err)
	}
	var one apiv1.Session
	if st, raw := e.Do(t, "GET", path+"/"+got.SessionID, nil, &one); st != 200 || !one.Terminal {
		t.Errorf("read back: %d %s", st, raw)
	}
	term := path + "/" + got.SessionID + "/terminal"
	if resp, raw := dialTerminal(t, e, term, "https://evil.example"); resp == nil || resp.StatusCode != 403 || code(raw) != "cross_origin_refused" {
		t.Errorf("cross-origin terminal: %v %s", resp, raw)
	}

	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	ws, _, err := websocket.Dial(wctx, "ws"+strings.TrimPrefix(e.URL, "http")+term+"?cols=100&rows=30",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.Token}}})
	if err != nil {
		t.Fatalf("terminal: %v", err)
	}
	defer ws.CloseNow()
	out := &termReader{t: t, ws: ws, got: make(chan []byte, 256), done: make(chan error, 1)}
	go out.run(wctx)
	send := func(s string) {
		t.Helper()
		if err := ws.Write(wctx, websocket.MessageBinary, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send("echo term-$((6*7))\n")
	out.await(wctx, "term-42")
	send("stty size\n")
	out.await(wctx, "30 100")
	msg, _ := json.Marshal(map[string]any{"type": "resize", "cols": 132, "rows": 43})
	if err := ws.Write(wctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	send("stty size\n")
	out.await(wctx, "43 132")

	// Revocation ends the terminal with 1008 and the reason.
	if st, raw := e.Do(t, "POST", path+"/"+got.SessionID+":revoke", map[string]string{"revoke_reason": "operator_request"}, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, raw)
	}
	select {
	case err := <-out.done:
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("after revocation the terminal ended with %v, want 1008", err)
		}
	case <-wctx.Done():
		t.Fatal("the terminal is still open after revocation")
	}
}

// dialTerminal sends the terminal's upgrade request and returns a refusal.
func dialTerminal(t *testing.T, e *apptest.Env, path, origin string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.Token)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// termReader collects the terminal's output.
type termReader struct {
	t    *testing.T
	ws   *websocket.Conn
	got  chan []byte
	done chan error
}

func (r *termReader) run(ctx context.Context) {
	for {
		_, msg, err := r.ws.Read(ctx)
		if err != nil {
			r.done <- err
			return
		}
		r.got <- msg
	}
}

// await reads output until it contains want.
func (r *termReader) await(ctx context.Context, want string) {
	r.t.Helper()
	var seen []byte
	for !bytes.Contains(seen, []byte(want)) {
		select {
		case b := <-r.got:
			seen = append(seen, b...)
		case err := <-r.done:
			r.t.Fatalf("the terminal closed (%v) before %q; output: %q", err, want, seen)
		case <-ctx.Done():
			r.t.Fatalf("no %q in the terminal's output: %q", want, seen)
		}
	}
}
