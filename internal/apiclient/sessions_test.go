package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func sessionRoutes() []routeCase {
	const base = "/v1/projects/p1/sessions"
	exp := time.Date(2025, 6, 1, 12, 15, 0, 0, time.UTC)
	return []routeCase{
		{name: "issue ssh", pattern: "POST " + base, status: http.StatusCreated,
			reply: IssuedSession{SessionID: "s1", Token: "jwt.s1", ExpiresAt: exp,
				Session: Session{ID: "s1", Kind: SessionKindSSH, Status: "active"}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.IssueSession(ctx, "p1", IssueSessionRequest{ResourceID: "r1", Kind: SessionKindSSH,
					Target:              SessionTarget{SSH: &SSHTarget{User: "root", AllowedCommands: []string{"uptime"}}},
					RequestedTTLSeconds: 600, PublicKey: "ssh-ed25519 AAAA"})
			},
			want: "POST " + base,
			body: `{"resource_id":"r1","kind":"ssh","target":{"ssh":{"user":"root","allowed_commands":["uptime"]}},` +
				`"requested_ttl_seconds":600,"public_key":"ssh-ed25519 AAAA"}`,
			check: func(t *testing.T, got any) {
				s := got.(*IssuedSession)
				if s.SessionID != "s1" || s.Token != "jwt.s1" || !s.ExpiresAt.Equal(exp) || s.Session.Status != "active" {
					t.Errorf("issued = %+v", s)
				}
			}},
		{name: "issue tcp", pattern: "POST " + base, status: http.StatusCreated, reply: IssuedSession{SessionID: "s2"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.IssueSession(ctx, "p1", IssueSessionRequest{ResourceID: "r1", Kind: SessionKindTCP,
					Target: SessionTarget{TCP: &TCPTarget{Host: "127.0.0.1", Port: 5432}}})
			},
			want: "POST " + base,
			body: `{"resource_id":"r1","kind":"tcp","target":{"tcp":{"host":"127.0.0.1","port":5432}}}`},
		{name: "list", pattern: "GET " + base,
			reply: apiv1.List[Session]{Items: []Session{{ID: "s1", Target: SessionTarget{K8s: &K8sTarget{User: "alice"}}}}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListSessions(ctx, "p1", SessionFilter{Status: "active", Kind: "k8s", IdentityID: "i1"},
					ListOptions{Limit: 5})
			},
			want: "GET " + base + "?identity_id=i1&kind=k8s&limit=5&status=active",
			check: func(t *testing.T, got any) {
				l := got.(*apiv1.List[Session])
				if len(l.Items) != 1 || l.Items[0].Target.K8s == nil || l.Items[0].Target.K8s.User != "alice" {
					t.Errorf("list = %+v", l)
				}
			}},
		{name: "get", pattern: "GET " + base + "/{id}", reply: Session{ID: "s1", Kind: "tcp"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetSession(ctx, "p1", "s1") },
			want: "GET " + base + "/s1"},
		{name: "revoke", pattern: "POST " + base + "/{idverb}", status: http.StatusNoContent,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RevokeSession(ctx, "p1", "s1", "policy_violation")
			},
			want: "POST " + base + "/s1:revoke", body: `{"revoke_reason":"policy_violation"}`},
	}
}

