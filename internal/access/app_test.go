package access_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// world is a Domain with a Project, one level-2 node and its Resource.
type world struct {
	e    *apptest.Env
	enr  apptest.Enrolment
	node apptest.Node
	rid  string
}

func newWorld(t testing.TB, b apptest.Backend, tune func(*config.Config)) *world {
	t.Helper()
	e := apptest.StartConfig(t, b, tune)
	w := &world{e: e, enr: e.NewEnrolment(t, "acc", "100.81.0.0/24", 2)}
	w.node = e.RegisterNode(t, w.enr.Token.Token, "web1", nodeproto.Level2)
	var n apiv1.Node
	if st, raw := e.Do(t, "GET", "/v1/nodes/"+w.node.ID, nil, &n); st != 200 {
		t.Fatalf("node: %d %s", st, raw)
	}
	w.rid = n.ResourceID
	return w
}

func (w *world) path(s ...string) string {
	return "/v1/projects/" + w.enr.Project.ID + "/sessions" + strings.Join(s, "")
}

func sshPublicKey(t testing.TB) string {
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

func (w *world) sshRequest(t testing.TB, key string) apiv1.IssueSessionRequest {
	return apiv1.IssueSessionRequest{ResourceID: w.rid, Kind: "ssh",
		Target: apiv1.SessionTarget{SSH: &nodeproto.SSHTarget{User: "root"}}, PublicKey: sshPublicKey(t), IdempotencyKey: key}
}

func code(raw []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(raw, &p)
	return p.Code
}

// events reads the node's event log entries of a type.
func (w *world) events(t *testing.T, typ string) []string {
	t.Helper()
	rows, err := w.e.Server.DB.Query(`SELECT payload FROM event_log WHERE node_id = $1 AND event_type = $2 ORDER BY seq`, w.node.ID, typ)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		rows.Scan(&p)
		out = append(out, p)
	}
	return out
}

// audited lists the actions of the Domain's chain that touch the session.
func (w *world) audited(t *testing.T, sessionID string) []string {
	t.Helper()
	rows, err := w.e.Server.DB.Query(`SELECT action, reason FROM audit_entries WHERE chain_id = $1 AND object_id = $2 ORDER BY seq`,
		w.enr.Domain.ID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, r string
		rows.Scan(&a, &r)
		out = append(out, a+" "+r)
	}
	return out
}

