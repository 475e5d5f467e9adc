package serviceid_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

const (
	ciClient = "ci-runner"
	ciSecret = "ci-secret-4b1d9e7a"
)

// issuer is the development IdP with the binding's client and a CI client.
func issuer(t *testing.T, f *oidctest.Fixture) *devidp.Provider {
	t.Helper()
	return f.Issuer(t, func(c *devidp.Config) {
		c.Users = []devidp.User{{ID: "alice", Name: "Alice"}}
		c.Clients = []devidp.Client{{ID: "plexsphere", Secret: "binding-secret-0c2f"}, {ID: ciClient, Secret: ciSecret}}
	})
}

// tokenRequest posts to the token endpoint as a form (basic: with HTTP
// Basic client authentication) or as JSON.
func tokenRequest(t *testing.T, e *apptest.Env, form url.Values, asJSON, basic bool) (int, apiv1.AccessToken, string) {
	t.Helper()
	var body io.Reader = strings.NewReader(form.Encode())
	ct := "application/x-www-form-urlencoded"
	if asJSON {
		m := map[string]string{}
		for k := range form {
			m[k] = form.Get(k)
		}
		raw, _ := json.Marshal(m)
		body, ct = bytes.NewReader(raw), "application/json"
	}
	req, _ := http.NewRequest("POST", e.URL+"/v1/auth/service/token", body)
	req.Header.Set("Content-Type", ct)
	if basic {
		req.SetBasicAuth(url.QueryEscape(form.Get("client_id")), url.QueryEscape(form.Get("client_secret")))
		form.Del("client_id")
		form.Del("client_secret")
		req.Body = io.NopCloser(strings.NewReader(form.Encode()))
		req.ContentLength = -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tok apiv1.AccessToken
	if resp.StatusCode == 200 {
		json.Unmarshal(raw, &tok)
	}
	return resp.StatusCode, tok, oidctest.ProblemCode(t, raw)
}

// cc is a client_credentials request for a client of a Domain ("": none).
func cc(domainID, id, secret string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if domainID != "" {
		v.Set("domain_id", domainID)
	}
	return v
}

// TestServiceIdentities: CRUD with authorization, the client_credentials
// grant verified by the real IdP (form, JSON and HTTP Basic), the grant and
// federation-kind errors, API tokens for a service identity, and disable
// and delete revoking every credential and tuple.
func TestServiceIdentities(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, false)
			e := f.Env
			idp := issuer(t, f)
			var dom apiv1.Domain
			if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "acme", Slug: "acme", MeshCIDR: "100.64.0.0/16"}, &dom); st != 201 {
				t.Fatalf("domain: %d %s", st, raw)
			}
			var bnd apiv1.IdPBinding
			if st, raw := e.Do(t, "POST", "/v1/admin/idp", apiv1.CreateIdPBinding{DomainID: dom.ID, Issuer: idp.Issuer(),
				ClientID: "plexsphere", ClientSecret: "binding-secret-0c2f", JITPolicy: "allow"}, &bnd); st != 201 {
				t.Fatalf("binding: %d %s", st, raw)
			}
			// A platform-wide binding with a SPIFFE trust bundle, for jwt_bearer.
			var spiffeBinding apiv1.IdPBinding
			if st, raw := e.Do(t, "POST", "/v1/admin/idp", apiv1.CreateIdPBinding{Issuer: idp.Issuer(), ClientID: "plexsphere",
				ClientSecret: "binding-secret-0c2f", JITPolicy: "deny", SpiffeBundleURL: "https://spiffe.example/bundle"}, &spiffeBinding); st != 201 {
				t.Fatalf("spiffe binding: %d %s", st, raw)
			}
			base := "/v1/domains/" + dom.ID + "/service-identities"
			create := apiv1.CreateServiceIdentity{DisplayName: "ci", IdPBindingID: bnd.ID, FederationKind: "client_credentials", ClientID: ciClient}

			// Authorization before anything else.
			_, stranger := e.NewUser(t, "stranger")
			if st, raw := e.DoAs(t, stranger, "POST", base, create, nil); st != 403 || oidctest.ProblemCode(t, raw) != "permission_denied" {
				t.Fatalf("stranger create: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, stranger, "GET", base, nil, nil); st != 403 {
				t.Fatalf("stranger list: %d %s", st, raw)
			}

			var si apiv1.ServiceIdentity
			if st, raw := e.Do(t, "POST", base, create, &si); st != 201 || si.ClientID != ciClient || si.DomainID != dom.ID ||
				si.FederationKind != "client_credentials" || si.DisabledAt != nil {
				t.Fatalf("create: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "POST", base, create, nil); st != 409 {
				t.Fatalf("duplicate client_id: %d %s", st, raw)
			}
			var spiffe apiv1.ServiceIdentity
			jwtIdentity := apiv1.CreateServiceIdentity{DisplayName: "mesh", IdPBindingID: bnd.ID,
				FederationKind: "jwt_bearer", ClientID: "spiffe-x", Subject: "spiffe://acme/x"}
			if st, raw := e.Do(t, "POST", base, jwtIdentity, nil); st != 400 || oidctest.ProblemCode(t, raw) != "spiffe_bundle_unconfigured" {
				t.Fatalf("jwt_bearer without a trust bundle: %d %s", st, raw)
			}
			jwtIdentity.IdPBindingID = spiffeBinding.ID
			if st, raw := e.Do(t, "POST", base, jwtIdentity, &spiffe); st != 201 {
				t.Fatalf("create jwt_bearer: %d %s", st, raw)
			}
			var list apiv1.List[apiv1.ServiceIdentity]
			if st, raw := e.Do(t, "GET", base+"?limit=1", nil, &list); st != 200 || len(list.Items) != 1 || list.NextCursor == "" {
				t.Fatalf("list page 1: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", base+"?cursor="+list.NextCursor, nil, &list); st != 200 || len(list.Items) != 1 || list.Items[0].ID != spiffe.ID {
				t.Fatalf("list page 2: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", base+"/0190c0de-0000-7000-8000-000000000000", nil, nil); st != 404 || oidctest.ProblemCode(t, raw) != "service_identity_not_found" {
				t.Fatalf("unknown: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", base+"/nope", nil, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_service_identity_id" {
				t.Fatalf("bad id: %d %s", st, raw)
			}

			// The token endpoint: the IdP verifies the secret.
			var tokens []string
			for _, c := range []struct {
				name          string
				asJSON, basic bool
			}{{"form", false, false}, {"json", true, false}, {"basic", false, true}} {
				st, tok, pc := tokenRequest(t, e, cc(dom.ID, ciClient, ciSecret), c.asJSON, c.basic)
				if st != 200 || !strings.HasPrefix(tok.AccessToken, "psa_") || tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || tok.RefreshToken != "" {
					t.Fatalf("%s token: %d %s %+v", c.name, st, pc, tok)
				}
				tokens = append(tokens, tok.AccessToken)
			}
			for _, c := range []struct {
				name string
				form url.Values
				st   int
				code string
			}{
				{"wrong secret", cc(dom.ID, ciClient, "wrong"), 401, "invalid_client"},
				{"unknown client", cc(dom.ID, "nobody", ciSecret), 401, "invalid_client"},
				{"no secret", url.Values{"grant_type": {"client_credentials"}, "domain_id": {dom.ID}, "client_id": {ciClient}}, 401, "invalid_client"},
				{"jwt grant for a client_credentials identity", url.Values{"grant_type": {apiv1.GrantJWTBearer}, "domain_id": {dom.ID}, "client_id": {ciClient}}, 403, "federation_kind_mismatch"},
				{"client_credentials for a jwt_bearer identity", cc(dom.ID, "spiffe-x", ciSecret), 403, "federation_kind_mismatch"},
				{"jwt grant", url.Values{"grant_type": {apiv1.GrantJWTBearer}, "domain_id": {dom.ID}, "client_id": {"spiffe-x"}, "client_assertion": {"x.y.z"}}, 501, "not_provisioned"},
				{"unknown grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
				{"no domain", cc("", ciClient, ciSecret), 400, "domain_id_required"},
				{"bad domain", cc("acme", ciClient, ciSecret), 400, "invalid_domain_id"},
				{"unknown identity id", cc("", "0190c0de-0000-7000-8000-000000000000", ciSecret), 401, "invalid_client"},
			} {
				if st, _, pc := tokenRequest(t, e, c.form, false, false); st != c.st || pc != c.code {
					t.Fatalf("%s: %d %s", c.name, st, pc)
				}
			}
			svc := tokens[0]
			var who apiv1.Whoami
			if st, raw := e.DoAs(t, svc, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.PrincipalType != "service" ||
				who.Subject != "service_identity:"+si.ID || who.DomainID != dom.ID {
				t.Fatalf("whoami: %d %s", st, raw)
			}

			// A grant through a tuple works; an API token for the service
			// identity works too.
			var prj apiv1.Project
			if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom.ID, Name: "web", Slug: "web"}, &prj); st != 201 {
				t.Fatalf("project: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, svc, "GET", "/v1/projects/"+prj.ID, nil, nil); st != 403 {
				t.Fatalf("read before grant: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+prj.ID, apiv1.WriteRelationTuple{
				Subject: "service_identity:" + si.ID, Relation: "viewer", Resource: "project:" + prj.ID}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, svc, "GET", "/v1/projects/"+prj.ID, nil, nil); st != 200 {
				t.Fatalf("read after grant: %d %s", st, raw)
			}
			var psk apiv1.IssuedToken
			if st, raw := e.DoAs(t, svc, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev"}, &psk); st != 201 || !strings.HasPrefix(psk.Plaintext, "psk_dev_") {
				t.Fatalf("service identity API token: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, psk.Plaintext, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.Subject != "service_identity:"+si.ID {
				t.Fatalf("whoami with psk: %d %s", st, raw)
			}
			// Rotate and revoke work for a service identity's API token too.
			var rotated apiv1.IssuedToken
			if st, raw := e.DoAs(t, svc, "POST", "/v1/auth/tokens/"+psk.ID+"/rotate", nil, &rotated); st != 200 || rotated.Plaintext == psk.Plaintext || rotated.RotationDeadline == nil {
				t.Fatalf("rotate: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, rotated.Plaintext, "DELETE", "/v1/auth/tokens/"+psk.ID, nil, nil); st != 204 {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			for _, tok := range []string{psk.Plaintext, rotated.Plaintext} {
				if st, _ := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
					t.Fatalf("revoked API token: %d", st)
				}
			}
			oldPSK := psk.Plaintext
			if st, raw := e.DoAs(t, svc, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev"}, &psk); st != 201 {
				t.Fatalf("second API token: %d %s", st, raw)
			}

			// PATCH: rename; disabling revokes every credential and refuses new ones.
			one := base + "/" + si.ID
			if st, raw := e.Do(t, "PATCH", one, map[string]any{}, nil); st != 400 || oidctest.ProblemCode(t, raw) != "empty_patch" {
				t.Fatalf("empty patch: %d %s", st, raw)
			}
			var got apiv1.ServiceIdentity
			if st, raw := e.Do(t, "PATCH", one, map[string]any{"display_name": "ci-main", "disabled": true}, &got); st != 200 ||
				got.DisplayName != "ci-main" || got.DisabledAt == nil {
				t.Fatalf("disable: %d %s", st, raw)
			}
			for _, tok := range []string{svc, psk.Plaintext} {
				if st, _ := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
					t.Fatalf("credential of a disabled identity: %d", st)
				}
			}
			if st, _, pc := tokenRequest(t, e, cc(dom.ID, ciClient, ciSecret), false, false); st != 401 || pc != "invalid_client" {
				t.Fatalf("token while disabled: %d %s", st, pc)
			}
			got = apiv1.ServiceIdentity{}
			if st, raw := e.Do(t, "PATCH", one, map[string]any{"disabled": false}, &got); st != 200 || got.DisabledAt != nil || got.ID != si.ID {
				t.Fatalf("enable: %d %s", st, raw)
			}
			st, tok, _ := tokenRequest(t, e, cc(dom.ID, ciClient, ciSecret), false, false)
			if st != 200 {
				t.Fatalf("token after enable: %d", st)
			}
			tokens = append(tokens, tok.AccessToken)

			// DELETE revokes tokens and removes tuples.
			if st, raw := e.DoAs(t, stranger, "DELETE", one, nil, nil); st != 403 {
				t.Fatalf("stranger delete: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "DELETE", one, nil, nil); st != 204 {
				t.Fatalf("delete: %d %s", st, raw)
			}
			if st, _ := e.DoAs(t, tok.AccessToken, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("token after delete: %d", st)
			}
			var tuples apiv1.List[apiv1.RelationTuple]
			if st, raw := e.Do(t, "GET", "/v1/authz/relation-tuples?project_id="+prj.ID, nil, &tuples); st != 200 || strings.Contains(string(raw), si.ID) {
				t.Fatalf("tuples after delete: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", one, nil, nil); st != 404 {
				t.Fatalf("read after delete: %d %s", st, raw)
			}
			var left int
			if err := e.Server.DB.QueryRow(`SELECT COUNT(*) FROM identities WHERE id = $1`, si.ID).Scan(&left); err != nil || left != 0 {
				t.Fatalf("identity left behind (would block the Domain's delete): %d %v", left, err)
			}
			if st, _, pc := tokenRequest(t, e, cc(dom.ID, ciClient, ciSecret), false, false); st != 401 || pc != "invalid_client" {
				t.Fatalf("token after delete: %d %s", st, pc)
			}

			f.NoSecrets(t, append(tokens, ciSecret, psk.Plaintext, oldPSK, rotated.Plaintext, "binding-secret-0c2f")...)
		})
	}
}
