package enroll_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Issue 17 item 2: a revoked bootstrap token must not reach the
// registration replay: the same token and public key, repeated after the
// token was revoked, is 401 token_revoked and carries no NSK, and the
// node's NSK keeps working. On both databases.
//
// Issue 17 item 2: mutation: delete the `if tok.RevokedAt != nil` check in
// redeem (register.go) that runs before s.replay → the replay reissues an
// NSK with 200 and this test fails.
func TestRevokedTokenStopsRegistrationReplay(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "revoked", "100.82.0.0/16", "")
			issued := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5})
			key := newKey()
			resp, raw := e.registerAgent(t, issued.Token, key, "host")
			first := decodeRegistered(t, raw)
			if resp.StatusCode != 200 || !nodeproto.ValidNSK(first.NodeSecretKey) {
				t.Fatalf("register: %d %s", resp.StatusCode, raw)
			}
			if st, raw := e.Do(t, "DELETE", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+issued.TokenID, nil, nil); st != 204 {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			// The NSK is still unused, so only the revocation stands between
			// this request and a fresh NSK for the node.
			resp, raw = e.registerAgent(t, issued.Token, key, "host")
			wantProblem(t, resp.StatusCode, raw, 401, "token_revoked")
			if decodeRegistered(t, raw).NodeSecretKey != "" {
				t.Fatalf("the refused replay carries an NSK: %s", raw)
			}
			if st := e.nodeCall(t, first.NodeID, first.NodeSecretKey); st != 200 {
				t.Fatalf("the refused replay replaced the node's NSK: %d", st)
			}
		})
	}
}

// Issue 17 item 3: GET /v1/nodes lists only nodes the caller may read: a
// user with no grants sees none, and the admin of one Domain sees that
// Domain's node and never the other's, also when it names the other
// Domain. On both databases.
//
// Issue 17 item 3: mutation: drop the visibleRows filter in listNodes
// (nodes.go), keeping every row → this test fails.
func TestNodeListHidesForeignNodes(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			mine := e.fixture(t, "mine", "100.83.0.0/16", "")
			foreign := e.fixture(t, "foreign", "100.84.0.0/16", "")
			nodeIn := func(f fixture) string {
				tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token
				resp, raw := e.registerAgent(t, tok, newKey(), "host")
				if resp.StatusCode != 200 {
					t.Fatalf("register: %d %s", resp.StatusCode, raw)
				}
				return decodeRegistered(t, raw).NodeID
			}
			mineNode, foreignNode := nodeIn(mine), nodeIn(foreign)

			_, nobody := e.NewUser(t, "nobody")
			adminID, admin := e.NewUser(t, "mine-admin")
			if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + adminID,
				Relation: "admin", Resource: "domain:" + mine.domain.ID}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			list := func(token, query string) map[string]bool {
				t.Helper()
				var out apiv1.List[apiv1.NodeSummary]
				st, raw := e.DoAs(t, token, "GET", "/v1/nodes"+query, nil, &out)
				if st != 200 {
					t.Fatalf("list %s: %d %s", query, st, raw)
				}
				ids := map[string]bool{}
				for _, n := range out.Items {
					ids[n.ID] = true
				}
				return ids
			}
			// The admin token sees both, so the rows exist.
			if all := list(e.Token, ""); !all[mineNode] || !all[foreignNode] {
				t.Fatalf("the operator lists %v, want both nodes", all)
			}
			if got := list(nobody, ""); len(got) != 0 {
				t.Fatalf("a user without grants lists %v", got)
			}
			if got := list(admin, ""); !got[mineNode] || len(got) != 1 {
				t.Fatalf("the Domain admin lists %v, want only %s", got, mineNode)
			}
			if got := list(admin, "?domain_id="+foreign.domain.ID); len(got) != 0 {
				t.Fatalf("the Domain admin lists %v in another Domain", got)
			}
		})
	}
}

// Issue 17 item 7: concurrent enrolments in one Domain with separate
// tokens all succeed with distinct mesh IPs; the allocator serializes them
// on the Domain's row lock (PostgreSQL) or the write lock (SQLite). On both
// databases.
//
// Issue 17 item 7: mutation: drop `+s.db.ForUpdate()` from the mesh_cidr
// SELECT in allocateIP (ipam.go) → on PostgreSQL racing enrolments pick the
// same address and get 503 allocator_contention, and this test fails.
func TestConcurrentEnrolmentsGetDistinctIPs(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "alloc", "100.85.0.0/16", "")
			const n = 24
			tokens := make([]string, n)
			for i := range tokens {
				tokens[i] = e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token
			}
			statuses := make([]int, n)
			bodies := make([][]byte, n)
			var wg sync.WaitGroup
			startGate := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGate
					resp, raw := e.registerAgent(t, tokens[i], newKey(), fmt.Sprintf("host-%d", i))
					statuses[i], bodies[i] = resp.StatusCode, raw
				}()
			}
			close(startGate)
			wg.Wait()
			seen := map[netip.Addr]int{}
			for i, st := range statuses {
				if st != 200 {
					t.Errorf("enrolment %d: %d %s", i, st, bodies[i])
					continue
				}
				ip, err := netip.ParseAddr(decodeRegistered(t, bodies[i]).MeshIP)
				if err != nil || !netip.MustParsePrefix("100.85.0.0/16").Contains(ip) {
					t.Errorf("enrolment %d: mesh IP %q outside the pool", i, ip)
					continue
				}
				if j, dup := seen[ip]; dup {
					t.Errorf("enrolments %d and %d both got %s", j, i, ip)
				}
				seen[ip] = i
			}
			if t.Failed() {
				t.FailNow()
			}
			if len(seen) != n {
				t.Fatalf("%d distinct addresses, want %d", len(seen), n)
			}
		})
	}
}
