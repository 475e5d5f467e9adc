package conformance

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Mediated access sessions (issue 12), from the contract's Session,
// SessionTarget (SSH, K8s, TCP), SessionList and IssuedSession.
var (
	sessionKind  = enum("ssh", "k8s", "tcp")
	revokeReason = enum("operator_request", "policy_violation", "identity_compromise", "resource_decommissioned",
		"ttl_expired", "idle_timeout")
	sessionTarget = object(
		opt("ssh", object(req("user", str), opt("allowed_commands", arrayOf(str)))),
		opt("k8s", object(req("user", str), opt("impersonate_groups", arrayOf(str)))),
		opt("tcp", object(req("host", str), req("port", integer))))
	session = object(req("id", str), req("project_id", str), req("domain_id", str), req("resource_id", str),
		req("identity_id", str), req("kind", sessionKind), req("status", enum("active", "revoked", "expired")),
		req("issued_at", dateTime), req("expires_at", dateTime), req("last_active_at", dateTime),
		opt("idle_timeout_seconds", integer), opt("revoked_at", orNull(dateTime)), opt("revoke_reason", revokeReason),
		req("target", sessionTarget))
	sessionList   = object(req("items", arrayOf(session)), opt("next_cursor", orNull(str)))
	issuedSession = object(req("session_id", str), req("token", str), req("expires_at", dateTime),
		opt("listener_endpoint", str), req("session", session))
)

// TestSessionsConformance issues an ssh, a tcp and a k8s session on a
// level-2 node's Resource, lists and reads them, has the node report
// activity, revokes one, and decodes every
// answer strictly, on both databases. Beyond what decodeStrict checks (it
// lets any optional property be null), it holds the Session to the
// contract's nullability: revoke_reason is never null (absent while live),
// revoked_at is absent or null while live and a date-time once revoked,
// and integers fit the generated client's int32.
func TestSessionsConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			c := &client{env: apptest.Start(t, b)}
			c.sessions(t)
		})
	}
}

