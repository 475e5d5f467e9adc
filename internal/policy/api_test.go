package policy_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// fixture is a control plane with a Domain, a Project and a few labelled
// nodes.
type fixture struct {
	e       *apptest.Env
	enr     apptest.Enrolment
	base    string // /v1/projects/{id}/policies
	roleKey string // the qualified key of the role label
	nodes   map[string]string
}

func start(t *testing.T, b apptest.Backend) *fixture {
	t.Helper()
	e := apptest.Start(t, b)
	f := &fixture{e: e, enr: e.NewEnrolment(t, "pol", "100.80.0.0/16", 10), nodes: map[string]string{}}
	f.base = "/v1/projects/" + f.enr.Project.ID + "/policies"
	return f
}

// withNodes registers nodes named by role (web, web2, db, other) and labels
// them role=<role without digits>.
func (f *fixture) withNodes(t *testing.T, names ...string) {
	t.Helper()
	var def apiv1.LabelDefinition
	if st, raw := f.e.Do(t, "POST", "/v1/label-definitions", map[string]any{"scope": "domain",
		"scope_id": f.enr.Domain.ID, "local_key": "role", "value_schema": map[string]any{"kind": "string"},
		"applicable_kinds": []string{"node"}}, &def); st != 201 {
		t.Fatalf("label definition: %d %s", st, raw)
	}
	f.roleKey = def.QualifiedKey
	for _, name := range names {
		pub := make([]byte, 32)
		rand.Read(pub)
		body := `{"token":"` + f.enr.Token.Token + `","public_key":"` + base64.StdEncoding.EncodeToString(pub) +
			`","hostname":"` + name + `"}`
		var reg struct {
			ID string `json:"node_id"`
		}
		if st, raw := f.e.DoAs(t, f.enr.Token.Token, "POST", "/v1/register", body, &reg); st/100 != 2 || reg.ID == "" {
			t.Fatalf("register %s: %d %s", name, st, raw)
		}
		f.nodes[name] = reg.ID
		role := strings.TrimRight(name, "0123456789")
		if st, raw := f.e.Do(t, "PUT", "/v1/objects/node/"+reg.ID+"/labels",
			map[string]any{"definition_id": def.ID, "value": role}, nil); st/100 != 2 {
			t.Fatalf("label %s: %d %s", name, st, raw)
		}
	}
}

// problemOf decodes a problem body.
func problemOf(t *testing.T, raw []byte) apiv1.Problem {
	t.Helper()
	var p apiv1.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("not a problem: %s", raw)
	}
	return p
}

// want checks a status and, for errors, the problem code.
func want(t *testing.T, what string, st int, raw []byte, status int, code string) {
	t.Helper()
	if st != status {
		t.Fatalf("%s: %d %s, want %d %s", what, st, raw, status, code)
	}
	if code != "" {
		if p := problemOf(t, raw); p.Code != code {
			t.Fatalf("%s: code %q (%s), want %q", what, p.Code, p.Detail, code)
		}
	}
}

func tcp(action, src, dst string, from, to int) apiv1.NetworkPolicyRule {
	return apiv1.NetworkPolicyRule{Action: action, Protocol: "tcp", SourceCIDR: src, DestinationCIDR: dst,
		Ports: &apiv1.PolicyPortRange{From: from, To: to}}
}

func (f *fixture) create(t *testing.T, slug string, rules ...apiv1.NetworkPolicyRule) apiv1.NetworkPolicy {
	t.Helper()
	var p apiv1.NetworkPolicy
	st, raw := f.e.Do(t, "POST", f.base, apiv1.PolicyCreateRequest{Slug: slug,
		Selector: apiv1.PolicySelector{Source: "role=web", Destination: "role=db"}, Rules: rules}, &p)
	want(t, "create "+slug, st, raw, 201, "")
	return p
}

