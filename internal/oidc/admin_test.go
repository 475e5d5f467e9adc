package oidc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestIdPBindingsAdmin covers the admin API: the secret is sealed and never
// returned, the §3.2 uniqueness rules, validation, reads and deletes gated
// by manage on the scope (403 before 404), filtered lists, and sign-in
// binding resolution including the platform-scoped fallback.
func TestIdPBindingsAdmin(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp, idp2 := f.Issuer(t, nil), f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			other := f.Domain(t, "other", "100.65.0.0/16")

			created := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, Alias: "corp", Primary: true,
				RequiredACR: []string{devidp.ACRMFA}, ClaimMappings: map[string]string{"groups": "roles"}})
			raw, _ := json.Marshal(created)
			if strings.Contains(string(raw), oidctest.ClientSecret) || created.ClientSecretRef != "keyring:idp/"+created.ID ||
				created.DomainID != dom || created.Status != "active" ||
				created.DiscoveryURL != idp.Issuer()+"/.well-known/openid-configuration" || created.Scopes[0] != "openid" {
				t.Fatalf("created: %s", raw)
			}
			var sealed string
			f.Server.DB.QueryRow(`SELECT client_secret_sealed FROM idp_bindings WHERE id = $1`, created.ID).Scan(&sealed)
			if sealed == "" || strings.Contains(sealed, oidctest.ClientSecret) {
				t.Fatalf("secret not sealed: %q", sealed)
			}

			base := apiv1.CreateIdPBinding{DomainID: dom, Issuer: idp2.Issuer(), ClientID: "c", JITPolicy: "allow"}
			for _, c := range []struct {
				name   string
				mutate func(*apiv1.CreateIdPBinding)
				status int
				code   string
			}{
				{"duplicate issuer", func(in *apiv1.CreateIdPBinding) { in.Issuer = idp.Issuer() }, 409, "issuer_conflict"},
				{"second primary", func(in *apiv1.CreateIdPBinding) { in.Primary = true }, 409, "primary_conflict"},
				{"alias taken", func(in *apiv1.CreateIdPBinding) { in.Alias = "corp" }, 409, "alias_conflict"},
				{"bad jit", func(in *apiv1.CreateIdPBinding) { in.JITPolicy = "sometimes" }, 400, "invalid_jit_policy"},
				{"both secrets", func(in *apiv1.CreateIdPBinding) { in.ClientSecret, in.ClientSecretRef = "x", "env:X" }, 400, "invalid_client_secret"},
				{"bad ref", func(in *apiv1.CreateIdPBinding) { in.ClientSecretRef = "vault:x" }, 400, "invalid_client_secret_ref"},
				{"plain http issuer", func(in *apiv1.CreateIdPBinding) { in.Issuer = "http://idp.example.com" }, 400, "invalid_issuer"},
				{"bad alias", func(in *apiv1.CreateIdPBinding) { in.Alias = "Not Kebab" }, 400, "invalid_alias"},
				{"bad claim key", func(in *apiv1.CreateIdPBinding) { in.ClaimMappings = map[string]string{"admin": "x"} }, 400, "invalid_claim_mappings"},
				{"unknown domain", func(in *apiv1.CreateIdPBinding) { in.DomainID = "01890000-0000-7000-8000-000000000000" }, 404, "domain_not_found"},
			} {
				in := base
				c.mutate(&in)
				if st, raw := f.Do(t, "POST", "/v1/admin/idp", in, nil); st != c.status || oidctest.ProblemCode(t, raw) != c.code {
					t.Errorf("%s: %d %s", c.name, st, raw)
				}
			}
			var audited int
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'idp.create'
				AND outcome = 'succeeded' AND object_id = $2`, dom, created.ID).Scan(&audited)
			if audited != 1 {
				t.Fatalf("binding creation audited %d times on the Domain chain", audited)
			}
			// The same issuer is fine in another Domain and platform-wide.
			second := f.Bind(t, idp2, apiv1.CreateIdPBinding{DomainID: dom, ClientSecretRef: "env:PLEXSPHERE_TEST_UNSET"})
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: other})
			platform := f.Bind(t, idp2, apiv1.CreateIdPBinding{})
			// Issue 8: domain_id is the contract's required string, empty
			// for a platform-scoped binding (was null).
			if platform.DomainID != "" {
				t.Fatalf("platform binding has a domain: %+v", platform)
			}

			var got apiv1.IdPBinding
			if st, raw := f.Do(t, "GET", "/v1/admin/idp/"+created.ID, nil, &got); st != 200 || got.Alias != "corp" ||
				got.ClaimMappings["groups"] != "roles" {
				t.Fatalf("get: %d %s", st, raw)
			}
			// Issue 8: the list is the contract's bare array; paging is in
			// headers (TestIssue8IdPListBareArray covers them).
			var list []apiv1.IdPBinding
			if st, raw := f.Do(t, "GET", "/v1/admin/idp?domain_id="+dom, nil, &list); st != 200 || len(list) != 2 {
				t.Fatalf("list by domain: %d %s", st, raw)
			}
			c := adminClient(t, f)
			first, err := c.ListIdPBindingsPage(t.Context(), "", apiclient.ListOptions{Limit: 2})
			if err != nil || len(first.Items) != 2 || first.NextCursor == "" {
				t.Fatalf("paged list: %v %+v", err, first)
			}
			rest, err := c.ListIdPBindingsPage(t.Context(), "", apiclient.ListOptions{Limit: 2, Cursor: first.NextCursor})
			if err != nil || len(rest.Items) != 2 {
				t.Fatalf("second page: %v %+v", err, rest)
			}

			// A signed-in Domain user without manage: 403 for an existing
			// and a missing binding alike; lists drop every row.
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			for _, id := range []string{created.ID, "01890000-0000-7000-8000-000000000000"} {
				if resp, raw := br.Do(t, "GET", "/v1/admin/idp/"+id, nil, false, nil); resp.StatusCode != 403 ||
					oidctest.ProblemCode(t, raw) != "permission_denied" {
					t.Fatalf("non-admin read of %s: %d %s", id, resp.StatusCode, raw)
				}
			}
			resp, raw := br.Do(t, "GET", "/v1/admin/idp", nil, false, nil)
			if resp.StatusCode != 200 || strings.TrimSpace(string(raw)) != `[]` {
				t.Fatalf("non-admin list: %d %s", resp.StatusCode, raw)
			}
			if resp, raw := br.Do(t, "DELETE", "/v1/admin/idp/"+created.ID, nil, true, nil); resp.StatusCode != 403 {
				t.Fatalf("non-admin delete: %d %s", resp.StatusCode, raw)
			}

			// Resolution: alias, primary, platform fallback, ambiguity.
			for _, c := range []struct {
				in   apiv1.SignIn
				want string
			}{
				{apiv1.SignIn{DomainID: dom}, idp.Issuer()},
				{apiv1.SignIn{DomainID: dom, IdPBindingAlias: "corp"}, idp.Issuer()},
				{apiv1.SignIn{IdPBindingID: second.ID}, idp2.Issuer()},
				{apiv1.SignIn{DomainID: f.Domain(t, "empty", "100.66.0.0/16")}, idp2.Issuer()},
			} {
				if s := f.Browser(t).StartSignIn(t, c.in); !strings.HasPrefix(s.AuthorizationURL, c.want) {
					t.Errorf("%+v resolved to %s", c.in, s.AuthorizationURL)
				}
			}
			if resp, raw := f.Browser(t).Do(t, "POST", "/v1/auth/sign-in", apiv1.SignIn{DomainID: "01890000-0000-7000-8000-000000000000"},
				false, nil); resp.StatusCode != 404 || oidctest.ProblemCode(t, raw) != "binding_not_found" {
				t.Fatalf("unknown domain: %d %s", resp.StatusCode, raw)
			}
			two := f.Domain(t, "two", "100.67.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: two})
			f.Bind(t, idp2, apiv1.CreateIdPBinding{DomainID: two})
			if resp, raw := f.Browser(t).Do(t, "POST", "/v1/auth/sign-in", apiv1.SignIn{DomainID: two}, false, nil); resp.StatusCode != 400 ||
				oidctest.ProblemCode(t, raw) != "idp_binding_required" {
				t.Fatalf("ambiguous: %d %s", resp.StatusCode, raw)
			}

			// Delete ends the binding's sessions.
			if st, raw := f.Do(t, "DELETE", "/v1/admin/idp/"+created.ID, nil, nil); st != 204 {
				t.Fatalf("delete: %d %s", st, raw)
			}
			// Issue 8: the contract's code for a missing binding is
			// binding-not-found (we sent binding_not_found).
			if st, raw := f.Do(t, "GET", "/v1/admin/idp/"+created.ID, nil, nil); st != 404 || oidctest.ProblemCode(t, raw) != "binding-not-found" {
				t.Fatalf("get deleted: %d %s", st, raw)
			}
			if st, raw := f.Do(t, "DELETE", "/v1/admin/idp/"+created.ID, nil, nil); st != 404 || oidctest.ProblemCode(t, raw) != "binding-not-found" {
				t.Fatalf("delete deleted: %d %s", st, raw)
			}
			if st, _ := br.Whoami(t); st != 401 {
				t.Fatalf("session survived its binding: %d", st)
			}
			if st, raw := f.Do(t, "GET", "/v1/admin/idp/not-a-uuid", nil, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_idp_binding_id" {
				t.Fatalf("bad id: %d %s", st, raw)
			}
		})
	}
}
