package invitation_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// users are the issuer's users: alice and bob from the seed, a second
// account whose verified address is alice's in other letter case, and two
// invitees whose invitations get revoked or expire.
func users(c *devidp.Config) {
	c.Users = append(slices.Clone(oidctest.SeedUsers),
		devidp.User{ID: "alice-twin", Name: "Alice Twin", Email: "ALICE@Example.TEST"},
		devidp.User{ID: "erin", Name: "Erin", Email: "erin@example.test"},
		devidp.User{ID: "frank", Name: "Frank", Email: "frank@example.test"})
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

type world struct {
	f       *oidctest.Fixture
	dom     string
	project apiv1.Project
	binding apiv1.IdPBinding
}

// setup: a Domain whose only binding (the real dev issuer) provisions
// nobody by itself (jit_policy deny), so that only an invitation admits a
// new user, and a Project.
func setup(t *testing.T, b apptest.Backend) *world {
	f := oidctest.Start(t, b, true)
	idp := f.Issuer(t, users)
	w := &world{f: f, dom: f.Domain(t, "acme", "100.64.0.0/16")}
	w.binding = f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: w.dom, JITPolicy: "deny"})
	if st, raw := f.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: w.dom, Name: "web", Slug: "web"}, &w.project); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	return w
}

func (w *world) invite(t *testing.T, email string) apiv1.Invitation {
	t.Helper()
	var inv apiv1.Invitation
	body := apiv1.CreateInvitation{ExternalSubject: email,
		InitialTuples: []apiv1.InvitationTuple{{Relation: "viewer", Object: "project:" + w.project.ID}}}
	if st, raw := w.f.Do(t, "POST", "/v1/domains/"+w.dom+"/invitations", body, &inv); st != 201 {
		t.Fatalf("create invitation: %d %s", st, raw)
	}
	return inv
}

func (w *world) read(t *testing.T, id string) apiv1.Invitation {
	t.Helper()
	var inv apiv1.Invitation
	if st, raw := w.f.Do(t, "GET", "/v1/domains/"+w.dom+"/invitations/"+id, nil, &inv); st != 200 {
		t.Fatalf("get invitation: %d %s", st, raw)
	}
	return inv
}

// refused signs user in through the Domain's binding as a JSON client and
// returns the callback's status and problem code.
func (w *world) refused(t *testing.T, user string) (int, string) {
	t.Helper()
	br := w.f.Browser(t)
	started := br.StartSignIn(t, apiv1.SignIn{DomainID: w.dom})
	cb := br.Authorize(t, started.AuthorizationURL, user, devidp.ACRBasic)
	resp, raw := br.Callback(t, cb, true)
	return resp.StatusCode, oidctest.ProblemCode(t, raw)
}

