package plexctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// TestSubjectsAndDefinitionCommands maps authz lookup-subjects, tuples patch and labels
// definitions update/delete onto their requests.
func TestSubjectsAndDefinitionCommands(t *testing.T) {
	cases := []cmdCase{
		{[]string{"authz", "lookup-subjects", "--relation", "read", "--resource", "project:" + pID},
			"POST /v1/authz/lookup-subjects", apiv1.AuthzSubjects{Items: []string{"user:u1"}, CorrelationID: "c"},
			"POST /v1/authz/lookup-subjects", `{"subject_type":"user","relation":"read","resource":"project:` + pID + `"}`},
		{[]string{"authz", "lookup-subjects", "--type", "group#member", "--relation", "viewer", "--resource", "project:" + pID},
			"POST /v1/authz/lookup-subjects", apiv1.AuthzSubjects{Items: []string{}},
			"POST /v1/authz/lookup-subjects", `{"subject_type":"group#member","relation":"viewer","resource":"project:` + pID + `"}`},
		{[]string{"tuples", "patch", rID, "--resource", "project:" + pID, "--relation", "admin", "--subject", "user:u1"},
			"PATCH /v1/authz/relation-tuples/{id}", apiv1.RelationTuple{ID: rID},
			"PATCH /v1/authz/relation-tuples/" + rID, `{"subject":"user:u1","relation":"admin","resource":"project:` + pID + `"}`},
		{[]string{"labels", "definitions", "update", "l1", "--description", "", "--on-delete", "cascade", "--required=false"},
			"PATCH /v1/label-definitions/{id}", apiv1.LabelDefinition{ID: "l1"},
			"PATCH /v1/label-definitions/l1", `{"description":"","on_delete":"cascade","required":false}`},
		{[]string{"labels", "definitions", "delete", "l1"}, "DELETE /v1/label-definitions/{id}", nil,
			"DELETE /v1/label-definitions/l1", ""},
	}
	for _, tc := range cases {
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
	// A value-schema flag starts from the stored schema: widening an enum
	// keeps its kind.
	h := newHarness(t)
	h.srv.JSON("GET /v1/label-definitions/{id}", 200, apiv1.LabelDefinition{ID: "l1",
		ValueSchema: apiv1.ValueSchema{Kind: "enum", Values: []string{"dev", "prod"}}})
	h.srv.JSON("PATCH /v1/label-definitions/{id}", 200, apiv1.LabelDefinition{ID: "l1"})
	if r := h.run("labels", "definitions", "update", "l1", "--values", "dev,prod,qa"); r.code != ExitOK {
		t.Fatalf("update --values: exit %d, stderr %q", r.code, r.stderr)
	}
	assertBody(t, []string{"update --values"}, h.srv.Last(), `{"value_schema":{"kind":"enum","values":["dev","prod","qa"]}}`)
	// The table of a lookup names every subject.
	h = newHarness(t)
	h.srv.JSON("POST /v1/authz/lookup-subjects", 200, apiv1.AuthzSubjects{Items: []string{"user:u1", "user:u2"}, Truncated: true})
	r := h.run("authz", "lookup-subjects", "--relation", "read", "--resource", "platform")
	if r.code != ExitOK || !strings.Contains(r.stdout, "user:u2") || !strings.Contains(r.stderr, "bound") {
		t.Errorf("lookup-subjects table: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
