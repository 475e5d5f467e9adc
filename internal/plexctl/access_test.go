package plexctl

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

const (
	tupleID = "0190c0de-0000-7000-8000-00000000000a"
	idpID   = "0190c0de-0000-7000-8000-00000000000b"
	sidID   = "0190c0de-0000-7000-8000-00000000000c"
)

// accessCases are the tuple, authz, IdP binding and service identity
// command lines and the one request each must send.
func accessCases() []cmdCase {
	sids := "/v1/domains/" + dID + "/service-identities"
	return []cmdCase{
		{[]string{"tuples", "list", "--project", pID, "--limit", "2"}, "GET /v1/authz/relation-tuples",
			apiv1.List[apiv1.RelationTuple]{}, "GET /v1/authz/relation-tuples?limit=2&project_id=" + pID, ""},
		{[]string{"tuples", "write", "--project", pID, "--resource", "project:" + pID, "--relation", "viewer",
			"--subject", "group:g1#member", "--caveat", "hours", "--caveat-context", `{"tz":["UTC"]}`},
			"POST /v1/authz/relation-tuples", apiv1.RelationTuple{ID: tupleID}, "POST /v1/authz/relation-tuples?project_id=" + pID,
			`{"subject":"group:g1#member","relation":"viewer","resource":"project:` + pID + `","caveat_name":"hours","caveat_context":{"tz":["UTC"]}}`},
		{[]string{"tuples", "write", "--resource", "platform", "--relation", "admin", "--subject", "user:u1"},
			"POST /v1/authz/relation-tuples", apiv1.RelationTuple{ID: tupleID}, "POST /v1/authz/relation-tuples",
			`{"subject":"user:u1","relation":"admin","resource":"platform"}`},
		{[]string{"tuples", "delete", tupleID}, "DELETE /v1/authz/relation-tuples/{id}", nil,
			"DELETE /v1/authz/relation-tuples/" + tupleID, ""},
		{[]string{"authz", "check", "--subject", "user:u1", "--relation", "read", "--resource", "project:" + pID},
			"POST /v1/authz/check", apiv1.AuthzDecision{Decision: "denied", Reason: "insufficient_relation"}, "POST /v1/authz/check",
			`{"subject":"user:u1","relation":"read","resource":"project:` + pID + `"}`},
		{[]string{"authz", "lookup-resources", "--subject", "user:u1", "--relation", "read", "--type", "project"},
			"POST /v1/authz/lookup-resources", apiv1.AuthzResources{Items: []string{"project:" + pID}}, "POST /v1/authz/lookup-resources",
			`{"subject":"user:u1","relation":"read","resource_type":"project"}`},
		{[]string{"authz", "expand", "--relation", "read", "--resource", "project:" + pID, "--max-depth", "3"},
			"POST /v1/authz/expand", apiv1.AuthzExpansion{Tree: &apiv1.ExpandNode{Kind: "leaf", Subjects: []string{"user:u1"}}},
			"POST /v1/authz/expand", `{"relation":"read","resource":"project:` + pID + `","max_depth":3}`},
		{[]string{"idp-bindings", "list", "--domain", dID}, "GET /v1/admin/idp", []apiv1.IdPBinding{{ID: idpID}},
			"GET /v1/admin/idp?domain_id=" + dID, ""},
		{[]string{"idp-bindings", "get", idpID}, "GET /v1/admin/idp/{id}", apiv1.IdPBinding{ID: idpID},
			"GET /v1/admin/idp/" + idpID, ""},
		{[]string{"idp-bindings", "create", "--domain", dID, "--issuer", "https://idp.example.com", "--client-id", "ps",
			"--client-secret-ref", "env:PS_SECRET", "--jit-policy", "deny", "--scope", "email,profile", "--claim", "groups=roles",
			"--required-amr", "mfa", "--alias", "corp", "--primary"},
			"POST /v1/admin/idp", apiv1.IdPBinding{ID: idpID}, "POST /v1/admin/idp",
			`{"domain_id":"` + dID + `","issuer":"https://idp.example.com","client_id":"ps","client_secret_ref":"env:PS_SECRET",
			  "scopes":["email","profile"],"claim_mappings":{"groups":"roles"},"required_amr":["mfa"],"jit_policy":"deny",
			  "alias":"corp","primary":true}`},
		{[]string{"idp-bindings", "delete", idpID}, "DELETE /v1/admin/idp/{id}", nil, "DELETE /v1/admin/idp/" + idpID, ""},
		{[]string{"service-identities", "list", "--domain", dID}, "GET " + sids, apiv1.List[apiv1.ServiceIdentity]{}, "GET " + sids, ""},
		{[]string{"service-identities", "get", sidID, "--domain", dID}, "GET " + sids + "/{sid}", apiv1.ServiceIdentity{ID: sidID},
			"GET " + sids + "/" + sidID, ""},
		{[]string{"service-identities", "create", "--domain", dID, "--name", "ci", "--idp-binding", idpID,
			"--federation", "jwt_bearer", "--client-id", "runner", "--subject", "sa:ci"},
			"POST " + sids, apiv1.ServiceIdentity{ID: sidID}, "POST " + sids,
			`{"display_name":"ci","idp_binding_id":"` + idpID + `","federation_kind":"jwt_bearer","client_id":"runner","subject":"sa:ci"}`},
		{[]string{"service-identities", "update", sidID, "--domain", dID, "--disable"}, "PATCH " + sids + "/{sid}",
			apiv1.ServiceIdentity{ID: sidID}, "PATCH " + sids + "/" + sidID, `{"disabled":true}`},
		{[]string{"service-identities", "update", sidID, "--domain", dID, "--name", "ci-2", "--enable"}, "PATCH " + sids + "/{sid}",
			apiv1.ServiceIdentity{ID: sidID}, "PATCH " + sids + "/" + sidID, `{"display_name":"ci-2","disabled":false}`},
		{[]string{"service-identities", "delete", sidID, "--domain", dID}, "DELETE " + sids + "/{sid}", nil,
			"DELETE " + sids + "/" + sidID, ""},
	}
}

