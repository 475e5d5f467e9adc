package plexctl

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// cmdCase is a command line and the one request it must send.
type cmdCase struct {
	args    []string
	pattern string // fake route
	reply   any    // nil: 204
	want    string // Request.Pattern()
	body    string // JSON, "" for none
}

const (
	dID = "0190c0de-0000-7000-8000-000000000001"
	pID = "0190c0de-0000-7000-8000-000000000002"
	rID = "0190c0de-0000-7000-8000-000000000003"
)

func commandCases() []cmdCase {
	return []cmdCase{
		{[]string{"domains", "get", dID}, "GET /v1/domains/{id}", testDomains[0], "GET /v1/domains/" + dID, ""},
		{[]string{"domains", "create", "--name", "Acme", "--slug", "acme", "--mesh-cidr", "100.64.0.0/16", "--region", "eu",
			"--heartbeat-interval", "30s", "--stale-after", "90s", "--unreachable-after", "300s"},
			"POST /v1/domains", testDomains[0], "POST /v1/domains",
			`{"name":"Acme","slug":"acme","region":"eu","mesh_cidr":"100.64.0.0/16",
			  "reachability":{"heartbeat_interval":"30s","stale_after":"90s","unreachable_after":"300s"}}`},
		{[]string{"domains", "update", dID, "--description", "", "--mesh-cidr", "100.66.0.0/16"},
			"PATCH /v1/domains/{id}", testDomains[0], "PATCH /v1/domains/" + dID,
			`{"description":"","mesh_cidr":"100.66.0.0/16"}`},
		{[]string{"domains", "delete", dID}, "DELETE /v1/domains/{id}", nil, "DELETE /v1/domains/" + dID, ""},
		{[]string{"projects", "list", "--domain", dID, "--limit", "5"}, "GET /v1/projects", apiv1.List[apiv1.Project]{},
			"GET /v1/projects?domain_id=" + dID + "&limit=5", ""},
		{[]string{"projects", "create", "--domain", dID, "--name", "Web", "--slug", "web", "--sub-range-cidr", "100.64.8.0/22"},
			"POST /v1/projects", apiv1.Project{ID: pID}, "POST /v1/projects",
			`{"domain_id":"` + dID + `","name":"Web","slug":"web","sub_range_cidr":"100.64.8.0/22"}`},
		{[]string{"projects", "update", pID, "--release-sub-range"}, "PATCH /v1/projects/{id}", apiv1.Project{ID: pID},
			"PATCH /v1/projects/" + pID, `{"release_sub_range":true}`},
		{[]string{"projects", "delete", pID}, "DELETE /v1/projects/{id}", nil, "DELETE /v1/projects/" + pID, ""},
		{[]string{"resources", "list", "--project", pID}, "GET /v1/projects/{id}/resources", apiv1.List[apiv1.Resource]{},
			"GET /v1/projects/" + pID + "/resources", ""},
		{[]string{"resources", "create", "--project", pID, "--kind", "vm", "--external-ref", "web-1", "--parameters", `{"size":2}`},
			"POST /v1/projects/{id}/resources", apiv1.Resource{ID: rID}, "POST /v1/projects/" + pID + "/resources",
			`{"origin":"adopted","kind":"vm","external_ref":"web-1","parameters":{"size":2}}`},
		{[]string{"resources", "get", rID}, "GET /v1/resources/{id}", apiv1.Resource{ID: rID}, "GET /v1/resources/" + rID, ""},
		{[]string{"resources", "delete", rID}, "DELETE /v1/resources/{id}", nil, "DELETE /v1/resources/" + rID, ""},
	}
}