// Issue 10: the lifecycle of a Policy through every operation, on both
// databases.
func TestPolicyLifecycle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := start(t, b)
			p := f.create(t, "web-to-db", tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 5432, 5432))
			if p.Head == nil || p.Head.ParentID != "" || p.HeadRevisionID != p.Head.ID || len(p.Head.Rules) != 1 ||
				!strings.HasPrefix(p.Head.CreatedBy, "user:") || p.Head.CorrelationID == "" {
				t.Fatalf("created: %+v head %+v", p, p.Head)
			}
			first := p.HeadRevisionID

			st, raw := f.e.Do(t, "POST", f.base, apiv1.PolicyCreateRequest{Slug: "web-to-db",
				Selector: apiv1.PolicySelector{Source: "a=b", Destination: "c=d"},
				Rules:    []apiv1.NetworkPolicyRule{{Action: "deny", Protocol: "any", SourceCIDR: "::/0", DestinationCIDR: "::/0"}}}, nil)
			want(t, "duplicate slug", st, raw, 409, "policy_slug_taken")

			var got apiv1.NetworkPolicy
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID, nil, &got)
			want(t, "get", st, raw, 200, "")
			if got.Head == nil || got.Head.ID != first || got.Slug != "web-to-db" || got.Head.Selector.Source != "role=web" {
				t.Fatalf("get: %s", raw)
			}

			// A patch lands a new revision on top of the head; unset fields
			// are inherited.
			name := "Web to DB"
			var patched apiv1.NetworkPolicy
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, apiv1.PolicyUpdateRequest{DisplayName: &name,
				Rules: []apiv1.NetworkPolicyRule{tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 5432, 5432),
					tcp("deny", "0.0.0.0/0", "0.0.0.0/0", 22, 22)},
				ExpectedRevisionID: first}, &patched)
			want(t, "patch", st, raw, 200, "")
			if patched.HeadRevisionID == first || patched.Head.ParentID != first || patched.DisplayName != name ||
				patched.Head.Selector.Destination != "role=db" || len(patched.Head.Rules) != 2 {
				t.Fatalf("patched: %s", raw)
			}
			second := patched.HeadRevisionID

			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, map[string]any{"display_name": "x", "expected_revision_id": first}, nil)
			want(t, "stale patch", st, raw, 409, "revision_conflict")
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, map[string]any{"expected_revision_id": second}, nil)
			want(t, "empty patch", st, raw, 400, "empty_patch")
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, map[string]any{"slug": "other"}, nil)
			want(t, "slug patch", st, raw, 400, "slug_immutable")

			var revs apiv1.List[apiv1.PolicyRevision]
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions", nil, &revs)
			want(t, "revisions", st, raw, 200, "")
			if len(revs.Items) != 2 || revs.Items[0].ID != second || revs.Items[1].ID != first {
				t.Fatalf("revisions are not newest first: %s", raw)
			}
			var page1 apiv1.List[apiv1.PolicyRevision]
			f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions?limit=1", nil, &page1)
			if len(page1.Items) != 1 || page1.Items[0].ID != second || page1.NextCursor == "" {
				t.Fatalf("page 1: %+v", page1)
			}
			var page2 apiv1.List[apiv1.PolicyRevision]
			f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions?limit=1&cursor="+page1.NextCursor, nil, &page2)
			if len(page2.Items) != 1 || page2.Items[0].ID != first {
				t.Fatalf("page 2: %+v", page2)
			}

			var rev apiv1.PolicyRevision
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions/"+first, nil, &rev)
			want(t, "get revision", st, raw, 200, "")
			if rev.ID != first || len(rev.Rules) != 1 {
				t.Fatalf("revision: %s", raw)
			}

			// A revision read through another Policy is not visible.
			other := f.create(t, "other", tcp("allow", "10.0.0.0/8", "10.0.0.0/8", 80, 80))
			st, raw = f.e.Do(t, "GET", f.base+"/"+other.ID+"/revisions/"+first, nil, nil)
			want(t, "foreign revision", st, raw, 404, "revision_not_visible")
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID+"/diff?from_revision="+first+"&to_revision="+other.HeadRevisionID, nil, nil)
			want(t, "foreign diff", st, raw, 404, "revision_not_visible")

			var d apiv1.PolicyDiff
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID+"/diff?from_revision="+first+"&to_revision="+second, nil, &d)
			want(t, "diff", st, raw, 200, "")
			if len(d.Added) != 1 || d.Added[0].Action != "deny" || len(d.Removed) != 0 || len(d.Modified) != 0 {
				t.Fatalf("diff: %s", raw)
			}
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID+"/diff?from_revision="+first, nil, nil)
			if st != 400 && st != 422 {
				t.Fatalf("diff without to_revision: %d %s", st, raw)
			}

			var list apiv1.List[apiv1.NetworkPolicy]
			st, raw = f.e.Do(t, "GET", f.base, nil, &list)
			want(t, "list", st, raw, 200, "")
			if len(list.Items) != 2 || list.Items[0].Slug != "other" || list.Items[1].Slug != "web-to-db" || list.Items[0].Head != nil {
				t.Fatalf("list: %s", raw)
			}

			var pg1, pg2 apiv1.List[apiv1.NetworkPolicy]
			f.e.Do(t, "GET", f.base+"?limit=1", nil, &pg1)
			if len(pg1.Items) != 1 || pg1.Items[0].Slug != "other" || pg1.NextCursor == "" {
				t.Fatalf("policies page 1: %+v", pg1)
			}
			f.e.Do(t, "GET", f.base+"?limit=1&cursor="+pg1.NextCursor, nil, &pg2)
			if len(pg2.Items) != 1 || pg2.Items[0].Slug != "web-to-db" || pg2.NextCursor != "" {
				t.Fatalf("policies page 2: %+v", pg2)
			}
			st, raw = f.e.Do(t, "GET", f.base+"?cursor="+page1.NextCursor, nil, nil)
			want(t, "a revisions cursor on the policy list", st, raw, 400, "invalid_cursor")

			st, raw = f.e.Do(t, "DELETE", f.base+"/"+p.ID, nil, nil)
			want(t, "delete", st, raw, 204, "")
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID, nil, nil)
			want(t, "get deleted", st, raw, 404, "policy_not_found")
			st, raw = f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions/"+first, nil, nil)
			want(t, "revision of deleted", st, raw, 404, "policy_not_found")
			var n int
			if err := f.e.Server.DB.QueryRow(`SELECT COUNT(*) FROM policy_revisions WHERE policy_id = $1`, p.ID).Scan(&n); err != nil || n != 0 {
				t.Fatalf("revisions left after delete: %d %v", n, err)
			}
			st, raw = f.e.Do(t, "DELETE", f.base+"/"+p.ID, nil, nil)
			want(t, "delete again", st, raw, 404, "policy_not_found")

			// A Policy is reached through its own Project only.
			st, raw = f.e.Do(t, "GET", "/v1/projects/"+f.enr.Domain.ID+"/policies/"+other.ID, nil, nil)
			want(t, "other project", st, raw, 404, "policy_not_found")

			// Every change is on the Domain's audit chain.
			var actions []string
			rows, err := f.e.Server.DB.Query(`SELECT action FROM audit_entries WHERE chain_id = $1 AND object_type = 'policy' ORDER BY seq`, f.enr.Domain.ID)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var a string
				rows.Scan(&a)
				actions = append(actions, a)
			}
			rows.Close()
			for _, a := range []string{"policy.create", "policy.update", "policy.delete"} {
				if !strings.Contains(strings.Join(actions, " "), a) {
					t.Errorf("no %s on the Domain chain: %v", a, actions)
				}
			}
		})
	}
}

