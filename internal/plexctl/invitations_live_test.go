package plexctl

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/store"
)

// TestInvitationsAndIdentitiesLive drives plexctl invitations create, list,
// get and revoke and identities list and get against a real control plane
// on both databases.
func TestInvitationsAndIdentitiesLive(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			l := newLive(t, b)
			dom, proj := l.project("invites", "100.86.0.0/24")
			var inv apiv1.Invitation
			l.ok(&inv, "-o", "json", "invitations", "create", "--domain", dom, "--email", "ada@example.test",
				"--grant", "project:"+proj+"#viewer", "--ttl", "3600")
			if inv.Status != "pending" || len(inv.InitialTuples) != 1 || inv.InitialTuples[0].Relation != "viewer" ||
				!strings.Contains(inv.SignInURL, dom) || inv.ExpiresAt.Sub(inv.CreatedAt) != time.Hour {
				t.Fatalf("created: %+v", inv)
			}
			if r := l.run("invitations", "create", "--domain", dom, "--email", "x@example.test", "--grant", "nohash"); r.code != ExitUsage {
				t.Errorf("a malformed --grant: exit %d %s", r.code, r.stderr)
			}
			r := l.ok(nil, "invitations", "list", "--domain", dom, "--status", "pending")
			if !strings.Contains(r.stdout, inv.ID) || !strings.Contains(r.stdout, "project:"+proj+"#viewer") {
				t.Errorf("list:\n%s", r.stdout)
			}
			l.ok(nil, "invitations", "revoke", inv.ID, "--domain", dom)
			var got apiv1.Invitation
			l.ok(&got, "-o", "json", "invitations", "get", inv.ID, "--domain", dom)
			if got.Status != "revoked" {
				t.Errorf("after revoke: %+v", got)
			}

			id, now := uuid.Must(uuid.NewV7()).String(), store.Micros(time.Now())
			if _, err := l.e.Server.DB.Exec(`INSERT INTO identities (id, kind, domain_id, display_name, idp_subject, email,
				created_at, updated_at) VALUES ($1, 'user', $2, 'Ada', 'ada', 'ada@example.test', $3, $3)`, id, dom, now); err != nil {
				t.Fatal(err)
			}
			r = l.ok(nil, "identities", "list", "--domain", dom, "--kind", "user")
			if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "Ada") {
				t.Errorf("identities list:\n%s", r.stdout)
			}
			var ident apiv1.Identity
			l.ok(&ident, "-o", "json", "identities", "get", id, "--domain", dom)
			if ident.Email != "ada@example.test" || ident.Kind != "user" {
				t.Errorf("identities get: %+v", ident)
			}
			if r := l.run("identities", "get", uuid.Must(uuid.NewV7()).String(), "--domain", dom); r.code == ExitOK ||
				!strings.Contains(r.stderr, "identity_not_found") {
				t.Errorf("an unknown identity: exit %d %s", r.code, r.stderr)
			}
		})
	}
}