// Issue 12: every session method sends its operation's request, with the
// contract's nested target and our public_key, and decodes the answer.
func TestSessionRoutes(t *testing.T) {
	for _, tc := range sessionRoutes() {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiclienttest.NewServer(t)
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			if tc.reply == nil {
				srv.Status(tc.pattern, status)
			} else {
				srv.JSON(tc.pattern, status, tc.reply)
			}
			got, err := tc.call(t.Context(), newTestClient(t, srv))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			req := srv.Last()
			if req.Pattern() != tc.want {
				t.Errorf("request = %q, want %q", req.Pattern(), tc.want)
			}
			assertJSONBody(t, req.Body, tc.body)
			assertHeaders(t, req, false, tc.body != "")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// Issue 12: a recording comes back as the raw bytes the server sent.
func TestGetRecording(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	const cast = "{\"version\":2,\"width\":80,\"height\":24}\n[0.5,\"o\",\"hi\\r\\n\"]\n"
	srv.Handle("GET /v1/projects/p1/sessions/s1/recording", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-asciicast")
		_, _ = io.WriteString(w, cast)
	})
	got, err := newTestClient(t, srv).GetRecording(t.Context(), "p1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != cast {
		t.Errorf("recording = %q", got)
	}
	if a := srv.Last().Header.Get("Accept"); a != "application/x-asciicast, application/octet-stream, application/problem+json" {
		t.Errorf("Accept = %q", a)
	}
}

// Issue 12: refusals of issuance keep their code, the step-up challenge
// and the Retry-After of a full budget.
func TestIssueSessionRefusals(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("POST /v1/projects/p1/sessions", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="mfa"`)
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 401, Code: "step_up_required", Title: "Unauthorized"})
	})
	c := newTestClient(t, srv)
	_, err := c.IssueSession(t.Context(), "p1", IssueSessionRequest{ResourceID: "r1", Kind: "ssh"})
	var e *Error
	if !errors.As(err, &e) || e.Code != "step_up_required" || e.Status != 401 {
		t.Fatalf("err = %v", err)
	}
	if e.Challenge != `Bearer error="insufficient_user_authentication", acr_values="mfa"` {
		t.Errorf("Challenge = %q", e.Challenge)
	}

	srv2 := apiclienttest.NewServer(t)
	srv2.Handle("POST /v1/projects/p1/sessions", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 429, Code: "session_limit_exceeded", Title: "Too Many Requests"})
	})
	_, err = newTestClient(t, srv2).IssueSession(t.Context(), "p1", IssueSessionRequest{ResourceID: "r1", Kind: "tcp"})
	if !IsCode(err, "session_limit_exceeded") || !errors.As(err, &e) || e.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v", err)
	}
}

// Issue 12: the session methods refuse empty ids before sending anything.
func TestSessionMethodsRequireIDs(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	c := newTestClient(t, srv)
	ctx := t.Context()
	for name, err := range map[string]error{
		"IssueSession no project":  func() error { _, err := c.IssueSession(ctx, "", IssueSessionRequest{ResourceID: "r"}); return err }(),
		"IssueSession no resource": func() error { _, err := c.IssueSession(ctx, "p1", IssueSessionRequest{}); return err }(),
		"ListSessions":             func() error { _, err := c.ListSessions(ctx, " ", SessionFilter{}, ListOptions{}); return err }(),
		"GetSession":               func() error { _, err := c.GetSession(ctx, "p1", ""); return err }(),
		"RevokeSession":            c.RevokeSession(ctx, "p1", "", "operator_request"),
		"GetRecording":             func() error { _, err := c.GetRecording(ctx, "", "s1"); return err }(),
		"Attach":                   func() error { _, err := c.Attach(ctx, "p1", "s1", ""); return err }(),
	} {
		if !errors.Is(err, ErrMissingID) {
			t.Errorf("%s: err = %v, want ErrMissingID", name, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Issue 12: Attach presents both credentials, and the stream carries
// binary messages both ways.
func TestAttach(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("GET /v1/projects/p1/sessions/s1/attach", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer ws.CloseNow()
		typ, msg, err := ws.Read(r.Context())
		if err != nil || typ != websocket.MessageBinary {
			t.Errorf("read: %v %v", typ, err)
			return
		}
		_ = ws.Write(r.Context(), websocket.MessageBinary, append([]byte("echo:"), msg...))
		_ = ws.Close(websocket.StatusNormalClosure, "")
	})
	conn, err := newTestClient(t, srv).Attach(t.Context(), "p1", "s1", "jwt.s1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != "echo:ping" {
		t.Errorf("got %q", got)
	}
	req := srv.Last()
	if req.Header.Get("Authorization") != "Bearer "+testToken || req.Header.Get(SessionTokenHeader) != "jwt.s1" {
		t.Errorf("headers = %v", req.Header)
	}
}

// Issue 12: a refusal before the upgrade is a problem with its code; a
// close frame after it is explained by CloseReason.
func TestAttachRefusedAndClosed(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Problem("GET /v1/projects/p1/sessions/gone/attach", apiv1.Problem{Status: 409, Code: "session_not_active",
		Title: "Conflict", Detail: "the session is revoked"})
	srv.Handle("GET /v1/projects/p1/sessions/s1/attach", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = ws.Close(websocket.StatusPolicyViolation, "session_revoked: operator_request")
	})
	c := newTestClient(t, srv)
	_, err := c.Attach(t.Context(), "p1", "gone", "jwt")
	if !IsCode(err, "session_not_active") || StatusCode(err) != 409 {
		t.Fatalf("err = %v", err)
	}
	conn, err := c.Attach(t.Context(), "p1", "s1", "jwt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(conn)
	code, reason, ok := CloseReason(err)
	if !ok || code != int(websocket.StatusPolicyViolation) || reason != "session_revoked: operator_request" {
		t.Errorf("CloseReason(%v) = %d %q %v", err, code, reason, ok)
	}
}