// A Project holding a Policy is not deleted (the Policy would outlive it,
// still compiled for the Domain's nodes): 409 project_not_empty counting
// it, and the delete succeeds once the Policy is gone.
func TestProjectWithPoliciesIsNotDeleted(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := start(t, b)
			p := f.create(t, "web-to-db", tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 5432, 5432))
			st, raw := f.e.Do(t, "DELETE", "/v1/projects/"+f.enr.Project.ID, nil, nil)
			want(t, "delete the project", st, raw, 409, "project_not_empty")
			if pr := problemOf(t, raw); pr.ProjectCounts == nil || pr.ProjectCounts.Policies != 1 {
				t.Fatalf("counts: %s", raw)
			}
			st, raw = f.e.Do(t, "DELETE", f.base+"/"+p.ID, nil, nil)
			want(t, "delete the policy", st, raw, 204, "")
			st, raw = f.e.Do(t, "DELETE", "/v1/projects/"+f.enr.Project.ID, nil, nil)
			if st/100 != 2 {
				t.Fatalf("delete the empty project: %d %s", st, raw)
			}
		})
	}
}

// Issue 10: concurrent patches with the same expected_revision_id: exactly
// one wins, the others get 409 revision_conflict; the history stays one
// line.
func TestConcurrentPatchExactlyOneWins(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := start(t, b)
			p := f.create(t, "race", tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 1, 1))
			const n = 8
			var wg sync.WaitGroup
			status := make([]int, n)
			codes := make([]string, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, raw := f.e.Do(t, "PATCH", f.base+"/"+p.ID, apiv1.PolicyUpdateRequest{
						Rules:              []apiv1.NetworkPolicyRule{tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 1000+i, 1000+i)},
						ExpectedRevisionID: p.HeadRevisionID}, nil)
					status[i] = st
					if st != 200 {
						codes[i] = problemOf(t, raw).Code
					}
				}()
			}
			wg.Wait()
			won := 0
			for i := range n {
				switch {
				case status[i] == 200:
					won++
				case status[i] != 409 || codes[i] != "revision_conflict":
					t.Errorf("patch %d: %d %s", i, status[i], codes[i])
				}
			}
			if won != 1 {
				t.Fatalf("%d patches won, want exactly 1 (%v)", won, status)
			}
			var revs apiv1.List[apiv1.PolicyRevision]
			f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions", nil, &revs)
			if len(revs.Items) != 2 || revs.Items[0].ParentID != p.HeadRevisionID {
				t.Fatalf("history after the race: %+v", revs.Items)
			}

			// Without expected_revision_id the last writer wins: all land.
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status[i], _ = f.e.Do(t, "PATCH", f.base+"/"+p.ID, apiv1.PolicyUpdateRequest{
						Rules: []apiv1.NetworkPolicyRule{tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 2000+i, 2000+i)}}, nil)
				}()
			}
			wg.Wait()
			for i, st := range status {
				if st != 200 {
					t.Errorf("unconditional patch %d: %d", i, st)
				}
			}
			f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions?limit=200", nil, &revs)
			if len(revs.Items) != 2+n {
				t.Fatalf("%d revisions, want %d", len(revs.Items), 2+n)
			}
			parents := map[string]bool{}
			for _, r := range revs.Items {
				if parents[r.ParentID] {
					t.Fatalf("two revisions share parent %s", r.ParentID)
				}
				parents[r.ParentID] = true
			}
		})
	}
}

