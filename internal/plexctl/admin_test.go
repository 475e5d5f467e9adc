package plexctl

import (
	"encoding/json"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 16 items 2 and 3: the idp-bindings and tokens command lines map
// onto the platform-binding, binding patch/status, chooser and admin token
// requests.
func adminCases() []cmdCase {
	const bID, sID = "0190c0de-0000-7000-8000-00000000000b", "0190c0de-0000-7000-8000-0000000000aa"
	b := apiv1.IdPBinding{ID: bID}
	return []cmdCase{
		{[]string{"idp-bindings", "list", "--platform"}, "GET /v1/admin/platform-idp", []apiv1.IdPBinding{b},
			"GET /v1/admin/platform-idp", ""},
		{[]string{"idp-bindings", "create", "--platform", "--issuer", "https://login.example.com", "--client-id", "ps",
			"--client-secret-ref", "env:X", "--jit-policy", "allow"}, "POST /v1/admin/platform-idp", b, "POST /v1/admin/platform-idp",
			`{"issuer":"https://login.example.com","client_id":"ps","client_secret_ref":"env:X","jit_policy":"allow"}`},
		{[]string{"idp-bindings", "update", bID, "--alias", "", "--primary=false", "--required-acr", "urn:mfa", "--claim", "groups=roles"},
			"PATCH /v1/admin/idp/{id}", b, "PATCH /v1/admin/idp/" + bID,
			`{"alias":"","primary":false,"required_acr":["urn:mfa"],"claim_mappings":{"groups":"roles"}}`},
		{[]string{"idp-bindings", "disable", bID}, "PATCH /v1/admin/idp/{id}/status", b, "PATCH /v1/admin/idp/" + bID + "/status",
			`{"status":"deactivated"}`},
		{[]string{"idp-bindings", "enable", bID}, "PATCH /v1/admin/idp/{id}/status", b, "PATCH /v1/admin/idp/" + bID + "/status",
			`{"status":"active"}`},
		{[]string{"idp-bindings", "sign-in-options", "--domain", dID}, "GET /v1/auth/idp-bindings",
			[]apiv1.DomainIdPBinding{{ID: bID, Label: "corp"}}, "GET /v1/auth/idp-bindings?domain_id=" + dID, ""},
		{[]string{"tokens", "issue", "--for", "service:" + sID, "--env", "prod", "--ttl", "168h"}, "POST /v1/admin/tokens",
			apiv1.IssuedToken{ID: "t1"}, "POST /v1/admin/tokens", `{"identity_ref":"service:` + sID + `","env_prefix":"prod","ttl_seconds":604800}`},
		{[]string{"tokens", "list", "--for", "service:" + sID}, "GET /v1/admin/tokens", []apiv1.AdminAPIToken{{IdentityRef: "service:" + sID}},
			"GET /v1/admin/tokens?identity_ref=service%3A" + sID, ""},
		{[]string{"tokens", "rotate", "--admin", "t1"}, "POST /v1/admin/tokens/{id}/rotate", apiv1.IssuedToken{ID: "t1"},
			"POST /v1/admin/tokens/t1/rotate", ""},
		{[]string{"tokens", "revoke", "--admin", "t1"}, "DELETE /v1/admin/tokens/{id}", nil, "DELETE /v1/admin/tokens/t1", ""},
	}
}

func TestAdminCommands(t *testing.T) {
	for _, tc := range adminCases() {
		h := newHarness(t)
		if tc.reply == nil {
			h.srv.Status(tc.pattern, 204)
		} else {
			h.srv.JSON(tc.pattern, 200, tc.reply)
		}
		for _, format := range []string{"table", "json"} {
			r := h.run(append(tc.args, "-o", format)...)
			if r.code != ExitOK {
				t.Errorf("%q -o %s: exit %d, stderr %q", tc.args, format, r.code, r.stderr)
				continue
			}
			req := h.srv.Last()
			if req.Pattern() != tc.want {
				t.Errorf("%q: request %q, want %q", tc.args, req.Pattern(), tc.want)
			}
			assertBody(t, tc.args, req, tc.body)
			if format == "json" && tc.reply != nil && !json.Valid([]byte(r.stdout)) {
				t.Errorf("%q -o json: stdout is not JSON: %q", tc.args, r.stdout)
			}
		}
	}
	// Usage errors never reach the server.
	for _, args := range [][]string{
		{"idp-bindings", "update", "0190c0de-0000-7000-8000-00000000000b"},
		{"idp-bindings", "update", "0190c0de-0000-7000-8000-00000000000b", "--jit-policy", "maybe"},
		{"idp-bindings", "list", "--platform", "--domain", dID},
	} {
		h := newHarness(t)
		if r := h.run(args...); r.code == ExitOK {
			t.Errorf("%q: exit 0", args)
		}
	}
}
