package tuples_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// world is a platform with Domains, Projects and Resources made by the
// platform admin.
type world struct {
	e *apptest.Env
	// n numbers slugs and CIDRs.
	n int
}

func (w *world) domain(t *testing.T) apiv1.Domain {
	t.Helper()
	w.n++
	var d apiv1.Domain
	st, raw := w.e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "D", Slug: fmt.Sprintf("d%d", w.n),
		MeshCIDR: fmt.Sprintf("10.%d.0.0/16", w.n)}, &d)
	if st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	return d
}

func (w *world) project(t *testing.T, domainID string) apiv1.Project {
	t.Helper()
	w.n++
	var p apiv1.Project
	st, raw := w.e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: domainID, Name: "P", Slug: fmt.Sprintf("p%d", w.n)}, &p)
	if st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	return p
}

func resource(t *testing.T, e *apptest.Env, token, projectID string) apiv1.Resource {
	t.Helper()
	var r apiv1.Resource
	st, raw := e.DoAs(t, token, "POST", "/v1/projects/"+projectID+"/resources", map[string]string{"origin": "adopted", "kind": "vm"}, &r)
	if st != 201 {
		t.Fatalf("create resource: %d %s", st, raw)
	}
	return r
}

// grant writes subject#relation on resource as the admin (projectID may be
// empty) and returns the tuple id.
func grant(t *testing.T, e *apptest.Env, projectID, subject, relation, resource string) string {
	t.Helper()
	path := "/v1/authz/relation-tuples"
	if projectID != "" {
		path += "?project_id=" + projectID
	}
	var rt apiv1.RelationTuple
	st, raw := e.Do(t, "POST", path, apiv1.WriteRelationTuple{Subject: subject, Relation: relation, Resource: resource}, &rt)
	if st != 201 || rt.ID == "" || rt.Subject != subject || rt.Resource != resource || rt.Relation != relation {
		t.Fatalf("grant %s#%s@%s: %d %s", resource, relation, subject, st, raw)
	}
	return rt.ID
}

func problemOf(t *testing.T, raw []byte) apiv1.Problem {
	t.Helper()
	var p apiv1.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("not a problem: %s", raw)
	}
	return p
}

// TestBuiltInRoles drives real calls as holders of each built-in role.
func TestBuiltInRoles(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testBuiltInRoles(t, apptest.Start(t, b))
		})
	}
}

