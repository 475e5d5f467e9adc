package unserved_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/unserved"
)

type docOp struct {
	OperationID string                      `json:"operationId"`
	Security    []map[string][]string       `json:"security"`
	Responses   map[string]json.RawMessage  `json:"responses"`
	Parameters  []struct{ Name, In string } `json:"parameters"`
	Extension   bool                        `json:"x-plexsphere-not-provisioned"`
	Description string                      `json:"description"`
}

// document fetches /v1/openapi.json and indexes it by unserved.Key.
func document(t *testing.T, e *apptest.Env) map[string]docOp {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]docOp `json:"paths"`
	}
	if st, raw := e.DoAs(t, "", "GET", "/v1/openapi.json", nil, &doc); st != 200 {
		t.Fatalf("openapi.json: %d %s", st, raw)
	}
	ops := map[string]docOp{}
	for path, item := range doc.Paths {
		for method, op := range item {
			ops[unserved.Key(method, path)] = op
		}
	}
	return ops
}

// Issue 8 item 2: the table never names an operation the server serves, and
// every row is in the document marked as not yet available.
func TestIssue8TableHasNoServedOperation(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	doc := document(t, e)
	rows := map[string]bool{}
	for _, op := range unserved.Table {
		key := unserved.Key(op.Method, op.Path)
		if rows[key] {
			t.Errorf("%s: two rows", key)
		}
		rows[key] = true
		got, ok := doc[key]
		switch {
		case !ok:
			t.Errorf("%s (%s) is missing from the document", key, op.OperationID)
		case !got.Extension:
			t.Errorf("%s is served now: delete its row from unserved.Table", key)
		case got.OperationID != op.OperationID:
			t.Errorf("%s: operation id %q, want the contract's %q", key, got.OperationID, op.OperationID)
		}
	}
	for key, op := range doc {
		if op.Extension && !rows[key] {
			t.Errorf("%s is marked not provisioned but has no row", key)
		}
	}
}

// Issue 8 item 2: every operation of the contract is served or in the table.
func TestIssue8EveryContractOperationServedOrUnserved(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	doc := document(t, e)
	contract := map[string]bool{}
	for _, c := range contractOperations {
		method, path, _ := strings.Cut(c, " ")
		key := unserved.Key(method, path)
		contract[key] = true
		if _, ok := doc[key]; !ok {
			t.Errorf("contract operation %s is neither served nor in unserved.Table", c)
		}
	}
	for _, op := range unserved.Table {
		if !contract[unserved.Key(op.Method, op.Path)] {
			t.Errorf("row %s %s is not a contract operation", op.Method, op.Path)
		}
	}
}

// Issue 8 item 2: the document marks an unserved operation, keeps its path
// parameters and declares the security of its class.
func TestIssue8DocumentMarksUnserved(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	doc := document(t, e)
	for key, want := range map[string]route.Class{
		"DELETE /v1/clouds/{}":                            route.Operator,
		"PUT /v1/nodes/{}/state/reports/{}":               route.Node,
		"GET /v1/artifacts/plexd/{}":                      route.Operator,
		"GET /v1/projects/{}/resources/{}/bridge/ingress": route.Operator,
	} {
		op, ok := doc[key]
		if !ok {
			t.Errorf("%s: not in the document", key)
			continue
		}
		if !op.Extension || !strings.Contains(op.Description, "_not_provisioned") || op.Responses["501"] == nil {
			t.Errorf("%s: not marked as not yet available: %+v", key, op)
		}
		if n := strings.Count(key, "{}"); len(op.Parameters) != n {
			t.Errorf("%s: %d parameters, want %d", key, len(op.Parameters), n)
		}
		switch want {
		case route.Public:
			if len(op.Security) != 0 {
				t.Errorf("%s: public operation declares %v", key, op.Security)
			}
		case route.Node:
			if len(op.Security) != 1 || op.Security[0]["nodeBearer"] == nil {
				t.Errorf("%s: node operation declares %v", key, op.Security)
			}
		default:
			if len(op.Security) == 0 || op.Responses["401"] == nil {
				t.Errorf("%s: operator operation declares %v", key, op.Security)
			}
		}
	}
}

// Issue 8 item 2: an unserved operation answers 501 <area>_not_provisioned
// naming the capability (after authentication), not 404 route_not_found.
func TestIssue8UnservedAnswers501(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	const id = "0190a8b8-a0c0-7a0a-8a0a-a0a0a0a0a0a1"
	for _, c := range []struct {
		token, method, path string
		status              int
		code, capability    string
	}{
		{e.Token, "GET", "/v1/clouds/" + id, 501, "cloud_not_provisioned", "Cloud inventory"},
		{e.Token, "POST", "/v1/clouds", 501, "cloud_not_provisioned", "Cloud inventory"},
		{e.Token, "DELETE", "/v1/projects/" + id + "/resources/" + id + "/bridge/ingress/rule-a", 501, "bridge_not_provisioned", "Bridge orchestration"},
		{e.Token, "GET", "/v1/projects/" + id + "/resources/" + id + "/bridge/site-to-site/dc-east", 501, "bridge_not_provisioned", "Bridge orchestration"},
		// Served with the contract's verb (issue 15); without it, no route.
		{e.Token, "POST", "/v1/domains/" + id + "/incidents/" + id + ":resolve", 404, "domain_not_found", ""},
		{e.Token, "POST", "/v1/domains/" + id + "/incidents/" + id, 404, "route_not_found", ""},
		// Served with the contract's verb (issue 12); without it, no route.
		{e.Token, "POST", "/v1/projects/" + id + "/sessions/" + id, 404, "route_not_found", ""},
		{"", "GET", "/v1/clouds/" + id, 401, "", ""},
		{"", "PUT", "/v1/nodes/" + id + "/endpoint", 401, "", ""},
		{"not-an-nsk", "POST", "/v1/keys/rotate", 401, "", ""},
	} {
		var p apiv1.Problem
		var body any
		if c.method != http.MethodGet && c.method != http.MethodDelete {
			body = map[string]any{}
		}
		st, raw := e.DoAs(t, c.token, c.method, c.path, body, nil)
		_ = json.Unmarshal(raw, &p)
		if st != c.status || c.code != "" && p.Code != c.code ||
			c.capability != "" && !strings.Contains(p.Detail, c.capability) {
			t.Errorf("%s %s: %d %s, want %d %s naming %q", c.method, c.path, st, raw, c.status, c.code, c.capability)
		}
	}
}
