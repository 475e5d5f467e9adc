package plexctl

import (
	"encoding/json"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

const (
	gID = "0190c0de-0000-7000-8000-00000000000a"
	uID = "0190c0de-0000-7000-8000-00000000000b"
)

func groupCases() []cmdCase {
	g := apiv1.Group{ID: gID, DomainID: dID, Slug: "sre", DisplayName: "SRE", Source: "manual"}
	m := apiv1.GroupMember{GroupID: gID, PrincipalID: uID, PrincipalKind: "user", Source: "manual"}
	return []cmdCase{
		{[]string{"groups", "list", "--domain", dID, "--limit", "5"}, "GET /v1/admin/groups", apiv1.List[apiv1.Group]{Items: []apiv1.Group{g}},
			"GET /v1/admin/groups?domain_id=" + dID + "&limit=5", ""},
		{[]string{"groups", "get", gID}, "GET /v1/admin/groups/{id}", g, "GET /v1/admin/groups/" + gID, ""},
		{[]string{"groups", "create", "--domain", dID, "--slug", "sre", "--name", "SRE"}, "POST /v1/admin/groups", g,
			"POST /v1/admin/groups", `{"domain_id":"` + dID + `","slug":"sre","display_name":"SRE","source":"manual"}`},
		{[]string{"groups", "create", "--domain", dID, "--slug", "ops", "--name", "ops", "--idp-binding", "b1", "--claim", "ops"},
			"POST /v1/admin/groups", g, "POST /v1/admin/groups",
			`{"domain_id":"` + dID + `","slug":"ops","display_name":"ops","source":"idp","idp_binding_id":"b1","idp_claim_value":"ops"}`},
		{[]string{"groups", "update", gID, "--name", "Site reliability"}, "PATCH /v1/admin/groups/{id}", g,
			"PATCH /v1/admin/groups/" + gID, `{"display_name":"Site reliability"}`},
		{[]string{"groups", "delete", gID}, "DELETE /v1/admin/groups/{id}", nil, "DELETE /v1/admin/groups/" + gID, ""},
		{[]string{"groups", "members", "list", gID}, "GET /v1/admin/groups/{id}/members",
			apiv1.GroupMembers{Items: []apiv1.GroupMember{m}}, "GET /v1/admin/groups/" + gID + "/members", ""},
		{[]string{"groups", "members", "add", gID, "--user", uID}, "POST /v1/admin/groups/{id}/members", m,
			"POST /v1/admin/groups/" + gID + "/members", `{"principal_id":"` + uID + `","principal_kind":"user","source":"manual"}`},
		{[]string{"groups", "members", "add", gID, "--group", uID}, "POST /v1/admin/groups/{id}/members", m,
			"POST /v1/admin/groups/" + gID + "/members", `{"principal_id":"` + uID + `","principal_kind":"group","source":"manual"}`},
		{[]string{"groups", "members", "remove", gID, "--service-identity", uID}, "DELETE /v1/admin/groups/{id}/members/{pid}", nil,
			"DELETE /v1/admin/groups/" + gID + "/members/" + uID + "?kind=service_identity", ""},
	}
}

// TestGroupCommandsSendTheRightRequest maps the groups command lines onto
// the contract's group operations, in table and JSON output.
func TestGroupCommandsSendTheRightRequest(t *testing.T) {
	for _, tc := range groupCases() {
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
}

// TestGroupMemberFlags: exactly one of --user, --service-identity, --group.
func TestGroupMemberFlags(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{
		{"groups", "members", "add", gID},
		{"groups", "members", "add", gID, "--user", uID, "--group", uID},
		{"groups", "create", "--domain", dID, "--slug", "ops", "--name", "ops", "--claim", "ops"},
	} {
		if r := h.run(args...); r.code != ExitUsage {
			t.Errorf("%q: exit %d, want usage (%d): %s", args, r.code, ExitUsage, r.stderr)
		}
	}
}
