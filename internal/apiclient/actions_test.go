package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func actionRoutes() []routeCase {
	const base = "/v1/projects/p1/executions"
	ex := Execution{ID: "e1", ProjectID: "p1", Action: "ping", Type: "builtin", Status: "pending",
		Targets: []ExecutionTarget{{NodeID: "n1", Status: "pending"}},
		Skipped: []SkippedTarget{{NodeID: "n2", Reason: "drifted"}}}
	return []routeCase{
		{name: "dispatch selector", pattern: "POST " + base + ":dispatch", status: http.StatusCreated, reply: ex,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.DispatchExecution(ctx, "p1", DispatchExecutionRequest{Action: "service.restart", Type: "builtin",
					Parameters: json.RawMessage(`{"unit":"nginx.service"}`), TimeoutSeconds: 300, Selector: "role=web",
					MaxInFlight: 10, StopAfterFailures: 2, IncludeDrifted: true, IdempotencyKey: "k1"})
			},
			want: "POST " + base + ":dispatch",
			body: `{"action":"service.restart","type":"builtin","parameters":{"unit":"nginx.service"},"timeout_seconds":300,` +
				`"selector":"role=web","max_in_flight":10,"stop_after_failures":2,"include_drifted":true,"idempotency_key":"k1"}`,
			check: func(t *testing.T, got any) {
				e := got.(*Execution)
				if e.ID != "e1" || len(e.Targets) != 1 || len(e.Skipped) != 1 || e.Skipped[0].Reason != "drifted" {
					t.Errorf("execution = %+v", e)
				}
			}},
		{name: "dispatch node list", pattern: "POST " + base + ":dispatch", status: http.StatusCreated, reply: ex,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.DispatchExecution(ctx, "p1", DispatchExecutionRequest{Action: "ping", NodeIDs: []string{"n1", "n2"}})
			},
			want: "POST " + base + ":dispatch", body: `{"action":"ping","node_ids":["n1","n2"]}`},
		{name: "preview", pattern: "POST " + base + ":preview",
			reply: DispatchPreview{Targets: []string{"n1"}, Skipped: []SkippedTarget{{NodeID: "n2", Reason: "insufficient_relation"}}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PreviewExecution(ctx, "p1", DispatchExecutionRequest{Action: "ping", NodeID: "n1"})
			},
			want: "POST " + base + ":preview", body: `{"action":"ping","node_id":"n1"}`,
			check: func(t *testing.T, got any) {
				p := got.(*DispatchPreview)
				if len(p.Targets) != 1 || p.Skipped[0].Reason != "insufficient_relation" {
					t.Errorf("preview = %+v", p)
				}
			}},
		{name: "list", pattern: "GET " + base, reply: apiv1.List[Execution]{Items: []Execution{ex}, NextCursor: "c2"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListExecutions(ctx, "p1", ExecutionFilter{Status: "failed", ActionName: "ping"},
					ListOptions{Cursor: "c1", Limit: 5})
			},
			want: "GET " + base + "?action_name=ping&cursor=c1&limit=5&status=failed",
			check: func(t *testing.T, got any) {
				if l := got.(*apiv1.List[Execution]); len(l.Items) != 1 || l.NextCursor != "c2" {
					t.Errorf("list = %+v", l)
				}
			}},
		{name: "get", pattern: "GET " + base + "/{id}", reply: ex,
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetExecution(ctx, "p1", "e1") },
			want: "GET " + base + "/e1"},
		{name: "cancel", pattern: "POST " + base + "/{id}/cancel", reply: ex,
			call: func(ctx context.Context, c *Client) (any, error) { return c.CancelExecution(ctx, "p1", "e1") },
			want: "POST " + base + "/e1/cancel"},
		{name: "capabilities", pattern: "GET /v1/projects/p1/capabilities",
			reply: apiv1.List[CapabilityRow]{Items: []CapabilityRow{{NodeID: "n1", Status: "drift", Hooks: []string{"h"}}}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListCapabilities(ctx, "p1", CapabilityFilter{NodeID: "n1", Status: "drift"}, ListOptions{})
			},
			want: "GET /v1/projects/p1/capabilities?node_id=n1&status=drift"},
		{name: "hooks", pattern: "GET /v1/hooks", reply: apiv1.List[DiscoveredHook]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListHooks(ctx, HookFilter{DomainID: "d1", ProjectID: "p1", ImageDigestMatch: ptr(false)}, ListOptions{})
			},
			want: "GET /v1/hooks?domain_id=d1&image_digest_match=false&project_id=p1"},
		{name: "hooks unfiltered", pattern: "GET /v1/hooks", reply: apiv1.List[DiscoveredHook]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListHooks(ctx, HookFilter{}, ListOptions{})
			},
			want: "GET /v1/hooks"},
		{name: "violations", pattern: "GET /v1/integrity-violations", reply: apiv1.List[IntegrityViolation]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListIntegrityViolations(ctx, IntegrityFilter{DomainID: "d1", ProjectID: "p1", NodeID: "n1",
					Kind: "hook", Status: "open"}, ListOptions{Limit: 2})
			},
			want: "GET /v1/integrity-violations?domain_id=d1&kind=hook&limit=2&node_id=n1&project_id=p1&status=open"},
		{name: "acknowledge", pattern: "POST /v1/integrity-violations/{id}/acknowledge",
			reply: IntegrityViolation{ID: "v1", Status: "acknowledged", AcknowledgeReason: "expected"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.AcknowledgeIntegrityViolation(ctx, "v1", "expected")
			},
			want: "POST /v1/integrity-violations/v1/acknowledge", body: `{"reason":"expected"}`,
			check: func(t *testing.T, got any) {
				if v := got.(*IntegrityViolation); v.Status != "acknowledged" || v.AcknowledgeReason != "expected" {
					t.Errorf("violation = %+v", v)
				}
			}},
	}
}

