package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// CheckPermission calls POST /v1/authz/check. A denial is data
// (AuthzDecision.Decision "denied"), not an error.
func (c *Client) CheckPermission(ctx context.Context, in apiv1.AuthzCheck) (*apiv1.AuthzDecision, error) {
	var out apiv1.AuthzDecision
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/authz/check", body: in}, &out)
	return result(&out, err)
}

// LookupResources calls POST /v1/authz/lookup-resources: the objects of
// one type a subject reaches through a relation (not paginated).
func (c *Client) LookupResources(ctx context.Context, in apiv1.AuthzLookupResources) (*apiv1.AuthzResources, error) {
	var out apiv1.AuthzResources
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/authz/lookup-resources", body: in}, &out)
	if err == nil && out.Items == nil {
		out.Items = []string{}
	}
	return result(&out, err)
}

// ExpandPermission calls POST /v1/authz/expand: the tree of subjects that
// hold a relation on a resource.
func (c *Client) ExpandPermission(ctx context.Context, in apiv1.AuthzExpand) (*apiv1.AuthzExpansion, error) {
	var out apiv1.AuthzExpansion
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/authz/expand", body: in}, &out)
	return result(&out, err)
}

// ListRelationTuples calls GET /v1/authz/relation-tuples?project_id=… for
// one page of a Project's tuples.
func (c *Client) ListRelationTuples(ctx context.Context, projectID string, opts ListOptions) (*apiv1.List[apiv1.RelationTuple], error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	q := opts.values()
	q.Set("project_id", projectID)
	var out apiv1.List[apiv1.RelationTuple]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/authz/relation-tuples", query: q}, &out)
	return result(&out, err)
}

// WriteRelationTuple calls POST /v1/authz/relation-tuples. projectID is
// required for tuples on a Project or its objects; without it the resource
// must be a Domain, a group or the platform.
func (c *Client) WriteRelationTuple(ctx context.Context, projectID string, in apiv1.WriteRelationTuple) (*apiv1.RelationTuple, error) {
	r := request{method: http.MethodPost, path: "/v1/authz/relation-tuples", body: in}
	if projectID != "" {
		r.query = url.Values{"project_id": {projectID}}
	}
	var out apiv1.RelationTuple
	err := c.do(ctx, r, &out)
	return result(&out, err)
}

// DeleteRelationTuple calls DELETE /v1/authz/relation-tuples/{id}.
func (c *Client) DeleteRelationTuple(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "relation tuple id", "/v1/authz/relation-tuples/", id)
}
