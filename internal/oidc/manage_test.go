package oidc_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

func chooser(t *testing.T, f *oidctest.Fixture, domain string) []apiv1.DomainIdPBinding {
	t.Helper()
	resp, raw := f.Send(t, "", "GET", "/v1/auth/idp-bindings?domain_id="+domain)
	var out []apiv1.DomainIdPBinding
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("chooser: %d %v %s", resp.StatusCode, resp.Header, raw)
	}
	return out
}

func setStatus(t *testing.T, f *oidctest.Fixture, id, status string) apiv1.IdPBinding {
	t.Helper()
	var out apiv1.IdPBinding
	if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/"+id+"/status", apiv1.IdPBindingStatus{Status: status}, &out); st != 200 {
		t.Fatalf("status %s: %d %s", status, st, raw)
	}
	return out
}

// Issue 16 item 2: deactivating a binding ends the browser sessions signed
// in through it (through the real dev OpenID Provider), abandons its
// in-flight sign-ins, refuses new ones and drops it from the public
// chooser; reactivating it lets sign-in through again. Both are audited
// on the binding's Domain chain.
func TestBindingDeactivationEndsSessions(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			bnd := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, Alias: "corp"})

			if ch := chooser(t, f, dom); len(ch) != 1 || ch[0].ID != bnd.ID || ch[0].Label != "corp" || ch[0].PlatformScoped {
				t.Fatalf("chooser before: %+v", ch)
			}
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			if st, _ := br.Whoami(t); st != 200 {
				t.Fatalf("signed-in whoami: %d", st)
			}
			// A second browser is half-way through its sign-in.
			late := f.Browser(t)
			started := late.StartSignIn(t, apiv1.SignIn{DomainID: dom})
			cb := late.Authorize(t, started.AuthorizationURL, "bob", devidp.ACRBasic)

			if got := setStatus(t, f, bnd.ID, "deactivated"); got.Status != "deactivated" {
				t.Fatalf("status after: %+v", got)
			}
			if st, _ := br.Whoami(t); st != 401 {
				t.Fatalf("session of a deactivated binding still works: %d", st)
			}
			if resp, raw := late.Callback(t, cb, true); resp.StatusCode != 400 || oidctest.ProblemCode(t, raw) != "invalid_state" {
				t.Fatalf("in-flight sign-in completed: %d %s", resp.StatusCode, raw)
			}
			if resp, raw := br.Do(t, "POST", "/v1/auth/sign-in", apiv1.SignIn{DomainID: dom}, false, nil); resp.StatusCode != 404 {
				t.Fatalf("new sign-in through a deactivated binding: %d %s", resp.StatusCode, raw)
			}
			if resp, raw := br.Do(t, "POST", "/v1/auth/sign-in", apiv1.SignIn{IdPBindingID: bnd.ID}, false, nil); resp.StatusCode != 404 {
				t.Fatalf("pinned sign-in through a deactivated binding: %d %s", resp.StatusCode, raw)
			}
			if ch := chooser(t, f, dom); len(ch) != 0 {
				t.Fatalf("chooser lists a deactivated binding: %+v", ch)
			}

			setStatus(t, f, bnd.ID, "active")
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			if st, _ := br.Whoami(t); st != 200 {
				t.Fatalf("sign-in after reactivation: %d", st)
			}
			var n int
			if err := f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'idp.status'
				AND outcome = 'succeeded'`, dom).Scan(&n); err != nil || n != 2 {
				t.Fatalf("status changes audited: %d %v", n, err)
			}
			if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/"+bnd.ID+"/status", map[string]string{"status": "paused"}, nil); st != 422 && st != 400 {
				t.Fatalf("bad status: %d %s", st, raw)
			}
		})
	}
}

// Issue 16 item 2: PATCH /v1/admin/idp/{id} changes the mutable fields and
// keeps the scope's uniqueness rules with the contract's codes.
func TestPatchBinding(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp, idp2 := f.Issuer(t, nil), f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			one := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, Alias: "corp", Primary: true})
			two := f.Bind(t, idp2, apiv1.CreateIdPBinding{DomainID: dom})

			alias, deny, acr := "Partners", "deny", []string{devidp.ACRMFA}
			claims := map[string]string{"groups": "roles"}
			var got apiv1.IdPBinding
			if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/"+two.ID, apiv1.PatchIdPBinding{Alias: &alias, JITPolicy: &deny,
				RequiredACR: &acr, ClaimMappings: &claims}, &got); st != 200 || got.Alias != "partners" || got.JITPolicy != "deny" ||
				len(got.RequiredACR) != 1 || got.ClaimMappings["groups"] != "roles" || got.Issuer != idp2.Issuer() || !got.UpdatedAt.After(two.UpdatedAt) {
				t.Fatalf("patch: %d %s", st, raw)
			}
			var read apiv1.IdPBinding
			if st, raw := f.Do(t, "GET", "/v1/admin/idp/"+two.ID, nil, &read); st != 200 || read.Alias != "partners" || read.JITPolicy != "deny" {
				t.Fatalf("read back: %d %s", st, raw)
			}
			yes, taken, bad := true, "corp", "Not Kebab"
			for _, c := range []struct {
				name   string
				body   apiv1.PatchIdPBinding
				status int
				code   string
			}{
				{"second primary", apiv1.PatchIdPBinding{Primary: &yes}, 409, "primary-conflict"},
				{"alias taken", apiv1.PatchIdPBinding{Alias: &taken}, 409, "alias-conflict"},
				{"bad alias", apiv1.PatchIdPBinding{Alias: &bad}, 400, "invalid_alias"},
			} {
				if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/"+two.ID, c.body, nil); st != c.status || oidctest.ProblemCode(t, raw) != c.code {
					t.Errorf("%s: %d %s", c.name, st, raw)
				}
			}
			// Demote the primary, then the other may be promoted.
			no := false
			if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/"+one.ID, apiv1.PatchIdPBinding{Primary: &no}, nil); st != 200 {
				t.Fatalf("demote: %d %s", st, raw)
			}
			if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/"+two.ID, apiv1.PatchIdPBinding{Primary: &yes}, &got); st != 200 || !got.Primary {
				t.Fatalf("promote: %d %s", st, raw)
			}
			if ch := chooser(t, f, dom); len(ch) != 2 || ch[0].ID != two.ID || !ch[0].Primary {
				t.Fatalf("chooser is not primary-first: %+v", ch)
			}
			if st, raw := f.Do(t, "PATCH", "/v1/admin/idp/01890000-0000-7000-8000-000000000000", apiv1.PatchIdPBinding{Primary: &no}, nil); st != 404 {
				t.Fatalf("unknown binding: %d %s", st, raw)
			}
			// Another Domain's admin cannot patch it.
			user, tok := f.NewUser(t, "other-admin")
			other := f.Domain(t, "other", "100.65.0.0/16")
			if st, raw := f.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + user, Relation: "admin",
				Resource: "domain:" + other}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			if st, raw := f.DoAs(t, tok, "PATCH", "/v1/admin/idp/"+two.ID, apiv1.PatchIdPBinding{Primary: &no}, nil); st != 403 && st != 404 {
				t.Fatalf("foreign admin patched: %d %s", st, raw)
			}
		})
	}
}

// Issue 16 item 2: a platform binding, created and listed on
// /v1/admin/platform-idp, signs users in to a Domain without bindings of
// its own (through the real dev OpenID Provider) and shows on that
// Domain's chooser; only a platform admin manages platform bindings.
func TestPlatformBindings(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			var created apiv1.IdPBinding
			resp, raw := f.SendJSON(t, f.Token, "POST", "/v1/admin/platform-idp", apiv1.CreatePlatformIdPBinding{Issuer: idp.Issuer(),
				ClientID: "plexsphere", ClientSecret: oidctest.ClientSecret, JITPolicy: "allow", Alias: "shared"})
			if resp.StatusCode != 201 || json.Unmarshal(raw, &created) != nil || created.DomainID != "" || created.Status != "active" ||
				resp.Header.Get("Location") != "/v1/admin/idp/"+created.ID {
				t.Fatalf("create platform binding: %d %s", resp.StatusCode, raw)
			}
			var list []apiv1.IdPBinding
			if st, raw := f.Do(t, "GET", "/v1/admin/platform-idp", nil, &list); st != 200 || len(list) != 1 || list[0].ID != created.ID {
				t.Fatalf("list platform bindings: %d %s", st, raw)
			}
			if ch := chooser(t, f, dom); len(ch) != 1 || !ch[0].PlatformScoped || ch[0].Label != "shared" {
				t.Fatalf("chooser: %+v", ch)
			}
			// An unknown Domain gets the same answer (no existence oracle).
			if ch := chooser(t, f, "01890000-0000-7000-8000-000000000000"); len(ch) != 1 {
				t.Fatalf("chooser of an unknown Domain: %+v", ch)
			}
			if resp, raw := f.Send(t, "", "GET", "/v1/auth/idp-bindings?domain_id=nope"); resp.StatusCode != 400 {
				t.Fatalf("bad domain id: %d %s", resp.StatusCode, raw)
			}
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			if st, _ := br.Whoami(t); st != 200 {
				t.Fatalf("sign-in through the platform binding: %d", st)
			}

			// A Domain admin manages neither the platform list nor its bindings.
			user, tok := f.NewUser(t, "dom-admin")
			if st, raw := f.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + user, Relation: "admin",
				Resource: "domain:" + dom}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			if st, raw := f.DoAs(t, tok, "GET", "/v1/admin/platform-idp", nil, nil); st != 403 {
				t.Fatalf("domain admin lists platform bindings: %d %s", st, raw)
			}
			if st, raw := f.DoAs(t, tok, "POST", "/v1/admin/platform-idp", apiv1.CreatePlatformIdPBinding{Issuer: "https://idp.example.com",
				ClientID: "x", JITPolicy: "allow"}, nil); st != 403 {
				t.Fatalf("domain admin creates a platform binding: %d %s", st, raw)
			}
			var n int
			if err := f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'idp.create_platform'
				AND outcome = 'succeeded'`, audit.PlatformChain).Scan(&n); err != nil || n != 1 {
				t.Fatalf("platform create audited: %d %v", n, err)
			}

			// Deactivating the platform binding ends that session too.
			setStatus(t, f, created.ID, "deactivated")
			if st, _ := br.Whoami(t); st != http.StatusUnauthorized {
				t.Fatalf("session survived: %d", st)
			}
		})
	}
}

