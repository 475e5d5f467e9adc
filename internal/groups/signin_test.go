package groups_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestManualGroupsThroughSignIn is issue 16's "Must show" for groups,
// through the real development OpenID Provider: a manual group granted
// Project viewer gives its member access at once and removing the member
// revokes it at once; a group nested in the granted group works; a cycle is
// refused; the IdP-synced group of the same name is read-only by hand and
// coexists with the manual one; deleting the granted group revokes.
func TestManualGroupsThroughSignIn(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			binding := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, ClaimMappings: map[string]string{"groups": "groups"}})
			var proj apiv1.Project
			if st, raw := f.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom, Name: "web", Slug: "web"}, &proj); st != 201 {
				t.Fatalf("create project: %d %s", st, raw)
			}
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			st, who := br.Whoami(t)
			if st != 200 {
				t.Fatalf("whoami: %d", st)
			}
			alice := strings.TrimPrefix(who.Subject, "user:")
			canRead := func(want int, when string) {
				t.Helper()
				if resp, raw := br.Do(t, "GET", "/v1/projects/"+proj.ID, nil, false, nil); resp.StatusCode != want {
					t.Fatalf("%s: project read %d, want %d: %s", when, resp.StatusCode, want, raw)
				}
			}
			canRead(403, "before any grant")

			viewers := createGroup(t, f.Env, dom, "viewers", "Viewers")
			grant(t, f.Env, "group:"+viewers.ID+"#member", "viewer", "project:"+proj.ID)
			canRead(403, "grant to an empty group")
			addMember(t, f.Env, viewers.ID, alice, "user", 201, "")
			canRead(200, "right after alice joined viewers")
			removeMember(t, f.Env, viewers.ID, alice, "user", 204, "")
			canRead(403, "right after alice left viewers")

			// Nesting: alice ∈ inner ∈ viewers.
			inner := createGroup(t, f.Env, dom, "inner", "Inner")
			addMember(t, f.Env, inner.ID, alice, "user", 201, "")
			canRead(403, "inner is not granted")
			addMember(t, f.Env, viewers.ID, inner.ID, "group", 201, "")
			canRead(200, "through inner nested in viewers")
			addMember(t, f.Env, inner.ID, viewers.ID, "group", 409, "group_cycle")
			addMember(t, f.Env, inner.ID, inner.ID, "group", 409, "group_cycle")

			// A service identity joins too; deleting it ends its membership.
			var si apiv1.ServiceIdentity
			if st, raw := f.Do(t, "POST", "/v1/domains/"+dom+"/service-identities", apiv1.CreateServiceIdentity{DisplayName: "ci",
				IdPBindingID: binding.ID, FederationKind: "client_credentials", ClientID: "ci"}, &si); st != 201 {
				t.Fatalf("create service identity: %d %s", st, raw)
			}
			addMember(t, f.Env, inner.ID, si.ID, "service_identity", 201, "")
			if st, raw := f.Do(t, "DELETE", "/v1/domains/"+dom+"/service-identities/"+si.ID, nil, nil); st != 204 {
				t.Fatalf("delete service identity: %d %s", st, raw)
			}
			var innerMembers apiv1.GroupMembers
			if st, raw := f.Do(t, "GET", "/v1/admin/groups/"+inner.ID+"/members", nil, &innerMembers); st != 200 ||
				len(innerMembers.Items) != 1 || innerMembers.Items[0].PrincipalID != alice {
				t.Fatalf("inner after the service identity was deleted: %d %s", st, raw)
			}

			// The IdP-synced "ops" group and a manual "ops" coexist; the synced
			// one is read-only by hand.
			manualOps := createGroup(t, f.Env, dom, "ops", "ops")
			var list apiv1.List[apiv1.Group]
			if st, raw := f.Do(t, "GET", "/v1/admin/groups?domain_id="+dom, nil, &list); st != 200 {
				t.Fatalf("list: %d %s", st, raw)
			}
			var synced apiv1.Group
			sources := map[string]string{}
			for _, g := range list.Items {
				if g.DisplayName == "ops" {
					sources[g.Source] = g.ID
				}
				if g.Source == "idp" && g.DisplayName == "ops" {
					synced = g
				}
			}
			if sources["manual"] != manualOps.ID || sources["idp"] == "" || synced.IdPBindingID == "" || synced.IdPClaimValue != "ops" {
				t.Fatalf("want a manual and a synced ops group side by side: %+v", list.Items)
			}
			for _, c := range []struct{ method, path string }{
				{"PATCH", "/v1/admin/groups/" + synced.ID},
				{"DELETE", "/v1/admin/groups/" + synced.ID},
				{"POST", "/v1/admin/groups/" + synced.ID + "/members"},
				{"DELETE", "/v1/admin/groups/" + synced.ID + "/members/" + alice + "?kind=user"},
			} {
				var body any
				switch c.method {
				case "PATCH":
					body = apiv1.PatchGroup{DisplayName: "renamed"}
				case "POST":
					body = apiv1.AddGroupMember{PrincipalID: alice, PrincipalKind: "user", Source: "idp"}
				}
				if st, raw := f.Do(t, c.method, c.path, body, nil); st != 409 || oidctest.ProblemCode(t, raw) != "group_read_only" {
					t.Errorf("%s %s on a synced group: %d %s", c.method, c.path, st, raw)
				}
			}
			var members apiv1.GroupMembers
			if st, raw := f.Do(t, "GET", "/v1/admin/groups/"+synced.ID+"/members", nil, &members); st != 200 ||
				len(members.Items) != 1 || members.Items[0].PrincipalID != alice || members.Items[0].Source != "idp" {
				t.Fatalf("synced members: %d %s", st, raw)
			}

			// Deleting the granted group revokes at once, with its grant.
			if st, raw := f.Do(t, "DELETE", "/v1/admin/groups/"+viewers.ID, nil, nil); st != http.StatusNoContent {
				t.Fatalf("delete viewers: %d %s", st, raw)
			}
			canRead(403, "after viewers was deleted")
			var left int
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM relation_tuples WHERE (resource_type = 'group' AND resource_id = $1)
				OR (subject_type = 'group' AND subject_id = $1)`, viewers.ID).Scan(&left)
			if left != 0 {
				t.Fatalf("%d tuples still name the deleted group", left)
			}
		})
	}
}
