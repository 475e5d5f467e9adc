package enroll_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/api"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/route"
)

// probeOutput answers the test-only node route.
type probeOutput struct {
	Body struct {
		Caller string `json:"caller"`
	}
}

// addProbe registers a test-only node-class operation, so NSK
// authentication is checked independently of the node endpoints' own
// handlers.
func addProbe(e *env) {
	huma.Register(e.Server.API.API, route.Op(http.MethodPost, "/v1/nodes/{id}/probe-test", "probeNodeTest", "node.probe",
		route.Node, "test only"), func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*probeOutput, error) {
		out := &probeOutput{}
		out.Body.Caller, _ = enroll.NodeFrom(ctx)
		return out, nil
	})
}

// TestNodeKindAgrees keeps the API middleware's node principal kind and the
// one enrolment's NodeFrom looks for equal.
func TestNodeKindAgrees(t *testing.T) {
	if enroll.KindNode != api.NodeKind {
		t.Fatalf("enroll.KindNode %q != api.NodeKind %q", enroll.KindNode, api.NodeKind)
	}
}

// TestNodeAuthAndLifecycle checks NSK authentication bound to the path
// (§3.3, C3, C14's "later calls get 401"), the operator node list, read and
// decommission (NSK revoked, IP freed, tuples gone), on both databases.
func TestNodeAuthAndLifecycle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			addProbe(e)
			testNodeLifecycle(t, e)
		})
	}
}

