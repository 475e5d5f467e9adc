package conformance

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// Groups (issue 16 item 1), from the contract's GroupResponse,
// GroupListResponse, GroupMembershipResponse and
// GroupMembershipListResponse.
var (
	groupSource   = enum("manual", "idp")
	groupResponse = object(req("id", str), req("domain_id", str), req("slug", str), req("display_name", str),
		req("source", groupSource), opt("idp_binding_id", str), opt("idp_claim_value", str),
		req("created_at", dateTime), req("updated_at", dateTime))
	groupList       = object(req("items", arrayOf(groupResponse)), opt("next_cursor", str))
	groupMembership = object(req("group_id", str), req("principal_id", str),
		req("principal_kind", enum("user", "service_identity", "group")), req("source", groupSource),
		req("created_at", dateTime))
	groupMembershipList = object(req("items", arrayOf(groupMembership)))
)

// TestGroupsConformance drives all eight group operations the way a client
// generated from the contract does (its request bodies, its required kind
// query parameter) and decodes every answer strictly, on both databases:
// a manual and an IdP-declared group, members of all three kinds, paging,
// and the problems for a cycle and for editing a synced group.
func TestGroupsConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, false)
			c := &client{env: f.Env}
			c.groups(t, f)
		})
	}
}

func (c *client) groups(t *testing.T, f *oidctest.Fixture) {
	dom := f.Domain(t, "conf-groups", "100.84.0.0/16")
	binding := f.Bind(t, f.Issuer(t, nil), apiv1.CreateIdPBinding{DomainID: dom})
	create := func(body map[string]any) map[string]any {
		t.Helper()
		st, raw := c.call(t, c.env.Token, http.MethodPost, "/v1/admin/groups", body)
		if st != http.StatusCreated {
			t.Fatalf("PostAdminGroup: status %d, want 201: %s", st, raw)
		}
		report(t, "POST", "/v1/admin/groups", decodeStrict(raw, groupResponse))
		return c.ok(t, "GET", "/v1/admin/groups/"+idOf(t, raw), nil, groupResponse)
	}
	outer := create(map[string]any{"domain_id": dom, "slug": "outer", "display_name": "Outer", "source": "manual"})
	inner := create(map[string]any{"domain_id": dom, "slug": "inner", "display_name": "Inner", "source": "manual"})
	synced := create(map[string]any{"domain_id": dom, "slug": "ops", "display_name": "ops", "source": "idp",
		"idp_binding_id": binding.ID, "idp_claim_value": "ops"})
	if synced["source"] != "idp" || synced["idp_binding_id"] != binding.ID || synced["idp_claim_value"] != "ops" {
		t.Fatalf("idp group: %v", synced)
	}
	if _, ok := outer["idp_binding_id"]; ok {
		t.Errorf("a manual group carries idp_binding_id: %v", outer)
	}
	outerID, innerID := str0(outer, "id"), str0(inner, "id")

	// Pages of one: every page decodes, and the cursor walks all three.
	seen := 0
	path := "/v1/admin/groups?domain_id=" + dom + "&limit=1"
	for i := 0; i < 5 && path != ""; i++ {
		page := c.ok(t, "GET", path, nil, groupList)
		seen += len(page["items"].([]any))
		path = ""
		if next := str0(page, "next_cursor"); next != "" {
			path = "/v1/admin/groups?domain_id=" + dom + "&limit=1&cursor=" + next
		}
	}
	if seen != 3 {
		t.Errorf("paging saw %d groups, want 3", seen)
	}
	c.ok(t, "PATCH", "/v1/admin/groups/"+innerID, map[string]any{"display_name": "Inner team"}, groupResponse)

	user, _ := c.env.NewUser(t, "conf-member")
	members := "/v1/admin/groups/" + outerID + "/members"
	for _, m := range []map[string]any{
		{"principal_id": user, "principal_kind": "user", "source": "manual"},
		{"principal_id": innerID, "principal_kind": "group", "source": "manual"},
	} {
		st, raw := c.call(t, c.env.Token, http.MethodPost, members, m)
		if st != http.StatusCreated {
			t.Errorf("PostAdminGroupMember: status %d, want 201: %s", st, raw)
		}
		report(t, "POST", members, decodeStrict(raw, groupMembership))
	}
	list := c.ok(t, "GET", members, nil, groupMembershipList)
	if n := len(list["items"].([]any)); n != 2 {
		t.Errorf("outer has %d members, want 2", n)
	}
	c.ok(t, "GET", "/v1/admin/groups/"+str0(synced, "id")+"/members", nil, groupMembershipList)

	c.problem(t, c.env.Token, "POST", "/v1/admin/groups/"+innerID+"/members",
		map[string]any{"principal_id": outerID, "principal_kind": "group", "source": "manual"}, 409, "group_cycle")
	c.problem(t, c.env.Token, "PATCH", "/v1/admin/groups/"+str0(synced, "id"), map[string]any{"display_name": "x"},
		409, "group_read_only")
	c.problem(t, c.env.Token, "GET", "/v1/admin/groups", nil, 400, "invalid_domain_id")
	c.problem(t, c.env.Token, "DELETE", members+"/"+user+"?kind=service_identity", nil, 404, "member_not_found")
	c.problem(t, c.env.Token, "POST", members, map[string]any{"principal_id": user, "principal_kind": "user",
		"source": "idp"}, 409, "source-conflict")
	if st, raw := c.call(t, c.env.Token, "DELETE", members+"/"+user+"?kind=robot", nil); st != http.StatusBadRequest {
		t.Errorf("DeleteAdminGroupMember with an invalid kind: %d, the contract has 400: %s", st, raw)
	}

	c.ok(t, "DELETE", members+"/"+user+"?kind=user", nil, nil)
	c.ok(t, "DELETE", members+"/"+innerID+"?kind=group", nil, nil)
	c.ok(t, "DELETE", "/v1/admin/groups/"+outerID, nil, nil)
	c.problem(t, c.env.Token, "GET", "/v1/admin/groups/"+outerID, nil, 404, "group_not_found")
}

func idOf(t *testing.T, raw []byte) string {
	t.Helper()
	var g apiv1.Group
	if err := json.Unmarshal(raw, &g); err != nil || g.ID == "" {
		t.Fatalf("no id in %s", raw)
	}
	return g.ID
}
