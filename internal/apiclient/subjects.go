package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// LookupSubjects calls POST /v1/authz/lookup-subjects: the subjects of one
// type (user, service_identity, group#member) that hold a relation on a
// resource, through groups and the hierarchy (sorted, bounded).
func (c *Client) LookupSubjects(ctx context.Context, in apiv1.AuthzLookupSubjects) (*apiv1.AuthzSubjects, error) {
	var out apiv1.AuthzSubjects
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/authz/lookup-subjects", body: in}, &out)
	if err == nil && out.Items == nil {
		out.Items = []string{}
	}
	return result(&out, err)
}

// PatchRelationTuple calls PATCH /v1/authz/relation-tuples/{id}: replace
// the tuple's subject, relation and resource, keeping its id.
func (c *Client) PatchRelationTuple(ctx context.Context, id string, in apiv1.PatchRelationTuple) (*apiv1.RelationTuple, error) {
	if err := requireID("relation tuple id", id); err != nil {
		return nil, err
	}
	var out apiv1.RelationTuple
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/authz/relation-tuples/", id), body: in}, &out)
	return result(&out, err)
}

// UpdateLabelDefinition calls PATCH /v1/label-definitions/{id}; nil fields
// are left as they are.
func (c *Client) UpdateLabelDefinition(ctx context.Context, id string, in apiv1.UpdateLabelDefinition) (*apiv1.LabelDefinition, error) {
	if err := requireID("label definition id", id); err != nil {
		return nil, err
	}
	var out apiv1.LabelDefinition
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/label-definitions/", id), body: in}, &out)
	return result(&out, err)
}

// DeleteLabelDefinition calls DELETE /v1/label-definitions/{id}; its
// assignments go as the Definition's on_delete says.
func (c *Client) DeleteLabelDefinition(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "label definition id", "/v1/label-definitions/", id)
}
