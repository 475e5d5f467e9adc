package apiclient

import (
	"context"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

const (
	testGroup = "0190c0de-0000-7000-8000-00000000000a"
	testUser  = "0190c0de-0000-7000-8000-00000000000b"
)

func groupRoutes() []routeCase {
	g := apiv1.Group{ID: testGroup, Slug: "sre", Source: "manual"}
	return []routeCase{
		{name: "groups list", pattern: "GET /v1/admin/groups", reply: apiv1.List[apiv1.Group]{Items: []apiv1.Group{g}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListGroups(ctx, "d1", ListOptions{Limit: 2, Cursor: "c"})
			},
			want: "GET /v1/admin/groups?cursor=c&domain_id=d1&limit=2",
			check: func(t *testing.T, got any) {
				if l := got.(*apiv1.List[apiv1.Group]); len(l.Items) != 1 || l.Items[0].Slug != "sre" {
					t.Errorf("list = %+v", l)
				}
			}},
		{name: "group get", pattern: "GET /v1/admin/groups/{id}", reply: g,
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetGroup(ctx, testGroup) },
			want: "GET /v1/admin/groups/" + testGroup},
		{name: "group create", pattern: "POST /v1/admin/groups", status: 201, reply: g,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateGroup(ctx, apiv1.CreateGroup{DomainID: "d1", Slug: "sre", DisplayName: "SRE", Source: "manual"})
			},
			want: "POST /v1/admin/groups", body: `{"domain_id":"d1","slug":"sre","display_name":"SRE","source":"manual"}`},
		{name: "group update", pattern: "PATCH /v1/admin/groups/{id}", reply: g,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateGroup(ctx, testGroup, apiv1.PatchGroup{DisplayName: "x"})
			},
			want: "PATCH /v1/admin/groups/" + testGroup, body: `{"display_name":"x"}`},
		{name: "group delete", pattern: "DELETE /v1/admin/groups/{id}", status: 204,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteGroup(ctx, testGroup) },
			want: "DELETE /v1/admin/groups/" + testGroup},
		{name: "group members", pattern: "GET /v1/admin/groups/{id}/members", reply: apiv1.GroupMembers{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.ListGroupMembers(ctx, testGroup) },
			want: "GET /v1/admin/groups/" + testGroup + "/members"},
		{name: "group member add", pattern: "POST /v1/admin/groups/{id}/members", status: 201, reply: apiv1.GroupMember{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.AddGroupMember(ctx, testGroup, apiv1.AddGroupMember{PrincipalID: testUser, PrincipalKind: "group", Source: "manual"})
			},
			want: "POST /v1/admin/groups/" + testGroup + "/members",
			body: `{"principal_id":"` + testUser + `","principal_kind":"group","source":"manual"}`},
		{name: "group member remove", pattern: "DELETE /v1/admin/groups/{id}/members/{pid}", status: 204,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RemoveGroupMember(ctx, testGroup, "user", testUser)
			},
			want: "DELETE /v1/admin/groups/" + testGroup + "/members/" + testUser + "?kind=user"},
	}
}

// TestGroupRoutes checks the request every group method sends.
func TestGroupRoutes(t *testing.T) {
	for _, tc := range groupRoutes() {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiclienttest.NewServer(t)
			if tc.reply == nil {
				srv.Status(tc.pattern, tc.status)
			} else {
				srv.JSON(tc.pattern, max(tc.status, 200), tc.reply)
			}
			got, err := tc.call(t.Context(), newTestClient(t, srv))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			req := srv.Last()
			if req.Pattern() != tc.want {
				t.Errorf("request = %q, want %q", req.Pattern(), tc.want)
			}
			assertJSONBody(t, req.Body, tc.body)
			assertHeaders(t, req, false, tc.body != "")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
	if err := newTestClient(t, apiclienttest.NewServer(t)).RemoveGroupMember(t.Context(), testGroup, "user", ""); err == nil {
		t.Error("RemoveGroupMember without a principal id sent a request")
	}
}
