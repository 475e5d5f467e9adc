package groups_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

func code(raw []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(raw, &p)
	return p.Code
}

func createGroup(t *testing.T, e *apptest.Env, domainID, slug, name string) apiv1.Group {
	t.Helper()
	var g apiv1.Group
	st, raw := e.Do(t, "POST", "/v1/admin/groups", apiv1.CreateGroup{DomainID: domainID, Slug: slug, DisplayName: name,
		Source: "manual"}, &g)
	if st != 201 || g.Source != "manual" || g.DomainID != domainID || g.Slug != slug {
		t.Fatalf("create group %s: %d %s", slug, st, raw)
	}
	return g
}

func grant(t *testing.T, e *apptest.Env, subject, relation, resource string) {
	t.Helper()
	path := "/v1/authz/relation-tuples"
	if id, ok := strings.CutPrefix(resource, "project:"); ok {
		path += "?project_id=" + id
	}
	if st, raw := e.Do(t, "POST", path, apiv1.WriteRelationTuple{Subject: subject, Relation: relation,
		Resource: resource}, nil); st != 201 {
		t.Fatalf("grant %s#%s@%s: %d %s", resource, relation, subject, st, raw)
	}
}

func addMember(t *testing.T, e *apptest.Env, groupID, principalID, kind string, status int, wantCode string) {
	t.Helper()
	addMemberAs(t, e, e.Token, groupID, principalID, kind, status, wantCode)
}

func addMemberAs(t *testing.T, e *apptest.Env, token, groupID, principalID, kind string, status int, wantCode string) {
	t.Helper()
	var m apiv1.GroupMember
	st, raw := e.DoAs(t, token, "POST", "/v1/admin/groups/"+groupID+"/members",
		apiv1.AddGroupMember{PrincipalID: principalID, PrincipalKind: kind, Source: "manual"}, &m)
	if st != status || code(raw) != wantCode {
		t.Fatalf("add %s %s to %s: %d %s, want %d %q", kind, principalID, groupID, st, raw, status, wantCode)
	}
	if st == 201 && (m.GroupID != groupID || m.PrincipalID != principalID || m.PrincipalKind != kind || m.Source != "manual") {
		t.Fatalf("add member answered %+v", m)
	}
}

func removeMember(t *testing.T, e *apptest.Env, groupID, principalID, kind string, status int, wantCode string) {
	t.Helper()
	st, raw := e.Do(t, "DELETE", "/v1/admin/groups/"+groupID+"/members/"+principalID+"?kind="+kind, nil, nil)
	if st != status || code(raw) != wantCode {
		t.Fatalf("remove %s %s from %s: %d %s, want %d %q", kind, principalID, groupID, st, raw, status, wantCode)
	}
}

func createDomain(t *testing.T, e *apptest.Env, slug, cidr string) string {
	t.Helper()
	var d apiv1.Domain
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: cidr}, &d); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	return d.ID
}