// Issue 14: every fleet-operation method sends its operation's request
// (path, filters, body) and decodes the answer.
func TestActionRoutes(t *testing.T) {
	for _, tc := range actionRoutes() {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiclienttest.NewServer(t)
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			srv.JSON(tc.pattern, status, tc.reply)
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

// Issue 14: ids are checked before anything is sent.
func TestActionMissingIDs(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	c := newTestClient(t, srv)
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"dispatch": func() error { _, err := c.DispatchExecution(ctx, "", DispatchExecutionRequest{}); return err },
		"get":      func() error { _, err := c.GetExecution(ctx, "p1", " "); return err },
		"cancel":   func() error { _, err := c.CancelExecution(ctx, "", "e1"); return err },
		"caps":     func() error { _, err := c.ListCapabilities(ctx, "", CapabilityFilter{}, ListOptions{}); return err },
		"ack":      func() error { _, err := c.AcknowledgeIntegrityViolation(ctx, "", "r"); return err },
		"stream":   func() error { _, err := c.StreamExecution(ctx, "p1", ""); return err },
	} {
		if err := call(); !errors.Is(err, ErrMissingID) {
			t.Errorf("%s: err = %v, want ErrMissingID", name, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Issue 14: acknowledge is step-up sensitive; the refusal keeps its code
// and challenge.
func TestAcknowledgeStepUp(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("POST /v1/integrity-violations/v1/acknowledge", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="phr"`)
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 401, Code: "step_up_required", Title: "Unauthorized"})
	})
	_, err := newTestClient(t, srv).AcknowledgeIntegrityViolation(t.Context(), "v1", "ok")
	var e *Error
	if !errors.As(err, &e) || e.Code != "step_up_required" || !strings.Contains(e.Challenge, `acr_values="phr"`) {
		t.Fatalf("err = %v", err)
	}
}

// Issue 14: the progress stream yields target and execution events in
// order, skips comments and unknown events, and ends with io.EOF.
func TestStreamExecution(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("GET /v1/projects/p1/executions/e1/events", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, ": hello\n\n"+
			"id: 1\nevent: target\ndata: {\"node_id\":\"n1\",\"status\":\"started\"}\n\n"+
			"event: other\ndata: {}\n\n"+
			"id: 2\nevent: target\ndata: {\"node_id\":\"n1\",\"status\":\"succeeded\",\n"+
			"data: \"exit_code\":0}\n\n"+
			"id: 3\nevent: execution\ndata: {\"id\":\"e1\",\"status\":\"succeeded\",\"targets\":[]}\n\n")
	})
	s, err := newTestClient(t, srv).StreamExecution(t.Context(), "p1", "e1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Target != nil:
			exit := "-"
			if ev.Target.ExitCode != nil {
				exit = strconv.Itoa(*ev.Target.ExitCode)
			}
			got = append(got, ev.ID+" target "+ev.Target.NodeID+" "+ev.Target.Status+" "+exit)
		case ev.Execution != nil:
			got = append(got, ev.ID+" execution "+ev.Execution.Status)
		}
	}
	want := "1 target n1 started -|2 target n1 succeeded 0|3 execution succeeded"
	if strings.Join(got, "|") != want {
		t.Errorf("events = %q, want %q", strings.Join(got, "|"), want)
	}
	if a := srv.Last().Header.Get("Accept"); a != "text/event-stream, application/problem+json" {
		t.Errorf("Accept = %q", a)
	}
}

// Issue 14: an event whose data is not JSON is an error, not a skip.
func TestStreamExecutionBadEvent(t *testing.T) {
	s := NewExecutionStream(io.NopCloser(strings.NewReader("event: target\ndata: {nope\n\n")))
	if _, err := s.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("err = %v", err)
	}
}
