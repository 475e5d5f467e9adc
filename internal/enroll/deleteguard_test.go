package enroll_test

import (
	"encoding/json"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestEnrolledNodeBlocksTenancyDeletes checks that a live node keeps its
// Resource, Project and Domain from being deleted, and that decommissioning
// the node releases them.
func TestEnrolledNodeBlocksTenancyDeletes(t *testing.T) {
	e := start(t, apptest.SQLite)
	f := e.fixture(t, "guard", "100.70.0.0/16", "")
	tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "dev", TTLSeconds: 3600})
	resp, raw := e.registerAgent(t, tok.Token, newKey(), "n1")
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, raw)
	}
	reg := decodeRegistered(t, raw)
	var node apiv1.Node
	if st, raw := e.Do(t, "GET", "/v1/nodes/"+reg.NodeID, nil, &node); st != 200 {
		t.Fatalf("get node: %d %s", st, raw)
	}
	st, raw := e.Do(t, "DELETE", "/v1/resources/"+node.ResourceID, nil, nil)
	wantProblem(t, st, raw, 409, "resource_in_use")
	st, raw = e.Do(t, "DELETE", "/v1/projects/"+f.project.ID, nil, nil)
	wantProblem(t, st, raw, 409, "project_not_empty")
	st, raw = e.Do(t, "DELETE", "/v1/domains/"+f.domain.ID, nil, nil)
	wantProblem(t, st, raw, 409, "domain_not_empty")
	var p apiv1.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.ChildCounts == nil || p.ChildCounts.Nodes != 1 || p.ChildCounts.Projects != 1 {
		t.Fatalf("child_counts: %s", raw)
	}
	if st, raw := e.Do(t, "DELETE", "/v1/nodes/"+reg.NodeID, nil, nil); st != 204 {
		t.Fatalf("decommission: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "DELETE", "/v1/resources/"+node.ResourceID, nil, nil); st != 204 {
		t.Fatalf("resource delete after decommission: %d %s", st, raw)
	}
}
