package conformance

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Invitations and the identities view (issue 16), from the contract's
// InvitationInitialTuple, InvitationResponse, InvitationList,
// IdentitySummary, IdentityDetail and IdentityList.
var (
	invitationTuple = object(req("relation", str), req("object", str), opt("caveat_context", anyObject))
	invitation      = object(req("id", str), req("domain_id", str), req("external_subject_pseudonym", str),
		req("status", enum("pending", "accepted", "revoked", "expired")), req("expires_at", dateTime),
		req("created_at", dateTime), opt("accepted_at", orNull(dateTime)), opt("accepted_user_id", orNull(str)),
		opt("revoked_at", orNull(dateTime)), opt("expired_at", orNull(dateTime)),
		opt("initial_tuples", arrayOf(invitationTuple)))
	invitationList  = object(req("items", arrayOf(invitation)), opt("next_cursor", orNull(str)))
	identityKind    = enum("user", "service-identity")
	identitySummary = object(req("id", str), req("kind", identityKind), req("domain_id", str), req("display_name", str),
		req("external_subject_pseudonym", str), opt("last_sign_in_at", orNull(dateTime)), req("created_at", dateTime))
	identityDetail = object(req("id", str), req("kind", identityKind), req("domain_id", str), req("display_name", str),
		req("external_subject_pseudonym", str), opt("external_subject", str), opt("email", str),
		opt("last_sign_in_at", orNull(dateTime)), req("created_at", dateTime), req("updated_at", dateTime))
	identityList = object(req("items", arrayOf(identitySummary)), opt("next_cursor", orNull(str)))
)

// TestInvitationsConformance creates, lists, reads and revokes invitations
// and reads the identities view, decoding every answer and every refusal
// strictly against the contract, on both databases.
func TestInvitationsConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			c := &client{env: apptest.Start(t, b)}
			c.invitations(t)
		})
	}
}

func (c *client) invitations(t *testing.T) {
	enr := c.env.NewEnrolment(t, "invites", "100.84.0.0/24", 1)
	dom := enr.Domain.ID
	base := "/v1/domains/" + dom + "/invitations"
	grant := []map[string]any{{"relation": "viewer", "object": "project:" + enr.Project.ID}}
	var ids []string
	t.Run("CreateInvitation", func(t *testing.T) {
		for _, email := range []string{"ada@example.test", "grace@example.test"} {
			m := c.created(t, base, map[string]any{"external_subject": email, "ttl_seconds": 3600, "initial_tuples": grant}, invitation)
			ids = append(ids, str0(m, "id"))
		}
		c.problem(t, c.env.Token, "POST", base, map[string]any{"external_subject": "ADA@example.test"}, 409, "invitation_already_pending")
		c.problem(t, c.env.Token, "POST", base, map[string]any{"external_subject": "x@example.test", "ttl_seconds": 10}, 400, "invalid_ttl")
		many := make([]map[string]any, 33)
		for i := range many {
			many[i] = grant[0]
		}
		c.problem(t, c.env.Token, "POST", base, map[string]any{"external_subject": "x@example.test", "initial_tuples": many},
			422, "too_many_initial_tuples")
		c.problem(t, c.env.Token, "POST", base, map[string]any{"external_subject": "x@example.test",
			"initial_tuples": []map[string]any{{"relation": "viewer", "object": "platform"}}}, 422, "invitation_object_out_of_scope")
		_, tok := c.env.NewUser(t, "outsider")
		c.denied(t, tok, "POST", base, map[string]any{"external_subject": "x@example.test"}, "permission_denied")
	})
	if len(ids) != 2 || ids[0] == "" {
		t.Fatal("no invitations to go on with")
	}
	t.Run("ListInvitations", func(t *testing.T) {
		l := c.ok(t, "GET", base, nil, invitationList)
		if items, _ := l["items"].([]any); l != nil && len(items) != 2 {
			t.Errorf("ListInvitations: %d items, want 2", len(items))
		}
		page := c.ok(t, "GET", base+"?limit=1", nil, invitationList)
		next, _ := page["next_cursor"].(string)
		if next == "" {
			t.Fatal("ListInvitations: no next_cursor on a partial page")
		}
		c.ok(t, "GET", base+"?limit=1&cursor="+next, nil, invitationList)
		c.ok(t, "GET", base+"?status=pending", nil, invitationList)
		c.problem(t, c.env.Token, "GET", base+"?status=sometime", nil, 400, "invalid_status")
		c.problem(t, c.env.Token, "GET", base+"?cursor=tampered", nil, 400, "invalid_cursor")
	})
	t.Run("GetInvitation", func(t *testing.T) {
		c.ok(t, "GET", base+"/"+ids[0], nil, invitation)
		c.problem(t, c.env.Token, "GET", base+"/0190b6f2-0000-7000-8000-000000000002", nil, 404, "invitation_not_found")
		c.problem(t, c.env.Token, "GET", base+"/not-a-uuid", nil, 400, "invalid_invitation_id")
	})
	t.Run("RevokeInvitation", func(t *testing.T) {
		for range 2 { // a repeat is 204 too
			c.ok(t, "DELETE", base+"/"+ids[1], nil, nil)
		}
		if m := c.ok(t, "GET", base+"/"+ids[1], nil, invitation); m != nil && (m["status"] != "revoked" || m["revoked_at"] == nil) {
			t.Errorf("GetInvitation after revoke: %v", m)
		}
		c.problem(t, c.env.Token, "DELETE", base+"/0190b6f2-0000-7000-8000-000000000002", nil, 404, "invitation_not_found")
	})
	c.identities(t, dom)
}

// identities reads the identities view of dom, with a user of its own.
func (c *client) identities(t *testing.T, dom string) {
	id, now := uuid.Must(uuid.NewV7()).String(), store.Micros(time.Now())
	if _, err := c.env.Server.DB.Exec(`INSERT INTO identities (id, kind, domain_id, display_name, idp_scope, idp_issuer,
		idp_subject, email, created_at, updated_at, last_sign_in_at) VALUES ($1, 'user', $2, 'Ada', $2, 'https://idp.test',
		'ada', 'ada@example.test', $3, $3, $3)`, id, dom, now); err != nil {
		t.Fatal(err)
	}
	base := "/v1/domains/" + dom + "/identities"
	t.Run("ListIdentities", func(t *testing.T) {
		l := c.ok(t, "GET", base, nil, identityList)
		if items, _ := l["items"].([]any); l != nil && len(items) != 1 {
			t.Errorf("ListIdentities: %d items, want 1", len(items))
		}
		c.ok(t, "GET", base+"?kind=service-identity", nil, identityList)
		c.problem(t, c.env.Token, "GET", base+"?kind=robot", nil, 400, "invalid_kind")
	})
	t.Run("GetIdentity", func(t *testing.T) {
		if m := c.ok(t, "GET", base+"/"+id, nil, identityDetail); m != nil && (m["email"] != "ada@example.test" || m["external_subject"] != "ada") {
			t.Errorf("GetIdentity: %v", m)
		}
		c.problem(t, c.env.Token, "GET", base+"/0190b6f2-0000-7000-8000-000000000003", nil, 404, "identity_not_found")
		c.problem(t, c.env.Token, "GET", base+"/zz", nil, 400, "invalid_principal_id")
	})
}