func testNodeLifecycle(t *testing.T, e *env) {
	f := e.fixture(t, "life", "100.80.0.0/24", "")
	g := e.fixture(t, "life-other", "100.81.0.0/24", "")
	tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).Token
	var a, b registered
	for _, r := range []*registered{&a, &b} {
		resp, raw := e.registerAgent(t, tok, newKey(), "n")
		if resp.StatusCode != 200 {
			t.Fatalf("register: %d %s", resp.StatusCode, raw)
		}
		*r = decodeRegistered(t, raw)
	}
	resp, raw := e.registerAgent(t, e.issue(t, g.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token, newKey(), "x")
	c := decodeRegistered(t, raw)
	if resp.StatusCode != 200 {
		t.Fatalf("register c: %d %s", resp.StatusCode, raw)
	}

	probe := func(nsk, id string) (int, []byte) {
		h := agentHeaders("")
		if nsk != "" {
			h["Authorization"] = "Bearer " + nsk
		}
		resp, raw := e.raw(t, "POST", "/v1/nodes/"+id+"/probe-test", h, []byte(`{}`))
		return resp.StatusCode, raw
	}
	if st, raw := probe(a.NodeSecretKey, a.NodeID); st != 200 || !strings.Contains(string(raw), a.NodeID) {
		t.Fatalf("own NSK: %d %s", st, raw)
	}
	st, raw := probe(b.NodeSecretKey, a.NodeID)
	wantProblem(t, st, raw, 403, "node_id_mismatch")
	h := map[string]string{"Authorization": "Bearer " + b.NodeSecretKey, "X-Plexd-Protocol": "2"}
	if resp, _ := e.raw(t, "POST", "/v1/nodes/"+a.NodeID+"/probe-test", h, []byte(`{}`)); resp.StatusCode != 403 ||
		resp.Header.Get("X-Plexsphere-Protocol") != "2" {
		t.Fatalf("N3 on a node auth error: %d %v", resp.StatusCode, resp.Header)
	}
	st, raw = probe("", a.NodeID)
	wantProblem(t, st, raw, 401, "unauthenticated")
	st, raw = probe(strings.Repeat("A", 32), a.NodeID)
	wantProblem(t, st, raw, 401, "unauthorized")
	st, raw = probe(e.Token, a.NodeID) // an operator token is not an NSK
	wantProblem(t, st, raw, 401, "unauthorized")
	// The NSK is rejected on operator routes too.
	st, raw = e.DoAs(t, a.NodeSecretKey, "GET", "/v1/nodes", nil, nil)
	wantProblem(t, st, raw, 401, "unauthenticated")

	// The event stream (a real node route) accepts the node's own NSK.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/v1/nodes/"+a.NodeID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.NodeSecretKey)
	req.Header.Set("Accept", "text/event-stream")
	if sresp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatalf("events: %v", err)
	} else {
		if sresp.StatusCode != 200 || !strings.HasPrefix(sresp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("C3 events with own NSK: %d %v", sresp.StatusCode, sresp.Header)
		}
		sresp.Body.Close()
	}
	cancel()
	st, raw = e.raw2(t, "GET", "/v1/nodes/"+a.NodeID+"/events", b.NodeSecretKey)
	wantProblem(t, st, raw, 403, "node_id_mismatch")

	// Operator list, filter, read.
	var list apiv1.List[apiv1.NodeSummary]
	if st, raw := e.Do(t, "GET", "/v1/nodes?domain_id="+f.domain.ID, nil, &list); st != 200 || len(list.Items) != 2 ||
		list.Items[0].ID != a.NodeID || list.Items[1].ID != b.NodeID {
		t.Fatalf("list by domain: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "GET", "/v1/nodes?limit=1", nil, &list); st != 200 || len(list.Items) != 1 || list.NextCursor == "" {
		t.Fatalf("list page: %d %s", st, raw)
	}
	st, raw = e.Do(t, "GET", "/v1/nodes?domain_id=nope", nil, nil)
	wantProblem(t, st, raw, 400, "invalid_domain_id")
	st, raw = e.Do(t, "GET", "/v1/nodes/nope", nil, nil)
	wantProblem(t, st, raw, 400, "invalid_node_id")

	// Registration told the earlier node about the later one (§4.2).
	var added int
	e.Server.DB.QueryRow(`SELECT COUNT(*) FROM event_log WHERE node_id = $1 AND event_type = 'peer_added'`, a.NodeID).Scan(&added)
	if added != 1 {
		t.Errorf("peer_added entries for the first node: %d, want 1", added)
	}

	// Decommission: 204, then the NSK is revoked, the node is gone for
	// operators, its IP is reused and its tuples are removed.
	if st, raw := e.Do(t, "DELETE", "/v1/nodes/"+a.NodeID, nil, nil); st != 204 {
		t.Fatalf("delete: %d %s", st, raw)
	}
	st, raw = probe(a.NodeSecretKey, a.NodeID)
	wantProblem(t, st, raw, 401, "nsk_revoked")
	st, raw = e.Do(t, "GET", "/v1/nodes/"+a.NodeID, nil, nil)
	wantProblem(t, st, raw, 404, "node_not_found")
	if st, _ := e.Do(t, "DELETE", "/v1/nodes/"+a.NodeID, nil, nil); st != 404 {
		t.Fatalf("second delete: %d", st)
	}
	var n int
	e.Server.DB.QueryRow(`SELECT COUNT(*) FROM relation_tuples WHERE resource_type = 'node' AND resource_id = $1`, a.NodeID).Scan(&n)
	if n != 0 {
		t.Fatalf("%d tuples left for a decommissioned node", n)
	}
	e.Server.DB.QueryRow(`SELECT COUNT(*) FROM relation_tuples WHERE resource_type = 'node' AND resource_id = $1`, b.NodeID).Scan(&n)
	if n != 3 {
		t.Fatalf("a live node has %d structural tuples, want 3", n)
	}
	// The freed IP is quarantined (internal/mesh): peers that missed
	// peer_removed may still route to it, so the next node gets another.
	resp, raw = e.registerAgent(t, tok, newKey(), "again")
	if again := decodeRegistered(t, raw); resp.StatusCode != 200 || again.MeshIP == a.MeshIP || again.MeshIP == "" {
		t.Fatalf("freed IP reused at once: %d %s (had %s)", resp.StatusCode, raw, a.MeshIP)
	}
	// The peer heard of the removal: its log holds peer_removed.
	var removed int
	e.Server.DB.QueryRow(`SELECT COUNT(*) FROM event_log WHERE node_id = $1 AND event_type = 'peer_removed'`, b.NodeID).Scan(&removed)
	if removed != 1 {
		t.Errorf("peer_removed entries for the peer: %d", removed)
	}

	// C14: the agent's own deregister (no body, no Content-Type) answers
	// 2xx and later calls with that NSK get 401.
	resp, raw = e.raw(t, "POST", "/v1/nodes/"+b.NodeID+"/deregister",
		map[string]string{"Authorization": "Bearer " + b.NodeSecretKey, "User-Agent": "plexd/dev"}, nil)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		t.Fatalf("C14 deregister: %d %s", resp.StatusCode, raw)
	}
	st, raw = probe(b.NodeSecretKey, b.NodeID)
	wantProblem(t, st, raw, 401, "nsk_revoked")
	resp, raw = e.raw(t, "POST", "/v1/nodes/"+b.NodeID+"/heartbeat", agentHeaders(b.NodeSecretKey),
		[]byte(`{"node_id":"","timestamp":"0001-01-01T00:00:00Z","status":"","uptime":"","binary_checksum":""}`))
	wantProblem(t, resp.StatusCode, raw, 401, "nsk_revoked")
	// The other Domain's node is untouched.
	if st, raw := probe(c.NodeSecretKey, c.NodeID); st != 200 {
		t.Fatalf("unrelated node: %d %s", st, raw)
	}
}

// raw2 sends a bodiless request with a bearer and returns status and body
// without waiting for a stream to end.
func (e *env) raw2(t *testing.T, method, path, bearer string) (int, []byte) {
	t.Helper()
	resp, raw := e.raw(t, method, path, map[string]string{"Authorization": "Bearer " + bearer}, nil)
	return resp.StatusCode, raw
}

