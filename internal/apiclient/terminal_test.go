package apiclient

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 13: OpenTerminal sends the operator's credential and the size,
// input travels as binary messages, Resize as the protocol's text
// message, and a 1008 close is explained by CloseReason.
func TestOpenTerminal(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	resized := make(chan string, 1)
	srv.Handle("GET /v1/projects/p1/sessions/s1/terminal", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer ws.CloseNow()
		for {
			typ, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if typ == websocket.MessageText {
				resized <- string(msg)
				_ = ws.Close(websocket.StatusPolicyViolation, "session_expired")
				return
			}
			_ = ws.Write(r.Context(), websocket.MessageBinary, append([]byte("out:"), msg...))
		}
	})
	term, err := newTestClient(t, srv).OpenTerminal(t.Context(), "p1", "s1", 132, 43)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	req := srv.Last()
	if req.Query.Get("cols") != "132" || req.Query.Get("rows") != "43" {
		t.Errorf("query = %v", req.Query)
	}
	if req.Header.Get("Authorization") != "Bearer "+testToken || req.Header.Get(SessionTokenHeader) != "" {
		t.Errorf("headers = %v", req.Header)
	}
	if _, err := term.Write([]byte("ls\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(term, buf, len("out:ls\r"))
	if err != nil || string(buf[:n]) != "out:ls\r" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if err := term.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if got := <-resized; got != `{"type":"resize","cols":100,"rows":30}` {
		t.Errorf("resize message %s", got)
	}
	_, err = io.ReadAll(term)
	code, reason, ok := CloseReason(err)
	if !ok || code != int(websocket.StatusPolicyViolation) || reason != "session_expired" {
		t.Errorf("CloseReason(%v) = %d %q %v", err, code, reason, ok)
	}
}

// Issue 13: refusals before the upgrade are problems; empty ids are
// refused before anything is sent; zero sizes leave the server's default.
func TestOpenTerminalRefused(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Problem("GET /v1/projects/p1/sessions/s2/terminal", apiv1.Problem{Status: 409, Code: "session_not_terminal",
		Title: "Conflict"})
	c := newTestClient(t, srv)
	if _, err := c.OpenTerminal(t.Context(), "p1", "", 80, 24); !errors.Is(err, ErrMissingID) {
		t.Errorf("empty session id: %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	_, err := c.OpenTerminal(t.Context(), "p1", "s2", 0, 0)
	if !IsCode(err, "session_not_terminal") || StatusCode(err) != 409 {
		t.Fatalf("err = %v", err)
	}
	if q := srv.Last().Query; q.Has("cols") || q.Has("rows") {
		t.Errorf("query = %v", q)
	}
}