func testBuiltInRoles(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	d := w.domain(t)
	p := w.project(t, d.ID)
	r := resource(t, e, e.Token, p.ID)
	users := map[string]string{}
	for _, role := range []string{"platform-admin", "domain-admin", "domain-member", "domain-viewer",
		"project-admin", "project-operator", "project-viewer", "nobody"} {
		id, tok := e.NewUser(t, role)
		users[role] = tok
		kind, rel, _ := strings.Cut(role, "-")
		switch kind {
		case "platform":
			grant(t, e, "", "user:"+id, rel, "platform")
		case "domain":
			grant(t, e, "", "user:"+id, rel, "domain:"+d.ID)
		case "project":
			grant(t, e, p.ID, "user:"+id, rel, "project:"+p.ID)
		}
	}
	name := `{"name":"renamed"}`
	cases := []struct {
		method, path string
		body         any
		allowed      []string // every other role gets 403
		okStatus     int
	}{
		{"GET", "/v1/domains/" + d.ID, nil, []string{"platform-admin", "domain-admin", "domain-member", "domain-viewer"}, 200},
		{"PATCH", "/v1/domains/" + d.ID, name, []string{"platform-admin", "domain-admin"}, 200},
		{"POST", "/v1/domains", apiv1.CreateDomain{Name: "x", Slug: "x", MeshCIDR: "10.200.0.0/16"}, []string{"platform-admin"}, 201},
		{"GET", "/v1/projects/" + p.ID, nil, []string{"platform-admin", "domain-admin", "project-admin", "project-operator", "project-viewer"}, 200},
		{"PATCH", "/v1/projects/" + p.ID, name, []string{"platform-admin", "domain-admin", "project-admin"}, 200},
		{"GET", "/v1/projects/" + p.ID + "/resources", nil, []string{"platform-admin", "domain-admin", "project-admin", "project-operator", "project-viewer"}, 200},
		{"POST", "/v1/projects/" + p.ID + "/resources", map[string]string{"origin": "adopted", "kind": "vm"},
			[]string{"platform-admin", "domain-admin", "project-admin", "project-operator"}, 201},
		{"GET", "/v1/resources/" + r.ID, nil, []string{"platform-admin", "domain-admin", "project-admin", "project-operator", "project-viewer"}, 200},
		{"GET", "/v1/authz/relation-tuples?project_id=" + p.ID, nil, []string{"platform-admin", "domain-admin", "project-admin", "project-operator", "project-viewer"}, 200},
		{"POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "n", Slug: "n"}, []string{"platform-admin", "domain-admin"}, 201},
	}
	for _, c := range cases {
		for role, tok := range users {
			want := 403
			if slices.Contains(c.allowed, role) {
				want = c.okStatus
			}
			body := c.body
			if want == 201 {
				body = uniquify(body, role)
			}
			st, raw := e.DoAs(t, tok, c.method, c.path, body, nil)
			if st != want {
				t.Errorf("%s %s as %s: %d %s, want %d", c.method, c.path, role, st, raw, want)
				continue
			}
			if want == 403 {
				if p := problemOf(t, raw); p.Code != "permission_denied" || p.Reason == "" || p.CorrelationID == "" {
					t.Errorf("%s %s as %s: incomplete PermissionDenied %s", c.method, c.path, role, raw)
				}
			}
		}
	}
	// A project operator deletes a Resource; a viewer may not.
	r2 := resource(t, e, users["project-operator"], p.ID)
	if st, raw := e.DoAs(t, users["project-viewer"], "DELETE", "/v1/resources/"+r2.ID, nil, nil); st != 403 {
		t.Fatalf("viewer deletes resource: %d %s", st, raw)
	}
	if st, raw := e.DoAs(t, users["project-operator"], "DELETE", "/v1/resources/"+r2.ID, nil, nil); st != 204 {
		t.Fatalf("operator deletes resource: %d %s", st, raw)
	}
	// The Domain's creator holds its admin role through the owner tuple.
	var x apiv1.AuthzExpansion
	if st, raw := e.Do(t, "POST", "/v1/authz/expand", apiv1.AuthzExpand{Relation: "admin", Resource: "domain:" + d.ID}, &x); st != 200 || x.Tree == nil {
		t.Fatalf("expand: %d %s", st, raw)
	} else if !strings.Contains(string(raw), `"user:`) || x.CorrelationID == "" {
		t.Fatalf("expand lacks the creator's grant: %s", raw)
	}
}

// uniquify gives each allowed role's create call its own slug and CIDR.
func uniquify(body any, role string) any {
	slug := strings.ReplaceAll(role, "-", "")
	switch b := body.(type) {
	case apiv1.CreateDomain:
		b.Slug = slug
		b.MeshCIDR = fmt.Sprintf("10.%d.0.0/16", 200+len(role))
		return b
	case apiv1.CreateProject:
		b.Slug = slug
		return b
	}
	return body
}

// TestCrossTenant shows that a Domain admin of A learns nothing about B.
func TestCrossTenant(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testCrossTenant(t, apptest.Start(t, b))
		})
	}
}

