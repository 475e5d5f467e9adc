package identity_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/identity"
	"github.com/plexsphere/plexsphere/internal/store"
)

// newServiceIdentity creates a service identity in domain directly in the
// database (its own credential flow is not what is tested here).
func newServiceIdentity(t *testing.T, e *apptest.Env, domain string) string {
	t.Helper()
	id, now := uuid.Must(uuid.NewV7()).String(), store.Micros(time.Now())
	if _, err := e.Server.DB.Exec(`INSERT INTO identities (id, kind, domain_id, display_name, created_at, updated_at)
		VALUES ($1, 'service_identity', $2, 'ci', $3, $3)`, id, domain, now); err != nil {
		t.Fatal(err)
	}
	return id
}

func auditCount(t *testing.T, e *apptest.Env, chain, action string) int {
	t.Helper()
	var n int
	if err := e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = $2 AND outcome = 'succeeded'`,
		chain, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 16 item 3: an admin issues a token for a service identity, which
// works as a bearer; lists, rotates and revokes it (denied after revoke);
// only the hash is stored; a ttl over the policy bound is refused; a Domain
// admin's credential without step-up is refused; another Domain's
// identities do not exist for a Domain admin; each change is audited in the
// owner's Domain chain and the admin's.
func TestAdminTokens(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			var d1, d2 apiv1.Domain
			if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "acme", Slug: "acme", MeshCIDR: "100.64.0.0/16"}, &d1); st != 201 {
				t.Fatalf("domain: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "other", Slug: "other", MeshCIDR: "100.65.0.0/16"}, &d2); st != 201 {
				t.Fatalf("domain: %d %s", st, raw)
			}
			svc := newServiceIdentity(t, e, d1.ID)
			foreign := newServiceIdentity(t, e, d2.ID)
			ref := "service:" + svc

			// Issue (the bootstrap admin is break-glass: step-up passes).
			var issued apiv1.IssuedToken
			resp, raw := e.SendJSON(t, e.Token, "POST", "/v1/admin/tokens", apiv1.AdminIssueToken{IdentityRef: ref, EnvPrefix: "dev", TTLSeconds: 3600})
			if resp.StatusCode != 201 || json.Unmarshal(raw, &issued) != nil || !strings.HasPrefix(issued.Plaintext, "psk_dev_") {
				t.Fatalf("issue: %d %s", resp.StatusCode, raw)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || issued.ExpiresAt == nil ||
				issued.ExpiresAt.Sub(time.Now()) > time.Hour+time.Minute {
				t.Fatalf("issue answer: %v %s", resp.Header, raw)
			}
			var who apiv1.Whoami
			if st, raw := e.DoAs(t, issued.Plaintext, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.PrincipalType != "service" ||
				!strings.HasSuffix(who.Subject, svc) {
				t.Fatalf("issued token as bearer: %d %s", st, raw)
			}
			// Only the hash is stored.
			var n int
			if err := e.Server.DB.QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE secret_hash = $1 OR display_prefix = $1`,
				issued.Plaintext).Scan(&n); err != nil || n != 0 {
				t.Fatalf("plaintext stored: %d %v", n, err)
			}

			// List.
			var list []apiv1.AdminAPIToken
			if st, raw := e.Do(t, "GET", "/v1/admin/tokens?identity_ref="+ref, nil, &list); st != 200 || len(list) != 1 ||
				list[0].ID != issued.ID || list[0].IdentityRef != ref || strings.Contains(string(raw), issued.Plaintext) {
				t.Fatalf("list: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", "/v1/admin/tokens?identity_ref=service:nope", nil, nil); st != 400 || problemCode(raw) != "invalid_identity_ref" {
				t.Fatalf("bad ref: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", "/v1/admin/tokens?identity_ref=user:"+uuid.NewString(), nil, nil); st != 404 || problemCode(raw) != "identity_not_found" {
				t.Fatalf("unknown identity: %d %s", st, raw)
			}

			// Expiry bounded by policy.
			over := int64((identity.DefaultAdminTokenMaxTTL + time.Hour) / time.Second)
			if st, raw := e.Do(t, "POST", "/v1/admin/tokens", apiv1.AdminIssueToken{IdentityRef: ref, EnvPrefix: "dev", TTLSeconds: over}, nil); st != 422 ||
				problemCode(raw) != "ttl_exceeds_policy" {
				t.Fatalf("ttl over the bound: %d %s", st, raw)
			}

			// A Domain admin whose credential carries no step-up.
			adminID, adminTok := e.NewUser(t, "dom-admin")
			if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + adminID,
				Relation: "admin", Resource: "domain:" + d1.ID}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, adminTok, "POST", "/v1/admin/tokens", apiv1.AdminIssueToken{IdentityRef: ref, EnvPrefix: "dev"}, nil); st != 401 ||
				problemCode(raw) != "step_up_required" {
				t.Fatalf("issue without step-up: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, adminTok, "POST", "/v1/admin/tokens/"+issued.ID+"/rotate", nil, nil); st != 401 ||
				problemCode(raw) != "step_up_required" {
				t.Fatalf("rotate without step-up: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, adminTok, "GET", "/v1/admin/tokens?identity_ref="+ref, nil, &list); st != 200 || len(list) != 1 {
				t.Fatalf("domain admin list: %d %s", st, raw)
			}
			// Another Domain's identity does not exist for this admin.
			if st, raw := e.DoAs(t, adminTok, "GET", "/v1/admin/tokens?identity_ref=service:"+foreign, nil, nil); st != 404 ||
				problemCode(raw) != "identity_not_found" {
				t.Fatalf("foreign identity: %d %s", st, raw)
			}

			// Rotate: the new secret works at once, the old one until the deadline.
			var rot apiv1.IssuedToken
			if st, raw := e.Do(t, "POST", "/v1/admin/tokens/"+issued.ID+"/rotate", nil, &rot); st != 200 || rot.ID != issued.ID ||
				rot.Plaintext == issued.Plaintext || rot.RotationDeadline == nil {
				t.Fatalf("rotate: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, rot.Plaintext, "GET", "/v1/auth/whoami", nil, nil); st != 200 {
				t.Fatalf("rotated token: %d %s", st, raw)
			}

			// Revoke: both secrets are refused from now on.
			if st, raw := e.Do(t, "DELETE", "/v1/admin/tokens/"+issued.ID, nil, nil); st != 204 {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			for _, tok := range []string{rot.Plaintext, issued.Plaintext} {
				if st, raw := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
					t.Fatalf("revoked token still works: %d %s", st, raw)
				}
			}
			if st, raw := e.Do(t, "DELETE", "/v1/admin/tokens/"+issued.ID, nil, nil); st != 404 || problemCode(raw) != "token_not_found" {
				t.Fatalf("second revoke: %d %s", st, raw)
			}

			// Audited in the owner's Domain chain and in the admin's (platform).
			for _, a := range []string{"admin_token.issue", "admin_token.rotate", "admin_token.revoke"} {
				if got := auditCount(t, e, d1.ID, a); got != 1 {
					t.Fatalf("%s in the owner's chain: %d entries", a, got)
				}
				if got := auditCount(t, e, audit.PlatformChain, a); got != 1 {
					t.Fatalf("%s in the admin's chain: %d entries", a, got)
				}
			}
		})
	}
}

func TestParseIdentityRef(t *testing.T) {
	id := uuid.NewString()
	for _, c := range []struct {
		in   string
		kind string
		ok   bool
	}{
		{"user:" + id, "user", true}, {"service:" + id, "service_identity", true},
		{"service_identity:" + id, "service_identity", true}, {"node:" + id, "", false}, {"user:" + strings.ToUpper(id), "user", true},
		{"user:", "", false}, {id, "", false}, {"user:00000000-0000-0000-0000-000000000000", "", false},
	} {
		k, got, err := identity.ParseIdentityRef(c.in)
		if (err == nil) != c.ok || (c.ok && (string(k) != c.kind || got != id)) {
			t.Errorf("%q: %q %q %v", c.in, k, got, err)
		}
	}
}

func FuzzParseIdentityRef(f *testing.F) {
	f.Add("user:" + uuid.NewString())
	f.Add("service:x")
	f.Fuzz(func(t *testing.T, in string) {
		k, id, err := identity.ParseIdentityRef(in)
		if err != nil {
			return
		}
		if _, perr := uuid.Parse(id); perr != nil || (k != "user" && k != "service_identity") {
			t.Fatalf("%q accepted as %q %q", in, k, id)
		}
	})
}