// Issue 8 (plexctl parity): relation tuples, authz check / lookup-resources /
// expand, IdP bindings and service identities had no plexctl command; each
// command line maps onto the one request of its operation.
func TestAccessCommandsSendTheRightRequest(t *testing.T) {
	for _, tc := range accessCases() {
		h := newHarness(t)
		if tc.reply == nil {
			h.srv.Status(tc.pattern, 204)
		} else {
			h.srv.JSON(tc.pattern, 200, tc.reply)
		}
		for _, format := range []string{"table", "json", "yaml"} {
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

// Issue 8: GET /v1/admin/idp answers the contract's bare JSON array and
// names the next page in X-Next-Cursor; plexctl pages through all of it
// (and reads the {items} envelope of older servers).
func TestIdPListPagesBareArray(t *testing.T) {
	b := func(id string) apiv1.IdPBinding {
		return apiv1.IdPBinding{ID: id, Issuer: "https://idp.example.com", JITPolicy: "allow", Status: "active"}
	}
	h := newHarness(t)
	h.srv.Handle("GET /v1/admin/idp", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("X-Next-Cursor", "c1")
			apiclienttest.WriteJSON(w, 200, []apiv1.IdPBinding{b("b0"), b("b1")})
			return
		}
		apiclienttest.WriteJSON(w, 200, []apiv1.IdPBinding{b("b2")})
	})
	r := h.ok("idp-bindings", "list", "-o", "json")
	var got apiv1.List[apiv1.IdPBinding]
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Items) != 3 || got.Items[2].ID != "b2" {
		t.Errorf("stdout %q (%v)", r.stdout, err)
	}
	if last := h.srv.Last().Pattern(); last != "GET /v1/admin/idp?cursor=c1" {
		t.Errorf("second page request %q", last)
	}
	r = h.ok("idp-bindings", "list")
	if strings.Count(r.stdout, "(platform)") != 3 || !strings.Contains(r.stdout, "https://idp.example.com") {
		t.Errorf("table %q", r.stdout)
	}

	h = newHarness(t)
	h.srv.JSON("GET /v1/admin/idp", 200, apiv1.List[apiv1.IdPBinding]{Items: []apiv1.IdPBinding{b("b0")}})
	if r = h.ok("idp-bindings", "list", "-o", "json"); !strings.Contains(r.stdout, `"b0"`) {
		t.Errorf("envelope: %q", r.stdout)
	}
}