// Issue 16 item 3: a Domain admin signed in through the real IdP (whose
// binding's step-up requirements the session meets) issues a token for a
// service identity of the Domain; it works as a bearer until revoked.
func TestAdminTokenBySignedInAdmin(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, RequiredACR: []string{devidp.ACRMFA}})
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom, ACRValues: []string{devidp.ACRMFA}}, "alice", devidp.ACRMFA)
			_, who := br.Whoami(t)
			if st, raw := f.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: who.Subject, Relation: "admin",
				Resource: "domain:" + dom}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			svc := "0190c0de-0000-7000-8000-0000000000aa"
			if _, err := f.Server.DB.Exec(`INSERT INTO identities (id, kind, domain_id, display_name, created_at, updated_at)
				VALUES ($1, 'service_identity', $2, 'ci', 1, 1)`, svc, dom); err != nil {
				t.Fatal(err)
			}
			resp, raw := br.Do(t, "POST", "/v1/admin/tokens", apiv1.AdminIssueToken{IdentityRef: "service:" + svc, EnvPrefix: "prod"}, true, nil)
			var issued apiv1.IssuedToken
			if resp.StatusCode != 201 || json.Unmarshal(raw, &issued) != nil {
				t.Fatalf("issue as signed-in admin: %d %s", resp.StatusCode, raw)
			}
			if st, raw := f.DoAs(t, issued.Plaintext, "GET", "/v1/auth/whoami", nil, nil); st != 200 {
				t.Fatalf("bearer: %d %s", st, raw)
			}
			if resp, raw := br.Do(t, "DELETE", "/v1/admin/tokens/"+issued.ID, nil, true, nil); resp.StatusCode != 204 {
				t.Fatalf("revoke: %d %s", resp.StatusCode, raw)
			}
			if st, raw := f.DoAs(t, issued.Plaintext, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("revoked bearer: %d %s", st, raw)
			}
			// A principal of the Domain holding grants elsewhere (here, admin of
			// another Domain) is beyond a Domain admin.
			other := f.Domain(t, "other", "100.65.0.0/16")
			boss, _ := f.NewUser(t, "boss")
			if _, err := f.Server.DB.Exec(`UPDATE identities SET domain_id = $2 WHERE id = $1`, boss, dom); err != nil {
				t.Fatal(err)
			}
			if st, raw := f.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + boss, Relation: "admin",
				Resource: "domain:" + other}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			resp, raw = br.Do(t, "POST", "/v1/admin/tokens", apiv1.AdminIssueToken{IdentityRef: "user:" + boss, EnvPrefix: "prod"}, true, nil)
			if resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != "subject_outranks_caller" {
				t.Fatalf("token for a principal with grants elsewhere: %d %s", resp.StatusCode, raw)
			}
			// The platform admin may.
			if st, raw := f.Do(t, "POST", "/v1/admin/tokens", apiv1.AdminIssueToken{IdentityRef: "user:" + boss, EnvPrefix: "prod"}, nil); st != 201 {
				t.Fatalf("platform admin issues for it: %d %s", st, raw)
			}
			// Both issues land on the owners' Domain chain (alice's own chain
			// is that one too); the refused one is a denial there.
			var n, denied int
			if err := f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'admin_token.issue'
				AND outcome = 'succeeded'`, dom).Scan(&n); err != nil || n != 2 {
				t.Fatalf("issue audited: %d %v", n, err)
			}
			if err := f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'admin_token.issue'
				AND outcome <> 'succeeded'`, dom).Scan(&denied); err != nil || denied != 1 {
				t.Fatalf("refusal audited: %d %v", denied, err)
			}
		})
	}
}