// Issue 10 / api.md §3.7: every invariant has its status and code.
func TestPolicyValidation(t *testing.T) {
	f := start(t, apptest.SQLite)
	okSel := map[string]any{"source": "role=web", "destination": "role=db"}
	rule := func(mod func(map[string]any)) map[string]any {
		r := map[string]any{"action": "allow", "protocol": "tcp", "source_cidr": "10.0.0.0/8",
			"destination_cidr": "10.0.0.0/8", "ports": map[string]any{"from": 80, "to": 80}}
		if mod != nil {
			mod(r)
		}
		return r
	}
	body := func(slug string, sel any, rules ...any) map[string]any {
		return map[string]any{"slug": slug, "selector": sel, "rules": rules}
	}
	many := make([]any, 1025)
	for i := range many {
		many[i] = rule(nil)
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"not json", "{", 400, "invalid_body"},
		{"trailing", `{"slug":"a"} {}`, 400, "invalid_body"},
		{"wrong type", `{"slug":1}`, 400, "invalid_body"},
		{"no slug", map[string]any{"selector": okSel, "rules": []any{rule(nil)}}, 400, "invalid_body"},
		{"bad slug", body("Web", okSel, rule(nil)), 400, "invalid_slug"},
		{"slug digit", body("1web", okSel, rule(nil)), 400, "invalid_slug"},
		{"long slug", body("a"+strings.Repeat("b", 64), okSel, rule(nil)), 400, "invalid_slug"},
		{"no selector", map[string]any{"slug": "a", "rules": []any{rule(nil)}}, 422, "empty_selector"},
		{"empty source", body("a", map[string]any{"source": " ", "destination": "x=y"}, rule(nil)), 422, "empty_selector"},
		{"malformed", body("a", map[string]any{"source": "role==", "destination": "x=y"}, rule(nil)), 400, "malformed_selector"},
		{"no rules", body("a", okSel), 422, "rule_count_out_of_range"},
		{"1025 rules", body("a", okSel, many...), 422, "rule_count_out_of_range"},
		{"action", body("a", okSel, rule(func(r map[string]any) { r["action"] = "permit" })), 422, "unknown_action"},
		{"protocol", body("a", okSel, rule(func(r map[string]any) { r["protocol"] = "sctp" })), 422, "unknown_protocol"},
		{"tcp without ports", body("a", okSel, rule(func(r map[string]any) { delete(r, "ports") })), 422, "ports_required"},
		{"icmp with ports", body("a", okSel, rule(func(r map[string]any) { r["protocol"] = "icmp" })), 422, "ports_not_allowed"},
		{"any with ports", body("a", okSel, rule(func(r map[string]any) { r["protocol"] = "any" })), 422, "ports_not_allowed"},
		{"inverted", body("a", okSel, rule(func(r map[string]any) { r["ports"] = map[string]any{"from": 90, "to": 80} })), 422, "port_range_inverted"},
		{"port 0", body("a", okSel, rule(func(r map[string]any) { r["ports"] = map[string]any{"from": 0, "to": 80} })), 422, "port_out_of_range"},
		{"port 65536", body("a", okSel, rule(func(r map[string]any) { r["ports"] = map[string]any{"from": 1, "to": 65536} })), 422, "port_out_of_range"},
		{"family", body("a", okSel, rule(func(r map[string]any) { r["destination_cidr"] = "fd00::/8" })), 422, "cidr_family_mismatch"},
		{"bad cidr", body("a", okSel, rule(func(r map[string]any) { r["source_cidr"] = "10.0.0.300/8" })), 422, "invalid_cidr"},
		{"host bits", body("a", okSel, rule(func(r map[string]any) { r["source_cidr"] = "10.0.0.1/8" })), 422, "invalid_cidr"},
		{"bad test", map[string]any{"slug": "a", "selector": okSel, "rules": []any{rule(nil)},
			"tests": []any{map[string]any{"from": "role=web", "to": "role=db", "protocol": "tcp", "expect": "allow"}}}, 422, "invalid_policy_test"},
	}
	for _, c := range cases {
		st, raw := f.e.Do(t, "POST", f.base, c.body, nil)
		want(t, c.name, st, raw, c.status, c.code)
	}

	big := `{"slug":"a","selector":{"source":"a=b","destination":"c=d"},"rules":[],"pad":"` + strings.Repeat("x", 256<<10) + `"}`
	st, raw := f.e.Do(t, "POST", f.base, big, nil)
	if st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %s", st, raw)
	}

	// The cap itself is accepted: 1024 rules land (the body is under 256 KiB).
	st, raw = f.e.Do(t, "POST", f.base, body("max", okSel, many[:1024]...), nil)
	want(t, "1024 rules", st, raw, 201, "")

	st, raw = f.e.Do(t, "GET", "/v1/projects/not-a-uuid/policies", nil, nil)
	want(t, "bad project id", st, raw, 400, "invalid_project_id")
	st, raw = f.e.Do(t, "GET", f.base+"/nope", nil, nil)
	want(t, "bad policy id", st, raw, 400, "invalid_policy_id")
}