func (c *client) sessions(t *testing.T) {
	enr := c.env.NewEnrolment(t, "sessions", "100.83.0.0/24", 2)
	node := c.env.RegisterNode(t, enr.Token.Token, "conf-access", nodeproto.Level2)
	var n apiv1.Node
	if st, raw := c.env.Do(t, "GET", "/v1/nodes/"+node.ID, nil, &n); st != 200 || n.ResourceID == "" {
		t.Fatalf("node: %d %s", st, raw)
	}
	pid := enr.Project.ID
	base := "/v1/projects/" + pid + "/sessions"
	subject := str0(c.ok(t, "GET", "/v1/auth/whoami", nil, whoami), "subject")
	requests := map[string]map[string]any{
		"ssh": {"resource_id": n.ResourceID, "kind": "ssh", "requested_ttl_seconds": 600, "idempotency_key": "conf-ssh",
			"target":     map[string]any{"ssh": map[string]any{"user": "root", "allowed_commands": []string{"uptime"}}},
			"public_key": sshPublicKey(t)},
		"tcp": {"resource_id": n.ResourceID, "kind": "tcp", "target": map[string]any{"tcp": map[string]any{"host": "127.0.0.1", "port": 5432}}},
		"k8s": {"resource_id": n.ResourceID, "kind": "k8s", "target": map[string]any{"k8s": map[string]any{"user": subject}}},
	}
	ids := map[string]string{}
	t.Run("IssueSession", func(t *testing.T) {
		for _, kind := range []string{"ssh", "tcp", "k8s"} {
			st, hdr, raw := c.post(t, base, requests[kind])
			if st != http.StatusCreated {
				t.Errorf("IssueSession %s: status %d, the contract has 201: %s", kind, st, raw)
				continue
			}
			report(t, "POST", base+" ("+kind+")", decodeStrict(raw, issuedSession))
			var out struct {
				SessionID string          `json:"session_id"`
				Session   json.RawMessage `json:"session"`
			}
			json.Unmarshal(raw, &out)
			ids[kind] = out.SessionID
			c.live(t, "IssueSession "+kind, out.Session)
			if loc := hdr.Get("Location"); loc != base+"/"+out.SessionID {
				t.Errorf("IssueSession %s: Location %q, want the session's read path", kind, loc)
			}
		}
		// The same idempotency key: the original session, still 201.
		st, _, raw := c.post(t, base, requests["ssh"])
		report(t, "POST", base+" (replay)", decodeStrict(raw, issuedSession))
		if st != http.StatusCreated || !strings.Contains(string(raw), ids["ssh"]) {
			t.Errorf("IssueSession replay: %d %s", st, raw)
		}
		wrong := map[string]any{"resource_id": n.ResourceID, "kind": "ssh",
			"target": map[string]any{"tcp": map[string]any{"host": "127.0.0.1", "port": 22}}}
		c.problem(t, c.env.Token, "POST", base, wrong, 400, "invalid_target")
		unknown := map[string]any{"resource_id": "0190b6f2-0000-7000-8000-000000000001", "kind": "tcp",
			"target": map[string]any{"tcp": map[string]any{"host": "127.0.0.1", "port": 22}}}
		c.problem(t, c.env.Token, "POST", base, unknown, 404, "resource_not_found")
	})
	if ids["ssh"] == "" {
		t.Fatal("no ssh session to go on with")
	}
	t.Run("ListSessions", func(t *testing.T) {
		l := c.ok(t, "GET", base, nil, sessionList)
		if items, _ := l["items"].([]any); l != nil && len(items) != 3 {
			t.Errorf("ListSessions: %d items, want 3", len(items))
		}
		c.listed(t, base)
		page := c.ok(t, "GET", base+"?limit=1", nil, sessionList)
		next, _ := page["next_cursor"].(string)
		if next == "" {
			t.Fatal("ListSessions: no next_cursor on a partial page")
		}
		c.ok(t, "GET", base+"?limit=1&cursor="+next, nil, sessionList)
		c.ok(t, "GET", base+"?status=active&kind=ssh", nil, sessionList)
		c.problem(t, c.env.Token, "GET", base+"?cursor=tampered", nil, 400, "invalid_cursor")
		c.problem(t, c.env.Token, "GET", "/v1/projects/0190b6f2-0000-7000-8000-000000000000/sessions", nil, 404, "project_not_found")
	})
	t.Run("GetSession", func(t *testing.T) {
		for kind, id := range ids {
			c.ok(t, "GET", base+"/"+id, nil, session)
			_, raw := c.call(t, c.env.Token, "GET", base+"/"+id, nil)
			c.live(t, "GetSession "+kind, raw)
		}
		c.problem(t, c.env.Token, "GET", base+"/0190b6f2-0000-7000-8000-000000000002", nil, 404, "session_not_found")
		c.problem(t, c.env.Token, "GET", base+"/not-a-uuid", nil, 400, "invalid_session_id")
	})
	// The node reports in the contract's SessionActivityRequest forms
	// (204, no body); an unknown session is 404.
	t.Run("PostNodeSessionCallback", func(t *testing.T) {
		cb := "/v1/nodes/" + node.ID + "/sessions/"
		now := time.Now().UTC().Format(time.RFC3339)
		c.okAs(t, node.NSK, "POST", cb+ids["ssh"], map[string]any{"ssh": map[string]any{"command": "uptime", "exit_code": 0,
			"started_at": now, "completed_at": now}}, nil)
		c.okAs(t, node.NSK, "POST", cb+ids["tcp"], map[string]any{"tcp": map[string]any{"phase": "session_started",
			"target_host": "127.0.0.1", "target_port": 5432}}, nil)
		c.problem(t, node.NSK, "POST", cb+"0190b6f2-0000-7000-8000-000000000002", map[string]any{"ssh": map[string]any{"command": "x"}},
			404, "session_not_found")
	})
	t.Run("RevokeSession", func(t *testing.T) {
		path := base + "/" + ids["ssh"] + ":revoke"
		for range 2 { // a repeat is 204 too
			c.ok(t, "POST", path, map[string]any{"revoke_reason": "operator_request"}, nil)
		}
		c.problem(t, c.env.Token, "POST", path, map[string]any{"revoke_reason": "sometime"}, 400, "invalid_body")
		c.problem(t, c.env.Token, "POST", base+"/0190b6f2-0000-7000-8000-000000000002:revoke",
			map[string]any{"revoke_reason": "operator_request"}, 404, "session_not_found")
		s := c.ok(t, "GET", base+"/"+ids["ssh"], nil, session)
		if s != nil && (s["status"] != "revoked" || s["revoke_reason"] != "operator_request" || s["revoked_at"] == nil) {
			t.Errorf("GetSession after revoke: %v", s)
		}
		c.ok(t, "GET", base+"?status=revoked", nil, sessionList)
		c.listed(t, base)
	})
}

// post sends an issuance and returns the status, headers and body.
func (c *client) post(t *testing.T, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", c.env.URL+path, strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("Authorization", "Bearer "+c.env.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out json.RawMessage
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

// listed holds every listed Session to the contract's nullability.
func (c *client) listed(t *testing.T, base string) {
	t.Helper()
	_, raw := c.call(t, c.env.Token, "GET", base, nil)
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	json.Unmarshal(raw, &l)
	for _, it := range l.Items {
		c.live(t, "ListSessions", it)
	}
}

// live checks what decodeStrict lets pass on one Session: revoke_reason
// is never null and is absent while the session is active, revoked_at is
// a date-time on a revoked session and absent or null otherwise, and the
// integers fit an int32.
func (c *client) live(t *testing.T, op string, raw []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Errorf("%s: not an object: %s", op, raw)
		return
	}
	var status string
	json.Unmarshal(m["status"], &status)
	reason, hasReason := m["revoke_reason"]
	at, hasAt := m["revoked_at"]
	switch {
	case hasReason && string(reason) == "null":
		t.Errorf("%s: revoke_reason is null; the contract's is not nullable (leave it out)", op)
	case status == "active" && hasReason:
		t.Errorf("%s: a live session carries revoke_reason %s", op, reason)
	case status == "active" && hasAt && string(at) != "null":
		t.Errorf("%s: a live session carries revoked_at %s", op, at)
	case status == "revoked" && (!hasAt || string(at) == "null" || !hasReason):
		t.Errorf("%s: a revoked session without revoked_at or revoke_reason: %s", op, raw)
	}
	for _, k := range []string{"idle_timeout_seconds"} {
		var n float64
		if v, ok := m[k]; ok && (json.Unmarshal(v, &n) != nil || n < math.MinInt32 || n > math.MaxInt32) {
			t.Errorf("%s: %s %s does not fit the generated client's int32", op, k, v)
		}
	}
}

func sshPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p)))
}