func testCrossTenant(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	a, b := w.domain(t), w.domain(t)
	pa, pb := w.project(t, a.ID), w.project(t, b.ID)
	ra, rb := resource(t, e, e.Token, pa.ID), resource(t, e, e.Token, pb.ID)
	aID, aTok := e.NewUser(t, "admin-of-a")
	grant(t, e, "", "user:"+aID, "admin", "domain:"+a.ID)
	bUser, _ := e.NewUser(t, "user-of-b")
	bGrant := grant(t, e, pb.ID, "user:"+bUser, "viewer", "project:"+pb.ID)
	bGone := grant(t, e, pb.ID, "user:"+bUser, "operator", "project:"+pb.ID)
	if st, raw := e.Do(t, "DELETE", "/v1/authz/relation-tuples/"+bGone, nil, nil); st != 204 {
		t.Fatalf("delete: %d %s", st, raw)
	}

	// A's admin works in A.
	for _, path := range []string{"/v1/domains/" + a.ID, "/v1/projects/" + pa.ID, "/v1/resources/" + ra.ID} {
		if st, raw := e.DoAs(t, aTok, "GET", path, nil, nil); st != 200 {
			t.Fatalf("GET %s as A's admin: %d %s", path, st, raw)
		}
	}
	ghost := func() string { return uuid.Must(uuid.NewV7()).String() }
	probes := []struct{ method, real, fake string }{
		{"GET", "/v1/domains/" + b.ID, "/v1/domains/" + ghost()},
		{"PATCH", "/v1/domains/" + b.ID, "/v1/domains/" + ghost()},
		{"DELETE", "/v1/domains/" + b.ID, "/v1/domains/" + ghost()},
		{"GET", "/v1/projects/" + pb.ID, "/v1/projects/" + ghost()},
		{"PATCH", "/v1/projects/" + pb.ID, "/v1/projects/" + ghost()},
		{"DELETE", "/v1/projects/" + pb.ID, "/v1/projects/" + ghost()},
		{"GET", "/v1/projects?domain_id=" + b.ID, "/v1/projects?domain_id=" + ghost()},
		{"GET", "/v1/projects/" + pb.ID + "/resources", "/v1/projects/" + ghost() + "/resources"},
		{"POST", "/v1/projects/" + pb.ID + "/resources", "/v1/projects/" + ghost() + "/resources"},
		{"GET", "/v1/resources/" + rb.ID, "/v1/resources/" + ghost()},
		{"DELETE", "/v1/resources/" + rb.ID, "/v1/resources/" + ghost()},
		{"GET", "/v1/authz/relation-tuples?project_id=" + pb.ID, "/v1/authz/relation-tuples?project_id=" + ghost()},
		{"GET", "/v1/domains/" + b.ID + "/audit/entries", "/v1/domains/" + ghost() + "/audit/entries"},
		{"DELETE", "/v1/authz/relation-tuples/" + bGrant, "/v1/authz/relation-tuples/" + ghost()},
		{"DELETE", "/v1/authz/relation-tuples/" + bGone, "/v1/authz/relation-tuples/" + ghost()},
	}
	bodies := map[string]any{"PATCH": `{"name":"pwned"}`, "POST": map[string]string{"origin": "adopted", "kind": "vm"}}
	for _, pr := range probes {
		st1, raw1 := e.DoAs(t, aTok, pr.method, pr.real, bodies[pr.method], nil)
		st2, raw2 := e.DoAs(t, aTok, pr.method, pr.fake, bodies[pr.method], nil)
		if st1 != 403 || st2 != 403 {
			t.Errorf("%s %s: %d %s / ghost %d %s, want 403 for both", pr.method, pr.real, st1, raw1, st2, raw2)
			continue
		}
		p1, p2 := problemOf(t, raw1), problemOf(t, raw2)
		if p1.Code != "permission_denied" || p1.Code != p2.Code || p1.Reason != p2.Reason || p1.Detail != p2.Detail ||
			!slices.Equal(p1.RelationPath, p2.RelationPath) {
			t.Errorf("%s %s: existing and missing ids answer differently:\n%s\n%s", pr.method, pr.real, raw1, raw2)
		}
	}
	// Creating in B, granting in B, asking about B.
	for _, c := range []struct {
		path string
		body any
	}{
		{"/v1/projects", apiv1.CreateProject{DomainID: b.ID, Name: "x", Slug: "x"}},
		{"/v1/authz/relation-tuples?project_id=" + pb.ID, apiv1.WriteRelationTuple{Subject: "user:" + aID, Relation: "admin", Resource: "project:" + pb.ID}},
		{"/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + aID, Relation: "admin", Resource: "domain:" + b.ID}},
		{"/v1/authz/check", apiv1.AuthzCheck{Subject: "user:" + bUser, Relation: "read", Resource: "project:" + pb.ID}},
		{"/v1/authz/expand", apiv1.AuthzExpand{Relation: "read", Resource: "project:" + pb.ID}},
	} {
		if st, raw := e.DoAs(t, aTok, "POST", c.path, c.body, nil); st != 403 {
			t.Errorf("POST %s as A's admin: %d %s, want 403", c.path, st, raw)
		}
	}
	// Lists exclude B's rows.
	var ds apiv1.List[apiv1.Domain]
	if st, raw := e.DoAs(t, aTok, "GET", "/v1/domains", nil, &ds); st != 200 || len(ds.Items) != 1 || ds.Items[0].ID != a.ID {
		t.Fatalf("domains as A's admin: %d %s", st, raw)
	}
	var ps apiv1.List[apiv1.Project]
	if st, raw := e.DoAs(t, aTok, "GET", "/v1/projects", nil, &ps); st != 200 || len(ps.Items) != 1 || ps.Items[0].ID != pa.ID {
		t.Fatalf("projects as A's admin: %d %s", st, raw)
	}
	// Looking up what B's user reaches shows nothing of B to A's admin.
	var lr apiv1.AuthzResources
	st, raw := e.DoAs(t, aTok, "POST", "/v1/authz/lookup-resources",
		apiv1.AuthzLookupResources{Subject: "user:" + bUser, Relation: "read", ResourceType: "project"}, &lr)
	if st != 200 || len(lr.Items) != 0 {
		t.Fatalf("lookup as A's admin: %d %s", st, raw)
	}
	// A caller with no membership gets an empty page that says why.
	_, outsider := e.NewUser(t, "outsider")
	ds = apiv1.List[apiv1.Domain]{}
	if st, raw := e.DoAs(t, outsider, "GET", "/v1/domains", nil, &ds); st != 200 || len(ds.Items) != 0 || ds.EmptyReason != "no_rebac_membership" {
		t.Fatalf("domains as outsider: %d %s", st, raw)
	}
}

// TestGroupGrantAndRevoke grants a Project role to a group, then removes
// the member: both take effect on the next request.
func TestGroupGrantAndRevoke(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testGroupGrant(t, apptest.Start(t, b))
		})
	}
}

