package tuples_test

import (
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestExpandUnknownRelation: Issue 7 row 19: expanding a relation the
// object's type does not have (any relation of user:, manage on group:)
// answered 503 authz_unavailable and logged an ERROR, because the
// authorization check asked the engine for a relation the type lacks. It is
// a bad request (400 unknown_relation) for every caller, and a caller who may
// not expand the object still gets a 403, never a 503.
func TestExpandUnknownRelation(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testExpandUnknownRelation(t, apptest.Start(t, b))
		})
	}
}

func testExpandUnknownRelation(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	d := w.domain(t)
	p := w.project(t, d.ID)
	pa, paTok := e.NewUser(t, "project-admin")
	grant(t, e, p.ID, "user:"+pa, "admin", "project:"+p.ID)
	grant(t, e, "", "user:"+pa, "member", "group:g1")
	cases := []struct {
		token, relation, resource string
		status                    int
		code                      string
	}{
		{e.Token, "manage", "group:g1", 400, "unknown_relation"},
		{e.Token, "admin", "user:" + pa, 400, "unknown_relation"},
		{e.Token, "nonsense", "project:" + p.ID, 400, "unknown_relation"},
		{e.Token, "admin", "nosuchtype:x", 400, "unknown_object_type"},
		{paTok, "manage", "group:g1", 400, "unknown_relation"},
		{paTok, "member", "user:" + pa, 400, "unknown_relation"},
		{paTok, "nonsense", "project:" + p.ID, 400, "unknown_relation"},
		// Relations the type has: the platform admin expands the group; a
		// Project admin may not (groups are platform objects), which is a
		// 403, not an outage.
		{e.Token, "member", "group:g1", 200, ""},
		{paTok, "member", "group:g1", 403, "permission_denied"},
	}
	for _, c := range cases {
		st, raw := e.DoAs(t, c.token, "POST", "/v1/authz/expand", apiv1.AuthzExpand{Relation: c.relation, Resource: c.resource}, nil)
		if st != c.status {
			t.Errorf("expand %s#%s: %d %s, want %d", c.resource, c.relation, st, raw, c.status)
			continue
		}
		if c.code != "" {
			if p := problemOf(t, raw); p.Code != c.code {
				t.Errorf("expand %s#%s: code %q, want %q", c.resource, c.relation, p.Code, c.code)
			}
		}
	}
}

// TestExpandHidesSubjectsAboveScope: Issue 7 row 21: a Project admin who
// expanded project#admin saw the platform admin's user id (through
// domain->admin, platform->manage) and every Domain admin. Expand now shows
// the subjects and usersets of a node only to a caller who may expand that
// node itself (its Domain's auditor, or manage on it); other nodes keep
// their relation and resource (already visible in the parent) but are
// truncated, with no subjects and no children.
func TestExpandHidesSubjectsAboveScope(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testExpandHidesSubjectsAboveScope(t, apptest.Start(t, b))
		})
	}
}

func testExpandHidesSubjectsAboveScope(t *testing.T, e *apptest.Env) {
	w := &world{e: e}
	d := w.domain(t)
	p := w.project(t, d.ID)
	var me apiv1.Whoami
	if st, raw := e.Do(t, "GET", "/v1/auth/whoami", nil, &me); st != 200 || me.Subject == "" {
		t.Fatalf("whoami: %d %s", st, raw)
	}
	rootID := me.Subject[strings.LastIndex(me.Subject, ":")+1:]
	pa, paTok := e.NewUser(t, "project-admin")
	da, daTok := e.NewUser(t, "domain-admin")
	plat, _ := e.NewUser(t, "platform-admin")
	op, _ := e.NewUser(t, "project-operator")
	grant(t, e, p.ID, "user:"+pa, "admin", "project:"+p.ID)
	grant(t, e, p.ID, "user:"+op, "operator", "project:"+p.ID)
	grant(t, e, "", "user:"+da, "admin", "domain:"+d.ID)
	grant(t, e, "", "user:"+plat, "admin", "platform")

	expand := func(tok, relation, resource string) string {
		t.Helper()
		var x apiv1.AuthzExpansion
		st, raw := e.DoAs(t, tok, "POST", "/v1/authz/expand", apiv1.AuthzExpand{Relation: relation, Resource: resource, MaxDepth: 16}, &x)
		if st != 200 || x.Tree == nil {
			t.Fatalf("expand %s#%s: %d %s", resource, relation, st, raw)
		}
		return string(raw)
	}
	// The Project admin sees the Project's own grants, not those above it.
	for _, rel := range []string{"admin", "operator", "read", "manage"} {
		raw := expand(paTok, rel, "project:"+p.ID)
		for name, id := range map[string]string{"bootstrap platform admin": rootID, "platform admin": plat, "domain admin": da} {
			if strings.Contains(raw, id) {
				t.Errorf("project admin's expand of project#%s shows the %s %s: %s", rel, name, id, raw)
			}
		}
		if !strings.Contains(raw, "user:"+pa) {
			t.Errorf("project admin's expand of project#%s lacks the Project's own admin: %s", rel, raw)
		}
		if !strings.Contains(raw, `"resource":"domain:`+d.ID+`"`) || !strings.Contains(raw, `"truncated":true`) {
			t.Errorf("project admin's expand of project#%s does not mark the Domain's node as truncated: %s", rel, raw)
		}
	}
	if raw := expand(paTok, "operator", "project:"+p.ID); !strings.Contains(raw, "user:"+op) {
		t.Errorf("project admin's expand of project#operator lacks the operator: %s", raw)
	}
	// The Domain admin sees the Domain's admins, not the platform's.
	raw := expand(daTok, "admin", "project:"+p.ID)
	if !strings.Contains(raw, "user:"+da) || !strings.Contains(raw, "user:"+pa) {
		t.Errorf("domain admin's expand lacks the Domain's or the Project's admin: %s", raw)
	}
	if strings.Contains(raw, "user:"+plat) {
		t.Errorf("domain admin's expand shows the platform admin: %s", raw)
	}
	// The platform admin sees everything.
	raw = expand(e.Token, "admin", "project:"+p.ID)
	for _, id := range []string{rootID, plat, da, pa} {
		if !strings.Contains(raw, "user:"+id) {
			t.Errorf("platform admin's expand lacks user:%s: %s", id, raw)
		}
	}
}