// Issue 10: policy#read, policy#manage + project#operator.
func TestPolicyAuthorization(t *testing.T) {
	f := start(t, apptest.SQLite)
	p := f.create(t, "guarded", tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 443, 443))
	_, nobody := f.e.NewUser(t, "nobody")
	viewerID, viewer := f.e.NewUser(t, "viewer")
	if st, raw := f.e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+f.enr.Project.ID, apiv1.WriteRelationTuple{Subject: "user:" + viewerID,
		Relation: "viewer", Resource: "project:" + f.enr.Project.ID}, nil); st != 201 {
		t.Fatalf("grant: %d %s", st, raw)
	}
	missing := f.base + "/" + "0190f0f0-0000-7000-8000-000000000000"
	for _, c := range []struct {
		token, method, path string
		body                any
		status              int
	}{
		{nobody, "GET", f.base, nil, 403},
		{nobody, "GET", f.base + "/" + p.ID, nil, 403},
		{nobody, "GET", missing, nil, 403}, // check before read: no existence leak
		{nobody, "POST", f.base, apiv1.PolicyCreateRequest{Slug: "x"}, 403},
		{viewer, "GET", f.base + "/" + p.ID, nil, 200},
		{viewer, "GET", f.base + "/" + p.ID + "/revisions", nil, 200},
		{viewer, "PATCH", f.base + "/" + p.ID, map[string]any{"display_name": "x"}, 403},
		{viewer, "DELETE", f.base + "/" + p.ID, nil, 403},
		{viewer, "POST", f.base + "/" + p.ID + "/dry-run", map[string]any{}, 403},
	} {
		st, raw := f.e.DoAs(t, c.token, c.method, c.path, c.body, nil)
		if st != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, st, raw, c.status)
		}
		if st == 403 && problemOf(t, raw).Code != "permission_denied" {
			t.Errorf("%s %s: 403 without permission_denied: %s", c.method, c.path, raw)
		}
	}
	var list apiv1.List[apiv1.NetworkPolicy]
	if st, raw := f.e.DoAs(t, viewer, "GET", f.base, nil, &list); st != 200 || len(list.Items) != 1 {
		t.Fatalf("viewer list: %d %s", st, raw)
	}
	st, raw := f.e.Do(t, "GET", missing, nil, nil)
	want(t, "admin reads a missing policy", st, raw, 404, "policy_not_found")

	// A grant on one Policy: its owner manages it, but a write also needs
	// project#operator (the dual check); policy#edit allows dry-run.
	ownerID, owner := f.e.NewUser(t, "owner")
	if st, raw := f.e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+f.enr.Project.ID, apiv1.WriteRelationTuple{
		Subject: "user:" + ownerID, Relation: "owner", Resource: "policy:" + p.ID}, nil); st != 201 {
		t.Fatalf("grant owner: %d %s", st, raw)
	}
	other := f.create(t, "unrelated", tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 80, 80))
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", f.base + "/" + p.ID, nil, 200},
		{"GET", f.base + "/" + other.ID, nil, 403},
		{"POST", f.base + "/" + p.ID + "/dry-run", apiv1.PolicyDryRunRequest{
			Selector: apiv1.PolicySelector{Source: "a=b", Destination: "c=d"},
			Rules:    []apiv1.NetworkPolicyRule{tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 80, 80)}}, 200},
		{"PATCH", f.base + "/" + p.ID, map[string]any{"display_name": "mine"}, 403},
		{"DELETE", f.base + "/" + p.ID, nil, 403},
	} {
		if st, raw := f.e.DoAs(t, owner, c.method, c.path, c.body, nil); st != c.status {
			t.Errorf("owner %s %s: %d %s, want %d", c.method, c.path, st, raw, c.status)
		}
	}
	// With project#operator as well, the owner may write.
	if st, raw := f.e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+f.enr.Project.ID, apiv1.WriteRelationTuple{
		Subject: "user:" + ownerID, Relation: "operator", Resource: "project:" + f.enr.Project.ID}, nil); st != 201 {
		t.Fatalf("grant operator: %d %s", st, raw)
	}
	st, raw = f.e.DoAs(t, owner, "PATCH", f.base+"/"+p.ID, map[string]any{"display_name": "mine"}, nil)
	want(t, "owner and operator patch", st, raw, 200, "")
}

