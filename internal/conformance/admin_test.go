package conformance

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/store"
)

// The contract's DomainIdPBinding: the display-safe chooser entry of GET
// /v1/auth/idp-bindings.
var domainIdPBinding = object(req("id", str), opt("alias", str), req("label", str), req("issuer_host", str),
	req("primary", boolean), req("platform_scoped", boolean))

// TestAdminConformance drives the issue 16 items 2 and 3 operations the
// way a client generated from the contract does, on both databases:
// GetAdminPlatformIdPList and PostAdminPlatformIdP (IdPBindingResponse),
// PatchAdminIdP and PatchAdminIdPStatus (IdPBindingResponse),
// GetAuthIdPBindings (a bare array of DomainIdPBinding), and GetAdminTokens
// (a bare array of APITokenSummary), PostAdminTokens
// (APITokenIssueResponse), PostAdminTokenRotate (APITokenRotateResponse)
// and DeleteAdminTokenByID (204, no body). Every answer decodes strictly
// against the mirrored schemas.
func TestAdminConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			c := &client{env: apptest.Start(t, b)}
			c.bindingsAndTokens(t)
		})
	}
}

func (c *client) bindingsAndTokens(t *testing.T) {
	d := c.ok(t, "POST", "/v1/domains", map[string]any{"name": "Bindings", "slug": "bindings", "mesh_cidr": "100.98.0.0/16"},
		domainResponse)
	domainID := str0(d, "id")
	var platformID, domainBindingID string
	t.Run("PostAdminPlatformIdP", func(t *testing.T) {
		// The contract's PlatformIdPBindingRequest: issuer, client_id,
		// client_secret_ref, discovery_url and jit_policy.
		b := c.ok(t, "POST", "/v1/admin/platform-idp", map[string]any{"issuer": "https://shared-idp.example.com",
			"client_id": "plexsphere", "client_secret_ref": "env:CONFORMANCE_SHARED_SECRET",
			"discovery_url": "https://shared-idp.example.com/.well-known/openid-configuration", "jit_policy": "allow"}, idpBinding)
		platformID = str0(b, "id")
		if str0(b, "domain_id") != "" {
			t.Errorf("PostAdminPlatformIdP: domain_id %q, want the platform's empty string", str0(b, "domain_id"))
		}
	})
	t.Run("GetAdminPlatformIdPList", func(t *testing.T) {
		if got := c.list(t, "GET", "/v1/admin/platform-idp", idpBinding); len(got) != 1 {
			t.Errorf("GetAdminPlatformIdPList: %d bindings, want 1", len(got))
		}
	})
	t.Run("GetAuthIdPBindings", func(t *testing.T) {
		st, raw := c.call(t, "", "GET", "/v1/auth/idp-bindings?domain_id="+domainID, nil)
		if st != 200 {
			t.Fatalf("GetAuthIdPBindings: %d %s", st, raw)
		}
		report(t, "GET", "/v1/auth/idp-bindings", decodeStrict(raw, arrayOf(domainIdPBinding)))
		c.problem(t, "", "GET", "/v1/auth/idp-bindings?domain_id=not-a-uuid", nil, 400, "invalid_domain_id")
	})
	t.Run("PatchAdminIdP", func(t *testing.T) {
		b := c.ok(t, "POST", "/v1/admin/idp", map[string]any{"domain_id": domainID, "issuer": "https://corp-idp.example.com",
			"client_id": "plexsphere", "client_secret_ref": "env:CONFORMANCE_CORP_SECRET", "jit_policy": "allow"}, idpBinding)
		domainBindingID = str0(b, "id")
		c.ok(t, "PATCH", "/v1/admin/idp/"+domainBindingID, map[string]any{"alias": "corp", "primary": true,
			"jit_policy": "deny", "required_acr": []string{"urn:mfa"}, "claim_mappings": map[string]string{"groups": "roles"}}, idpBinding)
		c.ok(t, "PATCH", "/v1/admin/idp/"+platformID, map[string]any{"alias": "shared"}, idpBinding)
		// The chooser now shows the Domain's own binding, not the platform's.
		st, raw := c.call(t, "", "GET", "/v1/auth/idp-bindings?domain_id="+domainID, nil)
		report(t, "GET", "/v1/auth/idp-bindings", decodeStrict(raw, arrayOf(domainIdPBinding)))
		if st != 200 {
			t.Errorf("GetAuthIdPBindings: %d %s", st, raw)
		}
		c.problem(t, c.env.Token, "PATCH", "/v1/admin/idp/"+uuid.NewString(), map[string]any{"primary": false}, 404, "binding-not-found")
	})
	t.Run("PatchAdminIdPStatus", func(t *testing.T) {
		b := c.ok(t, "PATCH", "/v1/admin/idp/"+domainBindingID+"/status", map[string]any{"status": "deactivated"}, idpBinding)
		if str0(b, "status") != "deactivated" {
			t.Errorf("PatchAdminIdPStatus: status %q", str0(b, "status"))
		}
		c.ok(t, "PATCH", "/v1/admin/idp/"+domainBindingID+"/status", map[string]any{"status": "active"}, idpBinding)
	})

	// A service identity of the Domain to issue tokens for.
	svc, now := uuid.NewString(), store.Micros(time.Now())
	if _, err := c.env.Server.DB.Exec(`INSERT INTO identities (id, kind, domain_id, display_name, created_at, updated_at)
		VALUES ($1, 'service_identity', $2, 'conformance', $3, $3)`, svc, domainID, now); err != nil {
		t.Fatal(err)
	}
	ref := "service:" + svc
	var tokenID string
	t.Run("PostAdminTokens", func(t *testing.T) {
		tok := c.ok(t, "POST", "/v1/admin/tokens", map[string]any{"identity_ref": ref, "env_prefix": "prod", "ttl_seconds": 3600},
			apiTokenIssued)
		tokenID = str0(tok, "id")
		// No ttl: the default lifetime, expires_at still present.
		c.ok(t, "POST", "/v1/admin/tokens", map[string]any{"identity_ref": ref, "env_prefix": "dev"}, apiTokenIssued)
	})
	t.Run("GetAdminTokens", func(t *testing.T) {
		if got := c.list(t, "GET", "/v1/admin/tokens?identity_ref="+ref, apiTokenSummary); len(got) != 2 {
			t.Errorf("GetAdminTokens: %d tokens, want 2", len(got))
		}
	})
	t.Run("PostAdminTokenRotate", func(t *testing.T) {
		c.ok(t, "POST", "/v1/admin/tokens/"+tokenID+"/rotate", nil, apiTokenRotate)
	})
	t.Run("DeleteAdminTokenByID", func(t *testing.T) {
		c.ok(t, "DELETE", "/v1/admin/tokens/"+tokenID, nil, nil)
		c.problem(t, c.env.Token, "DELETE", "/v1/admin/tokens/"+tokenID, nil, 404, "token_not_found")
	})
}