func labelAndAuditCases() []cmdCase {
	return []cmdCase{
		{[]string{"labels", "definitions", "list"}, "GET /v1/label-definitions", apiv1.List[apiv1.LabelDefinition]{},
			"GET /v1/label-definitions?scope=platform", ""},
		{[]string{"labels", "definitions", "get", "l1"}, "GET /v1/label-definitions/{id}", apiv1.LabelDefinition{ID: "l1"},
			"GET /v1/label-definitions/l1", ""},
		{[]string{"labels", "definitions", "create", "--scope", "domain:" + dID, "--key", "rack", "--type", "numeric",
			"--min", "0", "--max", "64", "--applies-to", "resource,node", "--cardinality", "0"},
			"POST /v1/label-definitions", apiv1.LabelDefinition{ID: "l1"}, "POST /v1/label-definitions",
			`{"scope":"domain:` + dID + `","local_key":"rack","value_schema":{"kind":"numeric","min":0,"max":64},
			  "applicable_kinds":["resource","node"],"cardinality":0}`},
		{[]string{"labels", "list", "resource/" + rID}, "GET /v1/objects/{kind}/{id}/labels", apiv1.List[apiv1.LabelAssignment]{},
			"GET /v1/objects/resource/" + rID + "/labels", ""},
		{[]string{"labels", "assign", "resource/" + rID, "--definition", "l1", "--value", "prod"},
			"PUT /v1/objects/{kind}/{id}/labels", apiv1.LabelAssignment{Value: "prod"},
			"PUT /v1/objects/resource/" + rID + "/labels", `{"definition_id":"l1","value":"prod"}`},
		{[]string{"labels", "unassign", "node/n1", "platform/env"}, "DELETE /v1/objects/{kind}/{id}/labels", nil,
			"DELETE /v1/objects/node/n1/labels?qualified_key=platform%2Fenv", ""},
		{[]string{"labels", "preview", "env=prod"}, "POST /v1/labels/selectors/preview",
			apiv1.SelectorPreview{AST: &apiv1.SelectorNode{Op: "eq", Key: "env", Value: ptr("prod")}},
			"POST /v1/labels/selectors/preview", `{"expression":"env=prod"}`},
		{[]string{"tokens", "issue", "--env", "prod", "--ttl", "720h"}, "POST /v1/auth/tokens", apiv1.IssuedToken{ID: "t1"},
			"POST /v1/auth/tokens", `{"env_prefix":"prod","ttl_seconds":2592000}`},
		{[]string{"tokens", "revoke", "t1"}, "DELETE /v1/auth/tokens/{id}", nil, "DELETE /v1/auth/tokens/t1", ""},
		{[]string{"tokens", "rotate", "t1"}, "POST /v1/auth/tokens/{id}/rotate", apiv1.IssuedToken{ID: "t1"},
			"POST /v1/auth/tokens/t1/rotate", ""},
		{[]string{"audit", "list", "--domain", dID, "--outcome", "denied", "--from", "24h", "--to", "2025-06-01T10:00:00+02:00", "--limit", "3"},
			"GET /v1/domains/{id}/audit/entries", apiv1.AuditList{},
			"GET /v1/domains/" + dID + "/audit/entries?from=2025-05-31T12%3A00%3A00Z&limit=3&outcome=denied&to=2025-06-01T08%3A00%3A00Z", ""},
		{[]string{"audit", "verify", "--platform", "--from-seq", "10"}, "POST /v1/platform/audit/verify",
			apiv1.AuditVerifyResult{OK: true}, "POST /v1/platform/audit/verify", `{"from_seq":10}`},
	}
}

// TestCommandsSendTheRightRequest maps command lines onto requests.
func TestCommandsSendTheRightRequest(t *testing.T) {
	for _, tc := range append(commandCases(), labelAndAuditCases()...) {
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
			if got := req.Header.Get("Authorization"); got != "Bearer psk_dev_env" {
				t.Errorf("%q: Authorization %q", tc.args, got)
			}
			assertBody(t, tc.args, req, tc.body)
			if format == "json" && tc.reply != nil && !json.Valid([]byte(r.stdout)) {
				t.Errorf("%q -o json: stdout is not JSON: %q", tc.args, r.stdout)
			}
		}
	}
}

func assertBody(t *testing.T, args []string, req apiclienttest.Request, want string) {
	t.Helper()
	if want == "" {
		if len(req.Body) != 0 {
			t.Errorf("%q: body %s, want none", args, req.Body)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(req.Body, &g); err != nil {
		t.Errorf("%q: body %q: %v", args, req.Body, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad test body %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%q: body %s\nwant %s", args, req.Body, want)
	}
}