// Issue 10: a revision carries tests; one whose tests fail is rejected with
// the failing cases, and dry-run reports per-node changes.
func TestPolicyTestsAndDryRun(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := start(t, b)
			f.withNodes(t, "web1", "web2", "db1", "other1")
			k := f.roleKey
			sel := apiv1.PolicySelector{Source: k + "=web", Destination: k + "=db"}
			rules := []apiv1.NetworkPolicyRule{tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 5432, 5432)}
			tests := []apiv1.PolicyTest{
				{From: k + "=web", To: k + "=db", Protocol: "tcp", Port: 5432, Expect: "allow"},
				{From: k + "=web", To: k + "=db", Protocol: "tcp", Port: 22, Expect: "deny"},
				{From: f.nodes["other1"], To: f.nodes["db1"], Protocol: "tcp", Port: 5432, Expect: "deny"},
			}
			var p apiv1.NetworkPolicy
			st, raw := f.e.Do(t, "POST", f.base, apiv1.PolicyCreateRequest{Slug: "pg", Selector: sel, Rules: rules, Tests: tests}, &p)
			want(t, "create with passing tests", st, raw, 201, "")
			if len(p.Head.Tests) != 3 {
				t.Fatalf("tests not kept on the revision: %s", raw)
			}

			// Opening port 22 breaks the second test: rejected, head unchanged.
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, apiv1.PolicyUpdateRequest{ExpectedRevisionID: p.HeadRevisionID,
				Rules: append(rules, tcp("allow", "0.0.0.0/0", "0.0.0.0/0", 22, 22))}, nil)
			want(t, "failing test", st, raw, 422, "policy_test_failed")
			prob := problemOf(t, raw)
			if len(prob.Errors) != 2 || prob.Errors[0].Location != "tests[1]" ||
				!strings.Contains(prob.Errors[0].Message, "got allow, want deny") {
				t.Fatalf("failures: %+v", prob.Errors)
			}
			var now apiv1.NetworkPolicy
			f.e.Do(t, "GET", f.base+"/"+p.ID, nil, &now)
			if now.HeadRevisionID != p.HeadRevisionID {
				t.Fatal("a rejected revision moved the head")
			}

			// A test naming no node fails rather than passing vacuously.
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, apiv1.PolicyUpdateRequest{Tests: []apiv1.PolicyTest{
				{From: k + "=nothing", To: k + "=db", Protocol: "icmp", Expect: "deny"}}}, nil)
			want(t, "vacuous test", st, raw, 422, "policy_test_failed")

			// [] removes the head's tests; an absent tests field inherits them.
			var cleared apiv1.NetworkPolicy
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, map[string]any{"tests": []any{}}, &cleared)
			want(t, "clear tests", st, raw, 200, "")
			if len(cleared.Head.Tests) != 0 {
				t.Fatalf("tests not cleared: %s", raw)
			}
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, apiv1.PolicyUpdateRequest{Tests: tests}, &cleared)
			want(t, "restore tests", st, raw, 200, "")
			st, raw = f.e.Do(t, "PATCH", f.base+"/"+p.ID, map[string]any{"display_name": "pg"}, &cleared)
			want(t, "inherit tests", st, raw, 200, "")
			if len(cleared.Head.Tests) != 3 {
				t.Fatalf("tests not inherited: %s", raw)
			}

			// Dry-run of widening to any protocol: db1 gains a rule, the
			// test results come back, nothing is written.
			var dr apiv1.PolicyDryRunResponse
			st, raw = f.e.Do(t, "POST", f.base+"/"+p.ID+"/dry-run", apiv1.PolicyDryRunRequest{Selector: sel,
				Rules: []apiv1.NetworkPolicyRule{{Action: "allow", Protocol: "any", SourceCIDR: "0.0.0.0/0", DestinationCIDR: "0.0.0.0/0"}},
				Tests: tests}, &dr)
			want(t, "dry-run", st, raw, 200, "")
			if len(dr.MatchedNodeIDs) != 3 || len(dr.UnreachableNodeIDs) != 0 {
				t.Fatalf("matched: %s", raw)
			}
			if len(dr.NodeChanges) != 1 || dr.NodeChanges[0].NodeID != f.nodes["db1"] ||
				len(dr.NodeChanges[0].Gained) == 0 || len(dr.NodeChanges[0].Removed) == 0 {
				t.Fatalf("node changes: %s", raw)
			}
			if dr.PeerPairsAffected != 2 {
				t.Fatalf("peer pairs affected %d, want 2 (web1→db1, web2→db1): %s", dr.PeerPairsAffected, raw)
			}
			if len(dr.TestResults) != 3 || !dr.TestResults[0].Passed || dr.TestResults[1].Passed || !dr.TestResults[2].Passed {
				t.Fatalf("test results: %s", raw)
			}
			if len(dr.RuleDiff.Added) != 1 || len(dr.RuleDiff.Removed) != 1 {
				t.Fatalf("rule diff: %s", raw)
			}
			var revs apiv1.List[apiv1.PolicyRevision]
			f.e.Do(t, "GET", f.base+"/"+p.ID+"/revisions", nil, &revs)
			if len(revs.Items) != 4 {
				t.Fatalf("dry-run wrote a revision: %d", len(revs.Items))
			}
		})
	}
}

