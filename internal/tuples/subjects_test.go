package tuples_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestLookupSubjects finds who may read a Project: a user through a group,
// a user through the Domain → Project hierarchy and a direct grant, on both
// databases; strangers and non-auditors are refused.
func TestLookupSubjects(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testLookupSubjects(t, apptest.Start(t, b))
		})
	}
}

func lookupSubjects(t *testing.T, e *apptest.Env, token string, in apiv1.AuthzLookupSubjects) (int, apiv1.AuthzSubjects, []byte) {
	t.Helper()
	var out apiv1.AuthzSubjects
	var st int
	var raw []byte
	if token == "" {
		st, raw = e.Do(t, "POST", "/v1/authz/lookup-subjects", in, &out)
	} else {
		st, raw = e.DoAs(t, token, "POST", "/v1/authz/lookup-subjects", in, &out)
	}
	return st, out, raw
}

func testLookupSubjects(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	d := w.domain(t)
	p := w.project(t, d.ID)
	viaGroup, groupTok := e.NewUser(t, "via-group")
	viaDomain, _ := e.NewUser(t, "via-domain")
	direct, _ := e.NewUser(t, "direct")
	stranger, _ := e.NewUser(t, "stranger")
	group := "group:" + uuid.Must(uuid.NewV7()).String()
	grant(t, e, "", "user:"+viaGroup, "member", group)
	grant(t, e, p.ID, group+"#member", "viewer", "project:"+p.ID)
	grant(t, e, "", "user:"+viaDomain, "admin", "domain:"+d.ID)
	grant(t, e, p.ID, "user:"+direct, "operator", "project:"+p.ID)

	in := apiv1.AuthzLookupSubjects{SubjectType: "user", Relation: "read", Resource: "project:" + p.ID}
	st, got, raw := lookupSubjects(t, e, "", in)
	if st != 200 || got.CorrelationID == "" {
		t.Fatalf("lookup-subjects: %d %s", st, raw)
	}
	for _, u := range []string{viaGroup, viaDomain, direct} {
		if !slices.Contains(got.Items, "user:"+u) {
			t.Errorf("lookup-subjects misses user:%s: %s", u, raw)
		}
	}
	if slices.Contains(got.Items, "user:"+stranger) || !slices.IsSorted(got.Items) {
		t.Errorf("lookup-subjects: a stranger or unsorted: %s", raw)
	}
	// manage is held through the Domain, not through the viewer group.
	st, got, raw = lookupSubjects(t, e, "", apiv1.AuthzLookupSubjects{SubjectType: "user", Relation: "manage", Resource: "project:" + p.ID})
	if st != 200 || !slices.Contains(got.Items, "user:"+viaDomain) || slices.Contains(got.Items, "user:"+viaGroup) ||
		slices.Contains(got.Items, "user:"+direct) {
		t.Errorf("lookup-subjects manage: %d %s", st, raw)
	}
	// Usersets are subjects too.
	st, got, raw = lookupSubjects(t, e, "", apiv1.AuthzLookupSubjects{SubjectType: "group#member", Relation: "viewer", Resource: "project:" + p.ID})
	if st != 200 || !slices.Equal(got.Items, []string{group + "#member"}) {
		t.Errorf("lookup-subjects group#member: %d %s", st, raw)
	}
	if n := auditCount(t, e, d.ID, "authz.lookup_subjects", "succeeded", p.ID); n != 3 {
		t.Errorf("%d lookup_subjects entries on the Domain's chain, want 3", n)
	}
	// A viewer of the Project is no auditor of its Domain.
	if st, _, raw := lookupSubjects(t, e, groupTok, in); st != 403 {
		t.Errorf("lookup-subjects by a viewer: %d %s, want 403", st, raw)
	}
	for _, c := range []struct {
		in   apiv1.AuthzLookupSubjects
		code string
	}{
		{apiv1.AuthzLookupSubjects{SubjectType: "us er", Relation: "read", Resource: "project:" + p.ID}, "invalid_subject_type"},
		{apiv1.AuthzLookupSubjects{SubjectType: "user", Relation: "read", Resource: "project"}, "invalid_resource"},
		{apiv1.AuthzLookupSubjects{SubjectType: "user", Relation: "nope", Resource: "project:" + p.ID}, "unknown_relation"},
		{apiv1.AuthzLookupSubjects{SubjectType: "nope", Relation: "read", Resource: "project:" + p.ID}, "unknown_object_type"},
	} {
		st, _, raw := lookupSubjects(t, e, "", c.in)
		if pr := problemOf(t, raw); st != 400 || pr.Code != c.code {
			t.Errorf("lookup-subjects %+v: %d %s, want 400 %s", c.in, st, raw, c.code)
		}
	}
}

