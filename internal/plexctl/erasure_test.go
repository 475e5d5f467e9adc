package plexctl

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestAuditEraseIdentityRequests maps "audit erase-identity" onto its two
// operations.
func TestAuditEraseIdentityRequests(t *testing.T) {
	const id = "0190d1e2-0000-7000-8000-000000000009"
	reply := apiv1.AuditEraseIdentityResponse{SubjectPseudonym: strings.Repeat("ab", 32)}
	for _, tc := range []cmdCase{
		{[]string{"audit", "erase-identity", id, "--domain", dID}, "POST /v1/domains/{id}/audit/erase-identity", reply,
			"POST /v1/domains/" + dID + "/audit/erase-identity", `{"identity_id":"` + id + `"}`},
		{[]string{"audit", "erase-identity", id, "--platform"}, "POST /v1/platform/audit/erase-identity", reply,
			"POST /v1/platform/audit/erase-identity", `{"identity_id":"` + id + `"}`},
	} {
		h := newHarness(t)
		h.srv.JSON(tc.pattern, http.StatusAccepted, tc.reply)
		r := h.run(tc.args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, reply.SubjectPseudonym) {
			t.Fatalf("%q: exit %d\n%s\n%s", tc.args, r.code, r.stdout, r.stderr)
		}
		req := h.srv.Last()
		if req.Pattern() != tc.want {
			t.Errorf("%q: request %q, want %q", tc.args, req.Pattern(), tc.want)
		}
		assertBody(t, tc.args, req, tc.body)
	}
	if r := newHarness(t).run("audit", "erase-identity", id); r.code == ExitOK {
		t.Error("erase-identity without a chain succeeded")
	}
}

// TestLiveAuditEraseIdentity erases a user from a real control plane: the
// user's entries no longer name it and the chain still verifies.
func TestLiveAuditEraseIdentity(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l := newLive(t, b)
			var d apiv1.Domain
			l.ok(&d, "domains", "create", "--name", "Erase", "--slug", "erase", "--mesh-cidr", "100.85.0.0/16", "-o", "json")
			user, token := l.e.NewUser(t, "leaver")
			if resp, _ := l.e.Send(t, token, "DELETE", "/v1/domains/"+d.ID); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("the user's delete was not denied: %d", resp.StatusCode)
			}
			count := func() int {
				var n int
				l.e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE identity_id_ref = $1`, "user:"+user).Scan(&n)
				return n
			}
			if count() == 0 {
				t.Fatal("positive control: no entry names the user")
			}
			var out apiv1.AuditEraseIdentityResponse
			l.ok(&out, "audit", "erase-identity", user, "--domain", d.ID, "-o", "json")
			if len(out.SubjectPseudonym) != 64 || out.EntriesErased == 0 || count() != 0 {
				t.Fatalf("erasure: %+v, %d entries still name the user", out, count())
			}
			l.ok(nil, "audit", "verify", "--domain", d.ID)
		})
	}
}