// TestConcurrentRedemption races 100 redemptions of a one-shot token, each
// with its own key: exactly one node is enrolled, every other request gets
// 401 token_consumed, and the token counts one use (both databases).
func TestConcurrentRedemption(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "race", "100.90.0.0/16", "")
			issued := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"})
			const n = 100
			statuses := make([]int, n)
			bodies := make([][]byte, n)
			var wg sync.WaitGroup
			startGate := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGate
					resp, raw := e.registerAgent(t, issued.Token, newKey(), fmt.Sprintf("racer-%d", i))
					statuses[i], bodies[i] = resp.StatusCode, raw
				}()
			}
			close(startGate)
			wg.Wait()
			created := 0
			for i, st := range statuses {
				switch st {
				case 200:
					created++
				case 401:
					wantProblem(t, st, bodies[i], 401, "token_consumed")
				default:
					t.Errorf("racer %d: %d %s", i, st, bodies[i])
				}
			}
			var nodes, uses int
			e.Server.DB.QueryRow(`SELECT COUNT(*) FROM nodes WHERE token_id = $1`, issued.TokenID).Scan(&nodes)
			e.Server.DB.QueryRow(`SELECT uses FROM bootstrap_tokens WHERE id = $1`, issued.TokenID).Scan(&uses)
			if created != 1 || nodes != 1 || uses != 1 {
				t.Fatalf("created %d, nodes %d, uses %d; want exactly one", created, nodes, uses)
			}
		})
	}
}

// Issue 8: POST …/deregister is idempotent for the same node: a retry
// after a lost 204 (its NSK now revoked) answers 204 again and changes
// nothing, for DeregisterRetryWindow; after that, and on every other node
// operation at once, the revoked NSK gets 401 nsk_revoked. Another node's
// NSK still gets 403. Before the fix the retry got 401.
func TestDeregisterRetryIsIdempotent(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := start(t, b)
			f := e.fixture(t, "dereg", "100.91.0.0/16", "")
			issued := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 2})
			_, raw := e.registerAgent(t, issued.Token, newKey(), "gone")
			n := decodeRegistered(t, raw)
			_, raw = e.registerAgent(t, issued.Token, newKey(), "other")
			other := decodeRegistered(t, raw)
			dereg := func(nsk string) (int, []byte) {
				return e.raw2(t, "POST", "/v1/nodes/"+n.NodeID+"/deregister", nsk)
			}
			if st, raw := dereg(n.NodeSecretKey); st != 204 {
				t.Fatalf("deregister: %d %s", st, raw)
			}
			var revokedAt int64
			e.Server.DB.QueryRow(`SELECT revoked_at FROM nodes WHERE id = $1`, n.NodeID).Scan(&revokedAt)
			if st, raw := dereg(n.NodeSecretKey); st != 204 {
				t.Fatalf("retry: %d %s, want 204", st, raw)
			}
			var again int64
			e.Server.DB.QueryRow(`SELECT revoked_at FROM nodes WHERE id = $1`, n.NodeID).Scan(&again)
			if again != revokedAt {
				t.Errorf("the retry changed revoked_at: %d, then %d", revokedAt, again)
			}
			st, raw := e.raw2(t, "GET", "/v1/nodes/"+n.NodeID+"/state", n.NodeSecretKey)
			wantProblem(t, st, raw, 401, "nsk_revoked")
			st, raw = dereg(other.NodeSecretKey)
			wantProblem(t, st, raw, 403, "node_id_mismatch")
			st, raw = dereg("psn_" + strings.Repeat("A", 43))
			if st != 401 {
				t.Errorf("unknown NSK: %d %s", st, raw)
			}
			old := revokedAt - (enroll.DeregisterRetryWindow + time.Minute).Microseconds()
			e.Server.DB.Exec(`UPDATE nodes SET revoked_at = $2 WHERE id = $1`, n.NodeID, old)
			st, raw = dereg(n.NodeSecretKey)
			wantProblem(t, st, raw, 401, "nsk_revoked")
		})
	}
}

// Issue 8: env_prefix is required to issue a bootstrap token, as the
// contract and docs/enrolment.md say: a body without it, or with an empty
// one, is 400 invalid_body, and the served document lists it as required.
func TestBootstrapTokenEnvPrefixRequired(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := start(t, b)
			f := e.fixture(t, "envp", "100.92.0.0/16", "")
			for _, body := range []string{`{"kind":"node"}`, `{"kind":"node","env_prefix":""}`, `{"kind":"node","ttl_seconds":3600}`} {
				st, raw := e.Do(t, "POST", "/v1/projects/"+f.project.ID+"/bootstrap-tokens", body, nil)
				wantProblem(t, st, raw, 400, "invalid_body")
			}
			var doc struct {
				Components struct {
					Schemas map[string]struct {
						Required []string `json:"required"`
					} `json:"schemas"`
				} `json:"components"`
			}
			if st, raw := e.Do(t, "GET", "/v1/openapi.json", nil, &doc); st != 200 {
				t.Fatalf("openapi: %d %s", st, raw)
			}
			if req := doc.Components.Schemas["IssueBootstrapToken"].Required; !slices.Contains(req, "env_prefix") {
				t.Errorf("IssueBootstrapToken.required = %v, want env_prefix in it", req)
			}
		})
	}
}