// Issue 8: the client secret of a new binding comes from a file or stdin,
// is sent inline once, and is never echoed.
func TestIdPCreateReadsSecretFromStdin(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("POST /v1/admin/idp", 201, apiv1.IdPBinding{ID: idpID, ClientSecretRef: "keyring:idp/" + idpID})
	r := h.runIn(strings.NewReader("s3cret-value\n"), "idp-bindings", "create", "--issuer", "https://idp.example.com",
		"--client-id", "ps", "--client-secret-file", "-", "--jit-policy", "allow")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	assertBody(t, nil, h.srv.Last(), `{"issuer":"https://idp.example.com","client_id":"ps","client_secret":"s3cret-value","jit_policy":"allow"}`)
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Errorf("secret echoed: %q %q", r.stdout, r.stderr)
	}
}

// Issue 8: an expansion tree prints indented in the table view, with the
// server's strings made safe for the terminal.
func TestAuthzExpandTree(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("POST /v1/authz/expand", 200, apiv1.AuthzExpansion{Tree: &apiv1.ExpandNode{
		Kind: "union", Resource: "project:p1", Relation: "read", Children: []*apiv1.ExpandNode{
			{Kind: "leaf", Resource: "project:p1", Relation: "viewer", Subjects: []string{"user:u1", "user:\x1b[31m"}},
			{Kind: "leaf", Resource: "domain:d1", Relation: "auditor", Truncated: true},
		}}})
	r := h.ok("authz", "expand", "--relation", "read", "--resource", "project:p1")
	want := "union project:p1#read\n  leaf project:p1#viewer\n    - user:u1\n    - user:\\x1b[31m\n  leaf domain:d1#auditor (truncated)\n"
	if r.stdout != want {
		t.Errorf("stdout\n%q\nwant\n%q", r.stdout, want)
	}
}

// Issue 8: bad command lines of the new commands are usage errors (exit 2)
// and send nothing.
func TestAccessUsageErrors(t *testing.T) {
	cases := [][]string{
		{"tuples", "list"},
		{"tuples", "write", "--resource", "platform", "--relation", "admin"},
		{"tuples", "write", "--resource", "platform", "--relation", "admin", "--subject", "user:u", "--caveat-context", "[1]"},
		{"authz", "check", "--subject", "user:u", "--relation", "read"},
		{"authz", "expand", "--relation", "read", "--resource", "platform", "--max-depth", "17"},
		{"authz", "lookup-resources", "--subject", "user:u", "--relation", "read"},
		{"idp-bindings", "create", "--issuer", "https://i", "--client-id", "c", "--jit-policy", "maybe"},
		{"idp-bindings", "create", "--issuer", "https://i", "--client-id", "c", "--jit-policy", "allow",
			"--client-secret-ref", "env:X", "--client-secret-file", "-"},
		{"idp-bindings", "create", "--issuer", "https://i", "--client-id", "c", "--jit-policy", "allow", "--claim", "groups"},
		{"idp-bindings", "get"},
		{"service-identities", "list"},
		{"service-identities", "get", sidID},
		{"service-identities", "create", "--domain", dID, "--name", "n", "--idp-binding", idpID, "--client-id", "c",
			"--federation", "jwt_bearer"},
		{"service-identities", "update", sidID, "--domain", dID},
		{"service-identities", "update", sidID, "--domain", dID, "--disable", "--enable"},
	}
	for _, args := range cases {
		h := newHarness(t)
		r := h.run(args...)
		if r.code != ExitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, ExitUsage, r.stderr)
			continue
		}
		if n := len(h.srv.Requests()); n != 0 {
			t.Errorf("%q: %d requests sent on a usage error", args, n)
		}
	}
}

// Issue 8: API errors of the new commands render as problems, exit 1.
func TestAccessAPIErrors(t *testing.T) {
	h := newHarness(t)
	h.srv.Problem("POST /v1/authz/relation-tuples", apiv1.Problem{Status: 400, Code: "subject_not_allowed",
		Title: "Bad Request", Detail: "That relation cannot be written, or not with this subject type."})
	h.srv.Handle("GET /v1/admin/idp/{id}", func(w http.ResponseWriter, _ *http.Request) {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 404, Code: "binding_not_found", Title: "Not Found", Detail: "No such IdP binding."})
	})
	r := h.run("tuples", "write", "--resource", "platform", "--relation", "manage", "--subject", "user:u1")
	if r.code != ExitError || !strings.Contains(r.stderr, "(code subject_not_allowed)") {
		t.Errorf("tuples write: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run("idp-bindings", "get", idpID)
	if r.code != ExitError || !strings.Contains(r.stderr, "(code binding_not_found)") {
		t.Errorf("idp get: exit %d, stderr %q", r.code, r.stderr)
	}
}
