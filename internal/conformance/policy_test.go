package conformance

import "testing"

// Network policies (issue 10), from the contract's Policy, PolicyRevision,
// PolicySelector, PolicyRule, PolicyPortRange, PolicyListResponse,
// PolicyRevisionListResponse, PolicyDiff, PolicyDiffPair and
// PolicyDryRunResponse.
var (
	policyPortRange = object(req("from", integer), req("to", integer))
	policyRule      = object(req("action", enum("allow", "deny", "log")), req("protocol", enum("tcp", "udp", "icmp", "any")),
		req("source_cidr", str), req("destination_cidr", str), opt("ports", policyPortRange))
	policySelector = object(req("source", str), req("destination", str))
	policyRevision = object(req("id", str), req("policy_id", str), opt("parent_id", orNull(str)),
		req("selector", policySelector), req("rules", arrayOf(policyRule)), req("created_at", dateTime),
		req("created_by", str), opt("correlation_id", orNull(str)))
	policyResponse = object(req("id", str), req("project_id", str), req("slug", str), opt("display_name", str),
		req("head_revision_id", str), req("created_at", dateTime), req("updated_at", dateTime), opt("head", policyRevision))
	policyList         = object(req("items", arrayOf(policyResponse)), opt("next_cursor", orNull(str)))
	policyRevisionList = object(req("items", arrayOf(policyRevision)), opt("next_cursor", orNull(str)))
	policyDiffPair     = object(req("before", policyRule), req("after", policyRule))
	policyDiff         = object(req("added", arrayOf(policyRule)), req("removed", arrayOf(policyRule)),
		req("modified", arrayOf(policyDiffPair)))
	policyDryRun = object(req("matched_node_ids", arrayOf(str)), req("rule_diff", policyDiff),
		req("peer_pairs_affected", integer), req("unreachable_node_ids", arrayOf(str)))
)

// policy covers the nine policy operations and their contract codes.
func (c *client) policy(t *testing.T, w *world) {
	base := "/v1/projects/" + w.projectID + "/policies"
	sel := map[string]any{"source": "role=web", "destination": "role=db"}
	rule := func(action string, port int) map[string]any {
		return map[string]any{"action": action, "protocol": "tcp", "source_cidr": "0.0.0.0/0",
			"destination_cidr": "0.0.0.0/0", "ports": map[string]any{"from": port, "to": port}}
	}
	var id, first, second, otherID string
	t.Run("CreatePolicy", func(t *testing.T) {
		p := c.ok(t, "POST", base, map[string]any{"slug": "web-to-db", "selector": sel,
			"rules": []any{rule("allow", 5432)}}, policyResponse)
		id, first = str0(p, "id"), str0(p, "head_revision_id")
		c.problem(t, c.env.Token, "POST", base, map[string]any{"slug": "web-to-db", "selector": sel,
			"rules": []any{rule("allow", 5432)}}, 409, "policy_slug_taken")
		c.problem(t, c.env.Token, "POST", base, map[string]any{"slug": "mixed", "selector": sel,
			"rules": []any{map[string]any{"action": "deny", "protocol": "any", "source_cidr": "10.0.0.0/8",
				"destination_cidr": "fd00::/8"}}}, 422, "cidr_family_mismatch")
	})
	if id == "" {
		t.Fatal("no policy to go on with")
	}
	t.Run("GetPolicy", func(t *testing.T) {
		if p := c.ok(t, "GET", base+"/"+id, nil, policyResponse); p != nil && p["head"] == nil {
			t.Errorf("GetPolicy: no head: %v", p)
		}
	})
	t.Run("ListPolicies", func(t *testing.T) { c.ok(t, "GET", base, nil, policyList) })
	t.Run("UpdatePolicy", func(t *testing.T) {
		p := c.ok(t, "PATCH", base+"/"+id, map[string]any{"rules": []any{rule("allow", 5432), rule("deny", 22)},
			"expected_revision_id": first}, policyResponse)
		second = str0(p, "head_revision_id")
		c.problem(t, c.env.Token, "PATCH", base+"/"+id, map[string]any{"display_name": "x", "expected_revision_id": first},
			409, "revision_conflict")
	})
	t.Run("ListPolicyRevisions", func(t *testing.T) { c.ok(t, "GET", base+"/"+id+"/revisions", nil, policyRevisionList) })
	t.Run("GetPolicyRevision", func(t *testing.T) {
		c.ok(t, "GET", base+"/"+id+"/revisions/"+first, nil, policyRevision)
		other := c.ok(t, "POST", base, map[string]any{"slug": "other", "selector": sel, "rules": []any{rule("log", 80)}},
			policyResponse)
		otherID = str0(other, "id")
		c.problem(t, c.env.Token, "GET", base+"/"+otherID+"/revisions/"+first, nil, 404, "revision_not_visible")
	})
	t.Run("DiffPolicyRevisions", func(t *testing.T) {
		d := c.ok(t, "GET", base+"/"+id+"/diff?from_revision="+first+"&to_revision="+second, nil, policyDiff)
		if added, _ := d["added"].([]any); d != nil && len(added) != 1 {
			t.Errorf("DiffPolicyRevisions: %v", d)
		}
	})
	t.Run("DryRunPolicy", func(t *testing.T) {
		c.ok(t, "POST", base+"/"+id+"/dry-run", map[string]any{"selector": sel, "rules": []any{rule("allow", 443)}}, policyDryRun)
	})
	t.Run("DeletePolicy", func(t *testing.T) {
		c.ok(t, "DELETE", base+"/"+id, nil, nil)
		c.problem(t, c.env.Token, "GET", base+"/"+id, nil, 404, "policy_not_found")
		if otherID != "" {
			c.ok(t, "DELETE", base+"/"+otherID, nil, nil)
		}
	})
}