// The generated document describes the bodies this package decodes itself
// (api.md §1: Go is the source of the OpenAPI document).
func TestOpenAPIDocumentsPolicyBodies(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody *struct {
				Required bool `json:"required"`
				Content  map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required   []string       `json:"required"`
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if st, raw := e.DoAs(t, "", "GET", "/v1/openapi.json", nil, &doc); st != 200 {
		t.Fatalf("openapi: %d %s", st, raw)
	}
	for _, c := range []struct {
		path, method, schema string
		required             []string
	}{
		{"/v1/projects/{project_id}/policies", "post", "PolicyCreateRequest", []string{"slug", "selector", "rules"}},
		{"/v1/projects/{project_id}/policies/{policy_id}", "patch", "PolicyUpdateRequest", nil},
		{"/v1/projects/{project_id}/policies/{policy_id}/dry-run", "post", "PolicyDryRunRequest", []string{"selector", "rules"}},
	} {
		op := doc.Paths[c.path][c.method]
		if op.RequestBody == nil || !op.RequestBody.Required {
			t.Errorf("%s %s: no required request body", c.method, c.path)
			continue
		}
		ref := op.RequestBody.Content["application/json"].Schema.Ref
		if !strings.HasSuffix(ref, "/"+c.schema) {
			t.Errorf("%s %s: body schema %q, want %s", c.method, c.path, ref, c.schema)
		}
		s := doc.Components.Schemas[c.schema]
		for _, f := range c.required {
			if !slices.Contains(s.Required, f) {
				t.Errorf("%s: %s not required (%v)", c.schema, f, s.Required)
			}
		}
		if _, ok := s.Properties["tests"]; !ok || slices.Contains(s.Required, "tests") {
			t.Errorf("%s: tests should be an optional property: %v", c.schema, s.Required)
		}
	}
}