func testGroupGrant(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	d := w.domain(t)
	p := w.project(t, d.ID)
	uid, tok := e.NewUser(t, "grouped")
	group := "group:" + uuid.Must(uuid.NewV7()).String()
	member := grant(t, e, "", "user:"+uid, "member", group)
	if st, raw := e.DoAs(t, tok, "GET", "/v1/projects/"+p.ID, nil, nil); st != 403 {
		t.Fatalf("before the group grant: %d %s", st, raw)
	}
	viaGroup := grant(t, e, p.ID, group+"#member", "viewer", "project:"+p.ID)
	if st, raw := e.DoAs(t, tok, "GET", "/v1/projects/"+p.ID, nil, nil); st != 200 {
		t.Fatalf("through the group: %d %s", st, raw)
	}
	var dec apiv1.AuthzDecision
	st, raw := e.DoAs(t, tok, "POST", "/v1/authz/check", apiv1.AuthzCheck{Subject: "user:" + uid, Relation: "read", Resource: "project:" + p.ID}, &dec)
	if st != 200 || dec.Decision != "allowed" || dec.Reason != "granted" || !slices.Contains(dec.RelationPath, group+"#member") {
		t.Fatalf("check through the group: %d %s", st, raw)
	}
	// The Project's tuple list shows the grant, not the structural tuple.
	var list apiv1.List[apiv1.RelationTuple]
	if st, raw := e.Do(t, "GET", "/v1/authz/relation-tuples?project_id="+p.ID, nil, &list); st != 200 ||
		len(list.Items) != 1 || list.Items[0].ID != viaGroup {
		t.Fatalf("tuple list: %d %s", st, raw)
	}
	// The grant keeps the Project from being deleted; its structural tuple does not.
	st, raw = e.Do(t, "DELETE", "/v1/projects/"+p.ID, nil, nil)
	if pr := problemOf(t, raw); st != 409 || pr.Code != "project_not_empty" || pr.ProjectCounts == nil || pr.ProjectCounts.RelationTuples != 1 {
		t.Fatalf("delete project with a grant: %d %s", st, raw)
	}
	// Revocation of the membership is immediate.
	if st, raw := e.Do(t, "DELETE", "/v1/authz/relation-tuples/"+member, nil, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, raw)
	}
	if st, raw := e.DoAs(t, tok, "GET", "/v1/projects/"+p.ID, nil, nil); st != 403 {
		t.Fatalf("after revocation: %d %s", st, raw)
	}
	dec = apiv1.AuthzDecision{}
	st, raw = e.DoAs(t, tok, "POST", "/v1/authz/check", apiv1.AuthzCheck{Subject: "user:" + uid, Relation: "read", Resource: "project:" + p.ID}, &dec)
	if st != 200 || dec.Decision != "denied" || dec.Reason != "out_of_scope" || dec.CorrelationID == "" {
		t.Fatalf("check after revocation (a denial is data): %d %s", st, raw)
	}
	st, raw = e.Do(t, "DELETE", "/v1/authz/relation-tuples/"+member, nil, nil)
	if pr := problemOf(t, raw); st != 404 || pr.Code != "relation_tuple_not_found" {
		t.Fatalf("repeat delete: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "DELETE", "/v1/authz/relation-tuples/"+viaGroup, nil, nil); st != 204 {
		t.Fatalf("delete the group grant: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "DELETE", "/v1/projects/"+p.ID, nil, nil); st != 204 {
		t.Fatalf("delete the emptied project: %d %s", st, raw)
	}
	// Asking about another subject needs auditor; object-graph links and
	// caveats cannot be written.
	if st, raw := e.DoAs(t, tok, "POST", "/v1/authz/check", apiv1.AuthzCheck{Subject: "user:" + uuid.NewString(), Relation: "read", Resource: "domain:" + d.ID}, nil); st != 403 {
		t.Fatalf("check another subject without auditor: %d %s", st, raw)
	}
	p2 := w.project(t, d.ID)
	for _, c := range []struct {
		body apiv1.WriteRelationTuple
		st   int
		code string
	}{
		{apiv1.WriteRelationTuple{Subject: "domain:" + uuid.NewString(), Relation: "domain", Resource: "project:" + p2.ID}, 400, "subject_not_allowed"},
		{apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "read", Resource: "project:" + p2.ID}, 400, "subject_not_allowed"},
		{apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "nope", Resource: "project:" + p2.ID}, 400, "unknown_relation"},
		{apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "admin", Resource: "project:" + uuid.NewString()}, 400, "resource_not_in_project"},
		{apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "admin", Resource: "project:" + p2.ID, CaveatName: "x"}, 501, "caveats_not_provisioned"},
	} {
		st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+p2.ID, c.body, nil)
		if pr := problemOf(t, raw); st != c.st || pr.Code != c.code {
			t.Errorf("write %+v: %d %s, want %d %s", c.body, st, raw, c.st, c.code)
		}
	}
	grant(t, e, p2.ID, "user:"+uid, "admin", "project:"+p2.ID)
	st, raw = e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+p2.ID,
		apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "admin", Resource: "project:" + p2.ID}, nil)
	if pr := problemOf(t, raw); st != 409 || pr.Code != "relation_tuple_conflict" {
		t.Fatalf("duplicate grant: %d %s", st, raw)
	}
	// A Project admin deletes a grant twice (404 the second time) and gets
	// 403 for an id that never existed, as for one outside their scope.
	var rt apiv1.RelationTuple
	if st, raw := e.DoAs(t, tok, "POST", "/v1/authz/relation-tuples?project_id="+p2.ID,
		apiv1.WriteRelationTuple{Subject: "user:" + uuid.NewString(), Relation: "viewer", Resource: "project:" + p2.ID}, &rt); st != 201 {
		t.Fatalf("project admin grants: %d %s", st, raw)
	}
	for i, want := range []int{204, 404} {
		if st, raw := e.DoAs(t, tok, "DELETE", "/v1/authz/relation-tuples/"+rt.ID, nil, nil); st != want {
			t.Fatalf("project admin's delete #%d: %d %s, want %d", i+1, st, raw, want)
		}
	}
	if st, raw := e.DoAs(t, tok, "DELETE", "/v1/authz/relation-tuples/"+uuid.NewString(), nil, nil); st != 403 {
		t.Fatalf("project admin deletes a ghost: %d %s", st, raw)
	}
	var lr apiv1.AuthzResources
	st, raw = e.DoAs(t, tok, "POST", "/v1/authz/lookup-resources", apiv1.AuthzLookupResources{Subject: "user:" + uid, Relation: "manage", ResourceType: "project"}, &lr)
	if st != 200 || !slices.Equal(lr.Items, []string{"project:" + p2.ID}) {
		t.Fatalf("lookup-resources: %d %s", st, raw)
	}
}

