package conformance

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// Right to erasure (issue 16 item 6), from the contract's
// AuditEraseIdentityResponse: subject_pseudonym and erased_at, both
// required.
var auditEraseIdentityResponse = object(req("subject_pseudonym", str), req("erased_at", dateTime))

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestErasureConformance erases an identity from a Domain chain and from
// every chain, and decodes every answer strictly: the 202 bodies, the
// problems of a bad identity id, a missing credential, a credential without
// step-up and an unknown Domain; on both databases. (The PermissionDenied of
// a stepped-up caller who is no admin is decoded in internal/audit's
// TestEraseIdentity, through the real OpenID Provider.)
func TestErasureConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			c := &client{env: apptest.Start(t, b)}
			c.erasure(t)
		})
	}
}

func (c *client) erasure(t *testing.T) {
	var d apiv1.Domain
	if st, raw := c.env.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "erase", Slug: "erase",
		MeshCIDR: "100.84.0.0/16"}, &d); st != http.StatusCreated {
		t.Fatalf("domain: %d %s", st, raw)
	}
	user, token := c.env.NewUser(t, "to be erased")
	// The user leaves an entry on the Domain's chain: a denied read.
	if st, _ := c.call(t, token, "GET", "/v1/domains/"+d.ID, nil); st != http.StatusForbidden {
		t.Fatalf("the user's read was not denied: %d", st)
	}
	body := map[string]any{"identity_id": user}
	for _, path := range []string{"/v1/domains/" + d.ID + "/audit/erase-identity", "/v1/platform/audit/erase-identity"} {
		t.Run(path, func(t *testing.T) {
			st, raw := c.call(t, c.env.Token, "POST", path, body)
			if st != http.StatusAccepted {
				t.Fatalf("POST %s: status %d, the contract has 202: %s", path, st, raw)
			}
			report(t, "POST", path, decodeStrict(raw, auditEraseIdentityResponse))
			var m map[string]any
			json.Unmarshal(raw, &m)
			if p := str0(m, "subject_pseudonym"); !hex64.MatchString(p) {
				t.Errorf("subject_pseudonym %q is not 64 lowercase hex", p)
			}
			// Idempotent: a second erasure answers 202 too.
			if st, raw := c.call(t, c.env.Token, "POST", path, body); st != http.StatusAccepted {
				t.Errorf("second erasure: %d %s", st, raw)
			}
			c.problem(t, c.env.Token, "POST", path, map[string]any{"identity_id": "not-a-uuid"}, http.StatusBadRequest,
				"invalid_body")
			c.refused(t, "", "POST", path, body, http.StatusUnauthorized)
			// A credential without a stepped-up sign-in behind it (this
			// user's token has no IdP binding) is refused before any check.
			c.problem(t, token, "POST", path, body, http.StatusUnauthorized, "step_up_required")
		})
	}
	c.problem(t, c.env.Token, "POST", "/v1/domains/"+uuid.NewString()+"/audit/erase-identity", body,
		http.StatusNotFound, "domain_not_found")
}