// TestSessionLifecycle is issuance to revocation on the real control
// plane: the token verifies with the Domain key and names the node, the
// node is told, repeats are idempotent, activity and a recording are
// stored and audited, revoke reaches the node and ends the session.
func TestSessionLifecycle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newWorld(t, b, nil)
			req := w.sshRequest(t, "k1")
			req.RequestedTTLSeconds = 86400 // clamped to the 15-minute maximum
			var got apiv1.IssuedSession
			st, raw := w.e.Do(t, "POST", w.path(), req, &got)
			if st != 201 || got.Token == "" || got.SessionID != got.Session.ID || got.Session.Status != "active" {
				t.Fatalf("issue: %d %s", st, raw)
			}
			if ttl := got.ExpiresAt.Sub(got.Session.IssuedAt); ttl != 15*time.Minute {
				t.Errorf("ttl %s, want the 15m clamp", ttl)
			}
			keys, err := w.e.Server.Keys.PublicKeys(t.Context(), w.enr.Domain.ID)
			if err != nil {
				t.Fatal(err)
			}
			c, err := accesstoken.Verify(got.Token, []ed25519.PublicKey{keys[0].Public}, accesstoken.NodeAudience(w.node.ID), time.Now())
			if err != nil || c.ID != got.SessionID || c.Kind != "ssh" || c.Target.User() != "root" || c.AuthorizedKey != req.PublicKey ||
				c.Issuer != "domain:"+w.enr.Domain.ID || c.Source == "" {
				t.Fatalf("token: %+v %v", c, err)
			}
			if _, err := accesstoken.Verify(got.Token, []ed25519.PublicKey{keys[0].Public}, accesstoken.ResourceAudience(w.rid), time.Now()); err != nil {
				t.Errorf("resource audience: %v", err)
			}
			setups := w.events(t, nodeproto.EventSessionSetup)
			if len(setups) != 1 {
				t.Fatalf("session_setup events: %v", setups)
			}
			var setup nodeproto.SessionSetup
			if err := json.Unmarshal([]byte(setups[0]), &setup); err != nil || setup.Validate(time.Now()) != nil ||
				setup.JTI != got.SessionID || setup.AuthorizedKey != req.PublicKey || setup.Source != c.Source ||
				!strings.HasSuffix(setup.CallbackURL, "/v1/nodes/"+w.node.ID+"/sessions/"+got.SessionID) {
				t.Fatalf("session_setup %s: %v", setups[0], setup.Validate(time.Now()))
			}
			// The same key while live: the same session and the same token.
			var again apiv1.IssuedSession
			if st, raw := w.e.Do(t, "POST", w.path(), req, &again); st != 201 || again.SessionID != got.SessionID || again.Token != got.Token {
				t.Fatalf("idempotent repeat: %d %s", st, raw)
			}
			other := req
			other.Kind, other.Target, other.PublicKey = "tcp", apiv1.SessionTarget{TCP: &nodeproto.TCPTarget{Host: "127.0.0.1", Port: 80}}, ""
			if st, raw := w.e.Do(t, "POST", w.path(), other, nil); st != 409 || code(raw) != "idempotent_replay" {
				t.Errorf("key reused for another request: %d %s", st, raw)
			}
			// Reads never carry the token.
			var one apiv1.Session
			st, raw = w.e.Do(t, "GET", w.path("/", got.SessionID), nil, &one)
			if st != 200 || one.Status != "active" || one.NodeID != w.node.ID || bytes.Contains(raw, []byte(got.Token)) {
				t.Fatalf("get: %d %s", st, raw)
			}
			var list apiv1.List[apiv1.Session]
			if st, raw := w.e.Do(t, "GET", w.path("?status=active&kind=ssh"), nil, &list); st != 200 || len(list.Items) != 1 ||
				bytes.Contains(raw, []byte(got.Token)) {
				t.Fatalf("list: %d %s", st, raw)
			}

			// The node reports the connection and a command.
			cb := "/v1/nodes/" + w.node.ID + "/sessions/" + got.SessionID
			exit := 0
			for _, a := range []nodeproto.SessionActivity{
				{SSH: &nodeproto.SSHActivity{Phase: nodeproto.PhaseStarted}},
				{SSH: &nodeproto.SSHActivity{Command: "uname -a", ExitCode: &exit}},
			} {
				if resp, raw := w.e.NodeSend(t, w.node, "POST", cb, a, nil); resp.StatusCode != 204 {
					t.Fatalf("activity: %d %s", resp.StatusCode, raw)
				}
			}
			if resp, raw := w.e.NodeSend(t, w.node, "POST", cb, nodeproto.SessionActivity{TCP: &nodeproto.TCPActivity{Phase: "session_started"}}, nil); resp.StatusCode != 400 {
				t.Errorf("activity of another kind: %d %s", resp.StatusCode, raw)
			}
			stranger := w.e.RegisterNode(t, w.enr.Token.Token, "web2", nodeproto.Level2)
			if resp, raw := w.e.NodeSend(t, stranger, "POST", cb, nodeproto.SessionActivity{SSH: &nodeproto.SSHActivity{Command: "x"}}, nil); resp.StatusCode != 403 ||
				code(raw) != "nsk_node_mismatch" {
				t.Errorf("another node's callback: %d %s", resp.StatusCode, raw)
			}
			// A recording in two chunks, a retried chunk, then the final mark.
			cast := []byte("{\"version\":2,\"width\":80,\"height\":24}\n[0.1,\"o\",\"hello\\r\\n\"]\n")
			send := func(off int, chunk []byte, final bool) int {
				h := http.Header{nodeproto.HeaderRecordingOffset: {itoa(off)}, "Content-Type": {"application/octet-stream"}}
				if final {
					h.Set(nodeproto.HeaderRecordingFinal, "1")
				}
				resp, raw := w.e.NodeSendRaw(t, w.node, "POST", cb+"/recording", chunk, h)
				if resp.StatusCode != 204 {
					t.Logf("recording chunk at %d: %d %s", off, resp.StatusCode, raw)
				}
				return resp.StatusCode
			}
			if s1, s2, s3, gap := send(0, cast[:20], false), send(0, cast[:20], false), send(20, cast[20:], false), send(500, []byte("x"), false); s1 != 204 || s2 != 204 || s3 != 204 || gap != 409 {
				t.Fatalf("recording chunks: %d %d %d, gap %d", s1, s2, s3, gap)
			}
			if st := send(len(cast), []byte{}, true); st != 204 {
				t.Fatalf("final chunk: %d", st)
			}
			resp, body := w.e.Send(t, w.e.Token, "GET", w.path("/", got.SessionID, "/recording"))
			sum := sha256.Sum256(cast)
			if resp.StatusCode != 200 || !bytes.Equal(body, cast) || resp.Header.Get("X-Plexsphere-Recording-Sha256") != hex.EncodeToString(sum[:]) {
				t.Fatalf("recording: %d %q %s", resp.StatusCode, body, resp.Header)
			}

			// Revoke: the node is told, the session ends, repeats are 204.
			for range 2 {
				if st, raw := w.e.Do(t, "POST", w.path("/", got.SessionID, ":revoke"), map[string]string{"revoke_reason": "operator_request"}, nil); st != 204 {
					t.Fatalf("revoke: %d %s", st, raw)
				}
			}
			if st, raw := w.e.Do(t, "POST", w.path("/", got.SessionID, ":revoke"), map[string]string{"revoke_reason": "ttl_expired"}, nil); st != 400 {
				t.Errorf("revoke with a sweeper's reason: %d %s", st, raw)
			}
			if rv := w.events(t, nodeproto.EventSessionRevoked); len(rv) != 1 || !strings.Contains(rv[0], got.SessionID) {
				t.Fatalf("session_revoked events: %v", rv)
			}
			if st, _ := w.e.Do(t, "GET", w.path("/", got.SessionID), nil, &one); st != 200 || one.Status != "revoked" ||
				one.RevokeReason != "operator_request" || one.RevokedAt == nil {
				t.Fatalf("after revoke: %+v", one)
			}
			if resp, raw := w.e.NodeSend(t, w.node, "POST", cb, nodeproto.SessionActivity{SSH: &nodeproto.SSHActivity{Command: "ls"}}, nil); resp.StatusCode != 409 ||
				code(raw) != "session_already_revoked" {
				t.Errorf("command after revoke: %d %s", resp.StatusCode, raw)
			}
			end := nodeproto.SessionActivity{SSH: &nodeproto.SSHActivity{Phase: nodeproto.PhaseEnded, TerminatedBy: nodeproto.TerminatedRevoke}}
			if resp, raw := w.e.NodeSend(t, w.node, "POST", cb, end, nil); resp.StatusCode != 204 {
				t.Errorf("disconnect after revoke: %d %s", resp.StatusCode, raw)
			}
			// Issue, connect, revoke, disconnect, in that order, in the Domain's chain.
			trail := strings.Join(w.audited(t, got.SessionID), "\n")
			want := []string{"session.issue", "session.connect", "session.command command=\"uname -a\" exit_code=0",
				"session.recording sha256=" + hex.EncodeToString(sum[:]), "session.revoke", "session.disconnect terminated_by=operator_revoke"}
			at := 0
			for _, wnt := range want {
				i := strings.Index(trail[at:], wnt)
				if i < 0 {
					t.Fatalf("audit trail lacks %q after position %d:\n%s", wnt, at, trail)
				}
				at += i + len(wnt)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestIssuanceRefusals: the contract's order — ReBAC (403 before
// anything), step-up (401 with the challenge), bad targets, the Domain's
// caps (429 with Retry-After) — and the expiry sweep.
func TestIssuanceRefusals(t *testing.T) {
	w := newWorld(t, apptest.SQLite, func(c *config.Config) { c.SessionMaxLive = 2 })
	req := w.sshRequest(t, "")
	uid, userToken := w.e.NewUser(t, "mallory")
	if st, raw := w.e.DoAs(t, userToken, "POST", w.path(), req, nil); st != 403 {
		t.Errorf("no permission: %d %s", st, raw)
	}
	if n := len(w.events(t, nodeproto.EventSessionSetup)); n != 0 {
		t.Fatalf("a refused issuance told the node: %d events", n)
	}
	if st, raw := w.e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+w.enr.Project.ID, apiv1.WriteRelationTuple{Subject: "user:" + uid,
		Relation: "operator", Resource: "project:" + w.enr.Project.ID}, nil); st != 201 {
		t.Fatalf("grant: %d %s", st, raw)
	}
	resp, raw := w.e.SendJSON(t, userToken, "POST", w.path(), req)
	if resp.StatusCode != 401 || code(raw) != "step_up_required" {
		t.Errorf("operator without step-up: %d %s", resp.StatusCode, raw)
	}
	bad := []struct {
		name string
		req  apiv1.IssueSessionRequest
		want string
	}{
		{"tcp target for ssh", apiv1.IssueSessionRequest{ResourceID: w.rid, Kind: "ssh", PublicKey: req.PublicKey,
			Target: apiv1.SessionTarget{TCP: &nodeproto.TCPTarget{Host: "h", Port: 1}}}, "invalid_target"},
		{"ssh without a key", apiv1.IssueSessionRequest{ResourceID: w.rid, Kind: "ssh",
			Target: apiv1.SessionTarget{SSH: &nodeproto.SSHTarget{User: "root"}}}, "invalid_target"},
		{"two variants", apiv1.IssueSessionRequest{ResourceID: w.rid, Kind: "tcp",
			Target: apiv1.SessionTarget{TCP: &nodeproto.TCPTarget{Host: "h", Port: 1}, SSH: &nodeproto.SSHTarget{User: "x"}}}, "invalid_target"},
		{"k8s impersonating someone else", apiv1.IssueSessionRequest{ResourceID: w.rid, Kind: "k8s",
			Target: apiv1.SessionTarget{K8s: &nodeproto.K8sTarget{User: "system:admin"}}}, "invalid_target"},
		{"k8s with a group not the caller's", apiv1.IssueSessionRequest{ResourceID: w.rid, Kind: "k8s",
			Target: apiv1.SessionTarget{K8s: &nodeproto.K8sTarget{User: "admin", ImpersonateGroups: []string{"system:masters"}}}}, "invalid_target"},
	}
	for _, b := range bad {
		if st, raw := w.e.Do(t, "POST", w.path(), b.req, nil); st != 400 || code(raw) != b.want {
			t.Errorf("%s: %d %s", b.name, st, raw)
		}
	}
	// Two live sessions is the cap here; the third is refused.
	short := w.sshRequest(t, "")
	// Issuance truncates to the second, so a 2 s TTL leaves more than
	// one second to issue the next two.
	short.RequestedTTLSeconds = 2
	var first apiv1.IssuedSession
	if st, raw := w.e.Do(t, "POST", w.path(), short, &first); st != 201 {
		t.Fatalf("first: %d %s", st, raw)
	}
	if st, raw := w.e.Do(t, "POST", w.path(), w.sshRequest(t, ""), nil); st != 201 {
		t.Fatalf("second: %d %s", st, raw)
	}
	resp, raw = w.e.SendJSON(t, w.e.Token, "POST", w.path(), w.sshRequest(t, ""))
	if resp.StatusCode != 429 || code(raw) != "session_limit_exceeded" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the cap: %d %s %v", resp.StatusCode, raw, resp.Header)
	}
	// The short session expires; the sweeper closes it and audits.
	time.Sleep(2100 * time.Millisecond)
	if n, err := w.e.Server.Access.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	var one apiv1.Session
	if st, _ := w.e.Do(t, "GET", w.path("/", first.SessionID), nil, &one); st != 200 || one.Status != "expired" || one.RevokeReason != "ttl_expired" {
		t.Fatalf("after the sweep: %+v", one)
	}
	if trail := strings.Join(w.audited(t, first.SessionID), "\n"); !strings.Contains(trail, "session.expire ttl_expired") {
		t.Errorf("no expiry in the audit trail:\n%s", trail)
	}
	if st, raw := w.e.Do(t, "POST", w.path(), w.sshRequest(t, ""), nil); st != 201 {
		t.Errorf("after the expiry frees a slot: %d %s", st, raw)
	}
}