// TestPatchRelationTuple replaces a tuple in place and sees checks change at
// once; the replacement follows every rule of a write in the same scope.
func TestPatchRelationTuple(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testPatchRelationTuple(t, apptest.Start(t, b))
		})
	}
}

func check(t *testing.T, e *apptest.Env, subject, relation, resource string) string {
	t.Helper()
	var dec apiv1.AuthzDecision
	st, raw := e.Do(t, "POST", "/v1/authz/check", apiv1.AuthzCheck{Subject: subject, Relation: relation, Resource: resource}, &dec)
	if st != 200 {
		t.Fatalf("check %s#%s@%s: %d %s", resource, relation, subject, st, raw)
	}
	return dec.Decision
}

func testPatchRelationTuple(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	d := w.domain(t)
	p := w.project(t, d.ID)
	other := w.project(t, d.ID)
	uid, tok := e.NewUser(t, "patched")
	next, nextTok := e.NewUser(t, "next")
	res := "project:" + p.ID
	id := grant(t, e, p.ID, "user:"+uid, "viewer", res)
	if check(t, e, "user:"+uid, "manage", res) != "denied" {
		t.Fatal("a viewer manages")
	}
	patch := func(token string, body apiv1.PatchRelationTuple, tupleID string) (int, apiv1.RelationTuple, []byte) {
		t.Helper()
		var rt apiv1.RelationTuple
		if token == "" {
			st, raw := e.Do(t, "PATCH", "/v1/authz/relation-tuples/"+tupleID, body, &rt)
			return st, rt, raw
		}
		st, raw := e.DoAs(t, token, "PATCH", "/v1/authz/relation-tuples/"+tupleID, body, &rt)
		return st, rt, raw
	}
	// Viewer → admin: manage is allowed at once, under the same id.
	st, rt, raw := patch("", apiv1.PatchRelationTuple{Subject: "user:" + uid, Relation: "admin", Resource: res}, id)
	if st != 200 || rt.ID != id || rt.Relation != "admin" || rt.Subject != "user:"+uid || rt.Resource != res {
		t.Fatalf("patch relation: %d %s", st, raw)
	}
	if check(t, e, "user:"+uid, "manage", res) != "allowed" {
		t.Fatal("patched to admin, manage still denied")
	}
	// The new Project admin hands the grant to another user: the first loses
	// read at once, the second gains it.
	st, rt, raw = patch(tok, apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "viewer", Resource: res}, id)
	if st != 200 || rt.ID != id || rt.Subject != "user:"+next {
		t.Fatalf("patch subject: %d %s", st, raw)
	}
	if st, raw := e.DoAs(t, tok, "GET", "/v1/projects/"+p.ID, nil, nil); st != 403 {
		t.Fatalf("old subject after patch: %d %s", st, raw)
	}
	if st, raw := e.DoAs(t, nextTok, "GET", "/v1/projects/"+p.ID, nil, nil); st != 200 {
		t.Fatalf("new subject after patch: %d %s", st, raw)
	}
	var list apiv1.List[apiv1.RelationTuple]
	if st, raw := e.Do(t, "GET", "/v1/authz/relation-tuples?project_id="+p.ID, nil, &list); st != 200 ||
		len(list.Items) != 1 || list.Items[0].ID != id || list.Items[0].Subject != "user:"+next {
		t.Fatalf("list after patch: %d %s", st, raw)
	}
	// The same contents again change nothing.
	if st, rt, raw := patch("", apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "viewer", Resource: res}, id); st != 200 || rt.ID != id {
		t.Fatalf("idempotent patch: %d %s", st, raw)
	}
	// The replaced-away subject (no longer an admin) may not patch; a
	// viewer may not either.
	if st, _, raw := patch(tok, apiv1.PatchRelationTuple{Subject: "user:" + uid, Relation: "admin", Resource: res}, id); st != 403 {
		t.Fatalf("patch by a non-manager: %d %s", st, raw)
	}
	if st, _, raw := patch(nextTok, apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "admin", Resource: res}, id); st != 403 {
		t.Fatalf("self-promotion by a viewer: %d %s", st, raw)
	}
	dup := grant(t, e, p.ID, "user:"+uid, "operator", res)
	for _, c := range []struct {
		body apiv1.PatchRelationTuple
		id   string
		st   int
		code string
	}{
		{apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "viewer", Resource: "project:" + other.ID}, id, 400, "resource_not_in_project"},
		{apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "read", Resource: res}, id, 400, "subject_not_allowed"},
		{apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "nope", Resource: res}, id, 400, "unknown_relation"},
		{apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "viewer", Resource: res, CaveatName: "ip"}, id, 501, "caveats_not_provisioned"},
		{apiv1.PatchRelationTuple{Subject: "user:" + uid, Relation: "operator", Resource: res}, id, 409, "relation_tuple_conflict"},
		{apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "viewer", Resource: res}, uuid.NewString(), 404, "relation_tuple_not_found"},
		{apiv1.PatchRelationTuple{Subject: "user:" + next, Relation: "viewer", Resource: res}, "nope", 400, "invalid_relation_tuple_id"},
	} {
		st, _, raw := patch("", c.body, c.id)
		if pr := problemOf(t, raw); st != c.st || pr.Code != c.code {
			t.Errorf("patch %+v: %d %s, want %d %s", c.body, st, raw, c.st, c.code)
		}
	}
	// The failed patches left both tuples as they were.
	if check(t, e, "user:"+next, "read", res) != "allowed" {
		t.Fatal("a refused patch changed a tuple")
	}
	if st, raw := e.Do(t, "DELETE", "/v1/authz/relation-tuples/"+dup, nil, nil); st != 204 {
		t.Fatalf("delete: %d %s", st, raw)
	}
	// Each replacement is one entry on the Project's Domain chain, under the tuple's id.
	if n := auditCount(t, e, d.ID, "authz.tuple_patch", "succeeded", id); n != 3 {
		t.Errorf("%d succeeded authz.tuple_patch entries for %s, want 3", n, id)
	}
	if n := auditCount(t, e, d.ID, "authz.tuple_patch", "denied", id); n < 2 {
		t.Errorf("%d denied authz.tuple_patch entries for %s, want the 2 refusals", n, id)
	}
	// A deleted tuple cannot be patched.
	if st, raw := e.Do(t, "PATCH", "/v1/authz/relation-tuples/"+dup, apiv1.PatchRelationTuple{Subject: "user:" + uid, Relation: "viewer", Resource: res}, nil); st != 404 {
		t.Fatalf("patch a deleted tuple: %d %s", st, raw)
	}
}

// auditCount counts the entries of action with outcome on objID in the
// Domain's chain.
func auditCount(t *testing.T, e *apptest.Env, domainID, action, outcome, objID string) int {
	t.Helper()
	var l apiv1.AuditList
	st, raw := e.Do(t, "GET", "/v1/domains/"+domainID+"/audit/entries?limit=200&action="+action, nil, &l)
	if st != 200 {
		t.Fatalf("audit entries: %d %s", st, raw)
	}
	n := 0
	for _, a := range l.Items {
		if a.Action == action && a.Outcome == outcome && a.Object.ID == objID {
			n++
		}
	}
	return n
}