// TestInvitationRedeemedAtFirstSignIn drives the whole life of
// invitations through the real dev OpenID Provider on both databases: a
// mismatched address is refused and leaves the invitation pending; the
// invitee's first sign-in (address matched case-insensitively) admits her
// despite jit_policy deny and grants the staged role at once; a second use
// by another account with the same address fails; revoked and expired
// invitations admit nobody; revoking a used or expired one is 409.
func TestInvitationRedeemedAtFirstSignIn(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			w := setup(t, b)
			inv := w.invite(t, "Alice@Example.test")
			if inv.Status != "pending" || !hex64.MatchString(inv.ExternalSubjectPseudonym) || inv.SignInURL == "" ||
				len(inv.InitialTuples) != 1 || inv.ExpiresAt.Sub(inv.CreatedAt).Hours() != 24 {
				t.Fatalf("created invitation: %+v", inv)
			}
			// One pending invitation per address.
			if st, raw := w.f.Do(t, "POST", "/v1/domains/"+w.dom+"/invitations",
				apiv1.CreateInvitation{ExternalSubject: "alice@example.test"}, nil); st != 409 ||
				oidctest.ProblemCode(t, raw) != "invitation_already_pending" {
				t.Fatalf("duplicate pending invitation: %d %s", st, raw)
			}

			// A mismatched e-mail fails: bob is not invited.
			if st, code := w.refused(t, "bob"); st != 400 || code != "jit_denied" {
				t.Fatalf("bob's sign-in: %d %s", st, code)
			}
			if got := w.read(t, inv.ID); got.Status != "pending" {
				t.Fatalf("after a mismatched sign-in the invitation is %s", got.Status)
			}

			// Alice's first sign-in redeems it and grants project viewer.
			br := w.f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: w.dom}, "alice", devidp.ACRBasic)
			_, who := br.Whoami(t)
			if resp, raw := br.Do(t, "GET", "/v1/projects/"+w.project.ID, nil, false, nil); resp.StatusCode != 200 {
				t.Fatalf("alice reads the project after redeeming: %d %s", resp.StatusCode, raw)
			}
			got := w.read(t, inv.ID)
			if got.Status != "accepted" || got.AcceptedAt == nil || got.AcceptedUserID == "" || !strings.HasSuffix(who.Subject, got.AcceptedUserID) {
				t.Fatalf("after redemption: %+v (whoami %+v)", got, who)
			}
			var redeemed int
			w.f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'invitation.redeem'
				AND object_id = $2`, w.dom, inv.ID).Scan(&redeemed)
			if redeemed != 1 {
				t.Fatalf("%d invitation.redeem audit entries on the Domain's chain, want 1", redeemed)
			}

			// A second use fails: another account with the same address.
			if st, code := w.refused(t, "alice-twin"); st != 400 || code != "jit_denied" {
				t.Fatalf("second use: %d %s", st, code)
			}
			if st, raw := w.f.Do(t, "DELETE", "/v1/domains/"+w.dom+"/invitations/"+inv.ID, nil, nil); st != 409 ||
				oidctest.ProblemCode(t, raw) != "invitation_already_accepted" {
				t.Fatalf("revoking a used invitation: %d %s", st, raw)
			}

			// A revoked invitation admits nobody; revoking twice is 204.
			erin := w.invite(t, "erin@example.test")
			for range 2 {
				if st, raw := w.f.Do(t, "DELETE", "/v1/domains/"+w.dom+"/invitations/"+erin.ID, nil, nil); st != 204 {
					t.Fatalf("revoke: %d %s", st, raw)
				}
			}
			if st, code := w.refused(t, "erin"); st != 400 || code != "jit_denied" {
				t.Fatalf("erin's sign-in after revocation: %d %s", st, code)
			}
			if got := w.read(t, erin.ID); got.Status != "revoked" || got.RevokedAt == nil {
				t.Fatalf("revoked invitation: %+v", got)
			}

			// An expired one neither.
			frank := w.invite(t, "frank@example.test")
			if _, err := w.f.Server.DB.Exec(`UPDATE invitations SET expires_at = created_at - 1 WHERE id = $1`, frank.ID); err != nil {
				t.Fatal(err)
			}
			if st, code := w.refused(t, "frank"); st != 400 || code != "jit_denied" {
				t.Fatalf("frank's sign-in after expiry: %d %s", st, code)
			}
			if got := w.read(t, frank.ID); got.Status != "expired" || got.ExpiredAt == nil {
				t.Fatalf("expired invitation: %+v", got)
			}
			if st, raw := w.f.Do(t, "DELETE", "/v1/domains/"+w.dom+"/invitations/"+frank.ID, nil, nil); st != 409 ||
				oidctest.ProblemCode(t, raw) != "invitation_already_expired" {
				t.Fatalf("revoking an expired invitation: %d %s", st, raw)
			}
			w.lists(t)
		})
	}
}

// lists pages through the invitations and filters them by status.
func (w *world) lists(t *testing.T) {
	t.Helper()
	base := "/v1/domains/" + w.dom + "/invitations"
	var l apiv1.List[apiv1.Invitation]
	if st, raw := w.f.Do(t, "GET", base+"?limit=2", nil, &l); st != 200 || len(l.Items) != 2 || l.NextCursor == "" {
		t.Fatalf("first page: %d %s", st, raw)
	}
	seen := map[string]bool{l.Items[0].ID: true, l.Items[1].ID: true}
	var next apiv1.List[apiv1.Invitation]
	if st, raw := w.f.Do(t, "GET", base+"?limit=2&cursor="+l.NextCursor, nil, &next); st != 200 || len(next.Items) != 1 ||
		seen[next.Items[0].ID] || next.NextCursor != "" {
		t.Fatalf("second page: %d %s", st, raw)
	}
	for status, want := range map[string]int{"accepted": 1, "revoked": 1, "expired": 1, "pending": 0, "all": 3} {
		if st, raw := w.f.Do(t, "GET", base+"?status="+status, nil, &l); st != 200 || len(l.Items) != want {
			t.Errorf("status=%s: %d items, want %d: %s", status, len(l.Items), want, raw)
		}
	}
	if st, raw := w.f.Do(t, "GET", base+"?status=bogus", nil, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_status" {
		t.Errorf("bad status filter: %d %s", st, raw)
	}
}

// TestInvitationValidation: objects outside the Domain, relations a user
// cannot hold, too many tuples, caveats, bad TTLs and addresses are
// refused with the contract's codes; another Domain's invitation is 404;
// a caller without manage on the Domain is 403.
func TestInvitationValidation(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			w := setup(t, b)
			other := w.f.Domain(t, "other", "100.65.0.0/16")
			var otherProject apiv1.Project
			if st, raw := w.f.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: other, Name: "x", Slug: "x"}, &otherProject); st != 201 {
				t.Fatalf("create project: %d %s", st, raw)
			}
			base := "/v1/domains/" + w.dom + "/invitations"
			many := make([]apiv1.InvitationTuple, 33)
			for i := range many {
				many[i] = apiv1.InvitationTuple{Relation: "viewer", Object: "project:" + w.project.ID}
			}
			cases := []struct {
				name   string
				body   apiv1.CreateInvitation
				status int
				code   string
			}{
				{"other domain", tuples("viewer", "domain:"+other), 422, "invitation_object_out_of_scope"},
				{"other domain's project", tuples("viewer", "project:"+otherProject.ID), 422, "invitation_object_out_of_scope"},
				{"platform", tuples("admin", "platform"), 422, "invitation_object_out_of_scope"},
				{"unknown group", tuples("member", "group:0190b6f2-0000-7000-8000-000000000001"), 422, "invitation_object_out_of_scope"},
				{"computed relation", tuples("read", "project:"+w.project.ID), 400, "invalid_body"},
				{"too many", apiv1.CreateInvitation{ExternalSubject: "x@example.test", InitialTuples: many}, 422, "too_many_initial_tuples"},
				{"caveat", apiv1.CreateInvitation{ExternalSubject: "x@example.test", InitialTuples: []apiv1.InvitationTuple{
					{Relation: "viewer", Object: "project:" + w.project.ID, CaveatContext: map[string]any{"ip": "x"}}}}, 422, "invalid_caveat_context"},
				{"short ttl", apiv1.CreateInvitation{ExternalSubject: "x@example.test", TTLSeconds: 59}, 400, "invalid_ttl"},
				{"long ttl", apiv1.CreateInvitation{ExternalSubject: "x@example.test", TTLSeconds: 604801}, 400, "invalid_ttl"},
				{"not an address", apiv1.CreateInvitation{ExternalSubject: "alice"}, 400, "invalid_body"},
			}
			for _, c := range cases {
				if st, raw := w.f.Do(t, "POST", base, c.body, nil); st != c.status || oidctest.ProblemCode(t, raw) != c.code {
					t.Errorf("%s: %d %s, want %d %s", c.name, st, raw, c.status, c.code)
				}
			}
			inv := w.invite(t, "x@example.test")
			if st, raw := w.f.Do(t, "GET", "/v1/domains/"+other+"/invitations/"+inv.ID, nil, nil); st != 404 ||
				oidctest.ProblemCode(t, raw) != "invitation_not_found" {
				t.Errorf("another Domain's invitation: %d %s", st, raw)
			}
			if st, raw := w.f.Do(t, "GET", base+"/not-a-uuid", nil, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_invitation_id" {
				t.Errorf("bad id: %d %s", st, raw)
			}
			_, tok := w.f.NewUser(t, "nobody")
			if st, raw := w.f.DoAs(t, tok, "POST", base, apiv1.CreateInvitation{ExternalSubject: "y@example.test"}, nil); st != http.StatusForbidden {
				t.Errorf("create without manage: %d %s", st, raw)
			}
			if st, raw := w.f.DoAs(t, tok, "GET", base, nil, nil); st != http.StatusForbidden {
				t.Errorf("list without read: %d %s", st, raw)
			}
		})
	}
}

func tuples(relation, object string) apiv1.CreateInvitation {
	return apiv1.CreateInvitation{ExternalSubject: "x@example.test",
		InitialTuples: []apiv1.InvitationTuple{{Relation: relation, Object: object}}}
}
