package directory_test

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestIdentitiesView signs alice in through the real dev issuer (her
// groups claim makes her a member of the synced group ops), grants ops
// viewer on a Project, adds a service identity, and reads the Domain's
// identities view on both databases: kinds, binding, last sign-in, groups,
// paging and the kind filter on the list; e-mail, subject and effective
// roles (through the group) on the detail. Another Domain's path gives
// 404, and a non-admin caller 403.
func TestIdentitiesView(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			other := f.Domain(t, "other", "100.65.0.0/16")
			binding := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, ClaimMappings: map[string]string{"groups": "groups"}})
			var proj apiv1.Project
			if st, raw := f.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom, Name: "web", Slug: "web"}, &proj); st != 201 {
				t.Fatalf("create project: %d %s", st, raw)
			}
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			var opsID string
			if err := f.Server.DB.QueryRow(`SELECT id FROM principal_groups WHERE idp_binding_id = $1 AND idp_claim_value = 'ops'`,
				binding.ID).Scan(&opsID); err != nil {
				t.Fatal(err)
			}
			grant := authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypeProject, ID: proj.ID}, Relation: "viewer",
				Subject: authz.ObjectRef{Type: authz.TypeGroup, ID: opsID}.Userset("member")}
			ctx := context.Background()
			if err := f.Server.DB.Tx(ctx, func(tx *sql.Tx) error { return f.Server.Tuples.Write(ctx, tx, []authz.Tuple{grant}, nil) }); err != nil {
				t.Fatal(err)
			}
			if err := f.Server.Tuples.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			var si apiv1.ServiceIdentity
			if st, raw := f.Do(t, "POST", "/v1/domains/"+dom+"/service-identities", apiv1.CreateServiceIdentity{DisplayName: "ci",
				IdPBindingID: binding.ID, FederationKind: "client_credentials", ClientID: "ci"}, &si); st != 201 {
				t.Fatalf("create service identity: %d %s", st, raw)
			}

			base := "/v1/domains/" + dom + "/identities"
			var l apiv1.List[apiv1.Identity]
			if st, raw := f.Do(t, "GET", base, nil, &l); st != 200 || len(l.Items) != 2 {
				t.Fatalf("list: %d %s", st, raw)
			}
			// Newest first: the service identity, then alice.
			sid, alice := l.Items[0], l.Items[1]
			if sid.ID != si.ID || sid.Kind != "service-identity" || sid.IdPBindingID != binding.ID || sid.LastSignInAt != nil {
				t.Errorf("service identity row: %+v", sid)
			}
			if alice.Kind != "user" || alice.IdPBindingID != binding.ID || alice.LastSignInAt == nil ||
				!hex64.MatchString(alice.ExternalSubjectPseudonym) || alice.Email != "" || alice.DomainID != dom ||
				!slices.ContainsFunc(alice.Groups, func(g apiv1.IdentityGroup) bool { return g.ID == opsID && g.Source == "idp" }) {
				t.Errorf("alice's row: %+v", alice)
			}
			var page apiv1.List[apiv1.Identity]
			if st, raw := f.Do(t, "GET", base+"?limit=1", nil, &page); st != 200 || len(page.Items) != 1 || page.NextCursor == "" {
				t.Fatalf("first page: %d %s", st, raw)
			}
			var page2 apiv1.List[apiv1.Identity]
			if st, raw := f.Do(t, "GET", base+"?limit=1&cursor="+page.NextCursor, nil, &page2); st != 200 ||
				len(page2.Items) != 1 || page2.Items[0].ID != alice.ID || page2.NextCursor != "" {
				t.Fatalf("second page: %d %s", st, raw)
			}
			if st, raw := f.Do(t, "GET", base+"?kind=user", nil, &page); st != 200 || len(page.Items) != 1 || page.Items[0].ID != alice.ID {
				t.Errorf("kind=user: %d %s", st, raw)
			}
			if st, raw := f.Do(t, "GET", base+"?kind=robot", nil, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_kind" {
				t.Errorf("kind=robot: %d %s", st, raw)
			}

			var d apiv1.Identity
			if st, raw := f.Do(t, "GET", base+"/"+alice.ID, nil, &d); st != 200 {
				t.Fatalf("get: %d %s", st, raw)
			}
			if d.Email != "alice@example.test" || d.ExternalSubject != "alice" || d.UpdatedAt == nil ||
				!slices.Contains(d.EffectiveRoles, apiv1.IdentityRole{Object: "project:" + proj.ID, Relation: "viewer"}) {
				t.Errorf("alice's detail: %+v", d)
			}
			if slices.ContainsFunc(d.EffectiveRoles, func(r apiv1.IdentityRole) bool { return r.Relation == "admin" }) {
				t.Errorf("alice is no admin: %+v", d.EffectiveRoles)
			}
			// Another Domain's identities are invisible.
			if st, raw := f.Do(t, "GET", "/v1/domains/"+other+"/identities/"+alice.ID, nil, nil); st != 404 ||
				oidctest.ProblemCode(t, raw) != "identity_not_found" {
				t.Errorf("alice through another Domain: %d %s", st, raw)
			}
			if st, raw := f.Do(t, "GET", "/v1/domains/"+other+"/identities", nil, &page); st != 200 || len(page.Items) != 0 {
				t.Errorf("the other Domain's list: %d %s", st, raw)
			}
			if st, raw := f.Do(t, "GET", base+"/nope", nil, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_principal_id" {
				t.Errorf("bad id: %d %s", st, raw)
			}
			// Domain admins only: alice (a viewer through ops) is refused.
			if resp, raw := br.Do(t, "GET", base, nil, false, nil); resp.StatusCode != 403 {
				t.Errorf("alice lists identities: %d %s", resp.StatusCode, raw)
			}
		})
	}
}
