package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListGroups calls GET /v1/admin/groups?domain_id= for one page of a
// Domain's groups (manual and IdP-synced), by slug.
func (c *Client) ListGroups(ctx context.Context, domainID string, opts ListOptions) (*apiv1.List[apiv1.Group], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	q := opts.values()
	q.Set("domain_id", domainID)
	var out apiv1.List[apiv1.Group]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/admin/groups", query: q}, &out)
	return result(&out, err)
}

// GetGroup calls GET /v1/admin/groups/{id}.
func (c *Client) GetGroup(ctx context.Context, id string) (*apiv1.Group, error) {
	return getByID[apiv1.Group](ctx, c, "group id", "/v1/admin/groups/", id)
}

// CreateGroup calls POST /v1/admin/groups.
func (c *Client) CreateGroup(ctx context.Context, in apiv1.CreateGroup) (*apiv1.Group, error) {
	var out apiv1.Group
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/groups", body: in}, &out)
	return result(&out, err)
}

// UpdateGroup calls PATCH /v1/admin/groups/{id} (renames a manual group).
func (c *Client) UpdateGroup(ctx context.Context, id string, in apiv1.PatchGroup) (*apiv1.Group, error) {
	if err := requireID("group id", id); err != nil {
		return nil, err
	}
	var out apiv1.Group
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/admin/groups/", id), body: in}, &out)
	return result(&out, err)
}

// DeleteGroup calls DELETE /v1/admin/groups/{id}; its memberships and every
// grant to it go with it.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "group id", "/v1/admin/groups/", id)
}

// ListGroupMembers calls GET /v1/admin/groups/{id}/members.
func (c *Client) ListGroupMembers(ctx context.Context, id string) (*apiv1.GroupMembers, error) {
	if err := requireID("group id", id); err != nil {
		return nil, err
	}
	var out apiv1.GroupMembers
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/admin/groups/", id, "/members")}, &out)
	return result(&out, err)
}

// AddGroupMember calls POST /v1/admin/groups/{id}/members.
func (c *Client) AddGroupMember(ctx context.Context, id string, in apiv1.AddGroupMember) (*apiv1.GroupMember, error) {
	if err := requireID("group id", id); err != nil {
		return nil, err
	}
	var out apiv1.GroupMember
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/admin/groups/", id, "/members"), body: in}, &out)
	return result(&out, err)
}

// RemoveGroupMember calls DELETE /v1/admin/groups/{id}/members/{principal_id}?kind=.
func (c *Client) RemoveGroupMember(ctx context.Context, id, kind, principalID string) error {
	if err := requireID("group id", id); err != nil {
		return err
	}
	if err := requireID("principal id", principalID); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: pathf("/v1/admin/groups/", id, "/members/", principalID),
		query: url.Values{"kind": {kind}}}, nil)
}