// TestGroupRules: validation and conflict codes, the nesting bound, scoping
// of members to the group's Domain, who may manage groups (a Domain admin
// of its own Domain only; 403 alike for another Domain's group and a
// missing one), and the audit of changes and denials.
func TestGroupRules(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			dom := createDomain(t, e, "alpha", "100.70.0.0/16")
			other := createDomain(t, e, "beta", "100.71.0.0/16")
			g := createGroup(t, e, dom, "team", "Team")
			foreign := createGroup(t, e, other, "team", "Team") // slugs are per Domain
			for _, c := range []struct {
				name   string
				body   apiv1.CreateGroup
				status int
				code   string
			}{
				{"slug taken", apiv1.CreateGroup{DomainID: dom, Slug: "team", DisplayName: "x", Source: "manual"}, 409, "group_slug_conflict"},
				{"bad slug", apiv1.CreateGroup{DomainID: dom, Slug: "-Team", DisplayName: "x", Source: "manual"}, 400, "invalid_body"},
				{"no domain", apiv1.CreateGroup{Slug: "a", DisplayName: "x", Source: "manual"}, 400, "invalid_domain_id"},
				{"manual with claim", apiv1.CreateGroup{DomainID: dom, Slug: "a", DisplayName: "x", Source: "manual", IdPClaimValue: "v"}, 400, "invalid_body"},
				{"idp without binding", apiv1.CreateGroup{DomainID: dom, Slug: "a", DisplayName: "x", Source: "idp"}, 400, "invalid_body"},
				{"idp unknown binding", apiv1.CreateGroup{DomainID: dom, Slug: "a", DisplayName: "x", Source: "idp",
					IdPBindingID: foreign.ID, IdPClaimValue: "v"}, 404, "binding_not_found"},
				{"missing domain", apiv1.CreateGroup{DomainID: "0190a8b8-a0c0-7a0a-8a0a-a0a0a0a0a0a1", Slug: "a", DisplayName: "x", Source: "manual"}, 404, "domain_not_found"},
			} {
				if st, raw := e.Do(t, "POST", "/v1/admin/groups", c.body, nil); st != c.status || (c.code != "" && code(raw) != c.code) {
					t.Errorf("%s: %d %s, want %d %s", c.name, st, raw, c.status, c.code)
				}
			}
			if st, raw := e.Do(t, "PATCH", "/v1/admin/groups/"+g.ID, map[string]any{"display_name": "x", "slug": "y"}, nil); st != 400 || code(raw) != "slug_immutable" {
				t.Errorf("patch slug: %d %s", st, raw)
			}
			var renamed apiv1.Group
			if st, raw := e.Do(t, "PATCH", "/v1/admin/groups/"+g.ID, apiv1.PatchGroup{DisplayName: "Team 2"}, &renamed); st != 200 ||
				renamed.DisplayName != "Team 2" || renamed.Slug != "team" || !renamed.UpdatedAt.After(g.UpdatedAt) && !renamed.UpdatedAt.Equal(g.UpdatedAt) {
				t.Errorf("rename: %d %s", st, raw)
			}

			// Members: scoped to the Domain, unique, source must match.
			user, userToken := e.NewUser(t, "u")
			addMember(t, e, g.ID, user, "user", 201, "")
			addMember(t, e, g.ID, user, "user", 409, "member_exists")
			addMember(t, e, g.ID, foreign.ID, "group", 404, "principal_not_found")
			addMember(t, e, g.ID, "0190a8b8-a0c0-7a0a-8a0a-a0a0a0a0a0a1", "service_identity", 404, "principal_not_found")
			if st, raw := e.Do(t, "POST", "/v1/admin/groups/"+g.ID+"/members", apiv1.AddGroupMember{PrincipalID: user,
				PrincipalKind: "user", Source: "idp"}, nil); st != 409 || code(raw) != "source-conflict" {
				t.Errorf("idp-sourced member of a manual group: %d %s", st, raw)
			}
			removeMember(t, e, g.ID, user, "service_identity", 404, "member_not_found")
			if st, raw := e.Do(t, "DELETE", "/v1/admin/groups/"+g.ID+"/members/"+user, nil, nil); st != 422 && st != 400 {
				t.Errorf("remove without kind: %d %s", st, raw)
			}

			// The nesting bound: a chain of MaxNesting groups, not one more.
			chain := []apiv1.Group{g}
			for i := 1; i < 8; i++ {
				next := createGroup(t, e, dom, fmt.Sprintf("level-%d", i), "level")
				addMember(t, e, chain[len(chain)-1].ID, next.ID, "group", 201, "")
				chain = append(chain, next)
			}
			deeper := createGroup(t, e, dom, "level-8", "level")
			addMember(t, e, chain[len(chain)-1].ID, deeper.ID, "group", 409, "group_nesting_too_deep")
			top := createGroup(t, e, dom, "top", "top")
			addMember(t, e, top.ID, g.ID, "group", 409, "group_nesting_too_deep")
			addMember(t, e, chain[len(chain)-1].ID, g.ID, "group", 409, "group_cycle")

			// Who may manage: u is no admin; as admin of beta only, it still
			// gets 403 on alpha's group and on a missing one, never 404.
			missing := "/v1/admin/groups/0190a8b8-a0c0-7a0a-8a0a-a0a0a0a0a0a9"
			for _, c := range []struct{ method, path string }{
				{"GET", "/v1/admin/groups?domain_id=" + dom},
				{"GET", "/v1/admin/groups/" + g.ID},
				{"GET", missing},
				{"GET", "/v1/admin/groups/" + g.ID + "/members"},
				{"DELETE", "/v1/admin/groups/" + g.ID},
			} {
				if st, raw := e.DoAs(t, userToken, c.method, c.path, nil, nil); st != 403 {
					t.Errorf("%s %s as a non-admin: %d %s", c.method, c.path, st, raw)
				}
			}
			grant(t, e, "user:"+user, "admin", "domain:"+other)
			addMemberAs(t, e, userToken, foreign.ID, user, "user", 201, "")
			addMemberAs(t, e, userToken, g.ID, user, "user", 403, "permission_denied")
			if st, raw := e.DoAs(t, userToken, "GET", missing, nil, nil); st != 403 {
				t.Errorf("missing group as a Domain admin: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", missing, nil, nil); st != 404 || code(raw) != "group_not_found" {
				t.Errorf("missing group as platform admin: %d %s", st, raw)
			}
			var audited, denied int
			e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'group.members.add'
				AND outcome = 'succeeded' AND object_id = $2`, other, foreign.ID).Scan(&audited)
			e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'group.members.add'
				AND outcome = 'denied'`, dom).Scan(&denied)
			if audited != 1 || denied != 1 {
				t.Fatalf("member add audited %d times on beta's chain, the denial %d times on alpha's", audited, denied)
			}
		})
	}
}

// TestConcurrentNestingNeverClosesACycle: two administrators nest a in b
// and b in a at the same moment; exactly one wins and the other is told
// group_cycle, on both databases (the Domain's row lock on PostgreSQL).
func TestConcurrentNestingNeverClosesACycle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			dom := createDomain(t, e, "race", "100.72.0.0/16")
			for i := range 5 {
				a := createGroup(t, e, dom, fmt.Sprintf("a%d", i), "a")
				c := createGroup(t, e, dom, fmt.Sprintf("c%d", i), "c")
				type answer struct {
					status int
					raw    []byte
				}
				answers := make(chan answer, 2)
				for _, pair := range [][2]string{{a.ID, c.ID}, {c.ID, a.ID}} {
					go func() {
						st, raw := e.DoAs(t, e.Token, "POST", "/v1/admin/groups/"+pair[0]+"/members",
							apiv1.AddGroupMember{PrincipalID: pair[1], PrincipalKind: "group", Source: "manual"}, nil)
						answers <- answer{st, raw}
					}()
				}
				got := map[string]int{}
				for range 2 {
					an := <-answers
					got[fmt.Sprintf("%d %s", an.status, code(an.raw))]++
				}
				if got["201 "] != 1 || got["409 group_cycle"] != 1 {
					t.Fatalf("round %d: answers %v, want one 201 and one 409 group_cycle", i, got)
				}
			}
		})
	}
}