// TestReplicasConverge writes through one replica and reads through another
// on the same database: on PostgreSQL a notification wakes the follower, on
// SQLite (two servers on one file) its poll finds the change.
func TestReplicasConverge(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testReplicas(t, apptest.Start(t, b))
		})
	}
}

func testReplicas(t *testing.T, e1 *apptest.Env) {
	e2 := e1.Replica(t)
	w := &world{e: e1}
	d := w.domain(t)
	uid, tok := e1.NewUser(t, "roaming")
	if st, raw := e2.DoAs(t, tok, "GET", "/v1/domains/"+d.ID, nil, nil); st != 403 {
		t.Fatalf("before the grant: %d %s", st, raw)
	}
	id := grant(t, e1, "", "user:"+uid, "viewer", "domain:"+d.ID)
	waitFor(t, e2, tok, "/v1/domains/"+d.ID, 200)
	if st, raw := e2.Do(t, "DELETE", "/v1/authz/relation-tuples/"+id, nil, nil); st != 204 {
		t.Fatalf("revoke through the second replica: %d %s", st, raw)
	}
	waitFor(t, e1, tok, "/v1/domains/"+d.ID, 403)
}

// waitFor polls path as token on e until it answers want, for at most a
// second.
func waitFor(t *testing.T, e *apptest.Env, token, path string, want int) {
	t.Helper()
	start := time.Now()
	for {
		st, raw := e.DoAs(t, token, "GET", path, nil, nil)
		if st == want {
			t.Logf("%s answered %d after %s", path, want, time.Since(start))
			return
		}
		if time.Since(start) > time.Second {
			t.Fatalf("%s still answers %d %s after %s, want %d", path, st, raw, time.Since(start), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
