package serviceid_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// tokenSpy plays a malicious IdP's token endpoint: it records every client
// secret offered to it and vouches for any client.
type tokenSpy struct {
	mu      sync.Mutex
	secrets []string
}

func (s *tokenSpy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/token") {
			next.ServeHTTP(w, r)
			return
		}
		_, secret, _ := r.BasicAuth()
		if secret == "" {
			r.ParseForm()
			secret = r.PostForm.Get("client_secret")
		}
		s.mu.Lock()
		s.secrets = append(s.secrets, secret)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"attacker","token_type":"Bearer","expires_in":60}`))
	})
}

func (s *tokenSpy) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.secrets...)
}

// Issue 7 row 1: POST /v1/auth/service/token offered the presented secret
// to every IdP binding whose service identity had that client_id, across
// Domains, oldest first. An attacker Domain that binds its own IdP and
// registers the victim's client_id first captured the victim's secret and
// handed the victim a token for the attacker's identity. A request now
// names exactly one identity (domain_id + client_id, or the identity's id
// as client_id) and the secret goes only to that identity's IdP.
func TestServiceTokenNeverCrossesDomains(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, false)
			e := f.Env
			spy := &tokenSpy{}
			attackerIdP := f.IssuerWith(t, func(c *devidp.Config) {
				c.Clients = []devidp.Client{{ID: "plexsphere", Secret: "attacker-binding-secret"}, {ID: ciClient, Secret: "attacker-own"}}
			}, spy.wrap)
			victimIdP := issuer(t, f)
			bind := func(idp *devidp.Provider, slug, cidr, secret string) (apiv1.Domain, apiv1.IdPBinding) {
				t.Helper()
				var dom apiv1.Domain
				if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: cidr}, &dom); st != 201 {
					t.Fatalf("domain: %d %s", st, raw)
				}
				var bnd apiv1.IdPBinding
				if st, raw := e.Do(t, "POST", "/v1/admin/idp", apiv1.CreateIdPBinding{DomainID: dom.ID, Issuer: idp.Issuer(),
					ClientID: "plexsphere", ClientSecret: secret, JITPolicy: "allow"}, &bnd); st != 201 {
					t.Fatalf("binding: %d %s", st, raw)
				}
				return dom, bnd
			}
			register := func(dom apiv1.Domain, bnd apiv1.IdPBinding) apiv1.ServiceIdentity {
				t.Helper()
				var si apiv1.ServiceIdentity
				if st, raw := e.Do(t, "POST", "/v1/domains/"+dom.ID+"/service-identities", apiv1.CreateServiceIdentity{
					DisplayName: "ci", IdPBindingID: bnd.ID, FederationKind: "client_credentials", ClientID: ciClient}, &si); st != 201 {
					t.Fatalf("service identity: %d %s", st, raw)
				}
				return si
			}
			// The attacker registers the common client id first (its
			// identity is the older one).
			attackerDom, attackerBnd := bind(attackerIdP, "attacker", "100.64.0.0/16", "attacker-binding-secret")
			attackerSI := register(attackerDom, attackerBnd)
			victimDom, victimBnd := bind(victimIdP, "victim", "100.65.0.0/16", "binding-secret-0c2f")
			victimSI := register(victimDom, victimBnd)

			whoami := func(tok string) string {
				t.Helper()
				var who apiv1.Whoami
				if st, raw := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, &who); st != 200 {
					t.Fatalf("whoami: %d %s", st, raw)
				}
				return who.Subject
			}
			// The victim names its Domain, or its identity by id (form,
			// JSON, HTTP Basic): always its own identity, verified by its
			// own IdP.
			for _, c := range []struct {
				name          string
				form          map[string][]string
				asJSON, basic bool
			}{
				{"domain form", cc(victimDom.ID, ciClient, ciSecret), false, false},
				{"domain json", cc(victimDom.ID, ciClient, ciSecret), true, false},
				{"domain basic", cc(victimDom.ID, ciClient, ciSecret), false, true},
				{"identity id", cc("", victimSI.ID, ciSecret), false, true},
			} {
				st, tok, pc := tokenRequest(t, e, c.form, c.asJSON, c.basic)
				if st != 200 {
					t.Fatalf("%s: %d %s", c.name, st, pc)
				}
				if got := whoami(tok.AccessToken); got != "service_identity:"+victimSI.ID {
					t.Fatalf("%s: the victim got a token for %s (attacker's is %s)", c.name, got, attackerSI.ID)
				}
			}
			// A bare client_id names no Domain: refused before any IdP is asked.
			if st, _, pc := tokenRequest(t, e, cc("", ciClient, ciSecret), false, false); st != 400 || pc != "domain_id_required" {
				t.Fatalf("bare client_id: %d %s", st, pc)
			}
			// A wrong secret for the victim's identity is refused by the
			// victim's IdP alone.
			if st, _, pc := tokenRequest(t, e, cc(victimDom.ID, ciClient, "wrong"), false, false); st != 401 || pc != "invalid_client" {
				t.Fatalf("wrong secret: %d %s", st, pc)
			}
			if seen := spy.seen(); len(seen) != 0 {
				t.Fatalf("the attacker's IdP received %d token requests (victim's secret among them: %v)",
					len(seen), strings.Contains(strings.Join(seen, "\n"), ciSecret))
			}
			// The attacker's own identity still goes to the attacker's IdP.
			if st, tok, pc := tokenRequest(t, e, cc(attackerDom.ID, ciClient, "attacker-own"), false, false); st != 200 ||
				whoami(tok.AccessToken) != "service_identity:"+attackerSI.ID {
				t.Fatalf("attacker's own token: %d %s", st, pc)
			}
			if seen := spy.seen(); len(seen) != 1 || seen[0] != "attacker-own" {
				t.Fatalf("attacker's IdP saw %d requests", len(seen))
			}

			// client_id is unique per Domain: a second identity with it,
			// even through another binding, is 409.
			var second apiv1.IdPBinding
			if st, raw := e.Do(t, "POST", "/v1/admin/idp", apiv1.CreateIdPBinding{DomainID: victimDom.ID, Issuer: attackerIdP.Issuer(),
				ClientID: "plexsphere", ClientSecret: "x", JITPolicy: "allow", Alias: "second"}, &second); st != 201 {
				t.Fatalf("second binding: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "POST", "/v1/domains/"+victimDom.ID+"/service-identities", apiv1.CreateServiceIdentity{
				DisplayName: "ci2", IdPBindingID: second.ID, FederationKind: "client_credentials", ClientID: ciClient}, nil); st != 409 ||
				oidctest.ProblemCode(t, raw) != "client_id_conflict" {
				t.Fatalf("same client_id twice in a Domain: %d %s", st, raw)
			}
			// A duplicate left from before that rule makes the pair ambiguous:
			// refused without asking any IdP; the id still names one identity.
			const legacy = "0190c0de-0000-7000-8000-00000000abcd"
			if _, err := e.Server.DB.Exec(`INSERT INTO identities (id, kind, domain_id, display_name, created_at, updated_at)
				VALUES ($1, 'service_identity', $2, 'legacy', 1, 1)`, legacy, victimDom.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Server.DB.Exec(`INSERT INTO service_identities (id, domain_id, idp_binding_id, federation_kind,
				client_id, created_at, updated_at) VALUES ($1, $2, $3, 'client_credentials', $4, 1, 1)`,
				legacy, victimDom.ID, second.ID, ciClient); err != nil {
				t.Fatal(err)
			}
			if st, _, pc := tokenRequest(t, e, cc(victimDom.ID, ciClient, ciSecret), false, false); st != 401 || pc != "invalid_client" {
				t.Fatalf("ambiguous client_id: %d %s", st, pc)
			}
			if st, tok, pc := tokenRequest(t, e, cc("", victimSI.ID, ciSecret), false, true); st != 200 ||
				whoami(tok.AccessToken) != "service_identity:"+victimSI.ID {
				t.Fatalf("by id beside a duplicate: %d %s", st, pc)
			}
			if seen := spy.seen(); len(seen) != 1 {
				t.Fatalf("the attacker's IdP saw %d requests", len(seen))
			}
			f.NoSecrets(t, ciSecret, "attacker-own")
		})
	}
}