// TestAttachAndKubeRefusals: attach demands a WebSocket and a live ssh or
// tcp session of the caller; the Kubernetes path demands a live k8s
// session's token of that Resource.
func TestAttachAndKubeRefusals(t *testing.T) {
	w := newWorld(t, apptest.SQLite, nil)
	var ssh apiv1.IssuedSession
	if st, raw := w.e.Do(t, "POST", w.path(), w.sshRequest(t, ""), &ssh); st != 201 {
		t.Fatalf("issue: %d %s", st, raw)
	}
	if resp, raw := w.e.Send(t, w.e.Token, "GET", w.path("/", ssh.SessionID, "/attach")); resp.StatusCode != 426 ||
		code(raw) != "upgrade_required" || resp.Header.Get("Upgrade") != "websocket" {
		t.Errorf("attach without an upgrade: %d %s", resp.StatusCode, raw)
	}
	kube := "/v1/projects/" + w.enr.Project.ID + "/resources/" + w.rid + "/kube/api/v1/namespaces"
	for name, bearer := range map[string]string{"no token": "", "an ssh token": ssh.Token, "garbage": "x.y.z", "the admin token": w.e.Token} {
		resp, raw := w.e.Send(t, bearer, "GET", kube)
		if resp.StatusCode != 401 || code(raw) != "session_token_invalid" {
			t.Errorf("kube with %s: %d %s", name, resp.StatusCode, raw)
		}
	}
	if st, raw := w.e.Do(t, "POST", w.path("/", ssh.SessionID, ":revoke"), map[string]string{"revoke_reason": "operator_request"}, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, raw)
	}
	req, _ := http.NewRequest("GET", w.e.URL+w.path("/", ssh.SessionID, "/attach"), nil)
	req.Header.Set("Authorization", "Bearer "+w.e.Token)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != 409 || p.Code != "session_not_active" {
		t.Errorf("attach to a revoked session: %d %s", resp.StatusCode, p.Code)
	}
}
