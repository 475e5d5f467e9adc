package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListLabelDefinitions calls GET /v1/label-definitions for one page of the
// Definitions of scope (`platform`, `domain:<uuid>` or `project:<uuid>`).
func (c *Client) ListLabelDefinitions(ctx context.Context, scope string, opts ListOptions) (*apiv1.List[apiv1.LabelDefinition], error) {
	q := opts.values()
	if scope != "" {
		q.Set("scope", scope)
	}
	var out apiv1.List[apiv1.LabelDefinition]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/label-definitions", query: q}, &out)
	return result(&out, err)
}

// GetLabelDefinition calls GET /v1/label-definitions/{id}.
func (c *Client) GetLabelDefinition(ctx context.Context, id string) (*apiv1.LabelDefinition, error) {
	return getByID[apiv1.LabelDefinition](ctx, c, "label definition id", "/v1/label-definitions/", id)
}

// CreateLabelDefinition calls POST /v1/label-definitions.
func (c *Client) CreateLabelDefinition(ctx context.Context, in apiv1.CreateLabelDefinition) (*apiv1.LabelDefinition, error) {
	var out apiv1.LabelDefinition
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/label-definitions", body: in}, &out)
	return result(&out, err)
}

// PreviewSelector calls POST /v1/labels/selectors/preview. Syntax errors
// are data (SelectorPreview.Errors), not an error.
func (c *Client) PreviewSelector(ctx context.Context, expression string) (*apiv1.SelectorPreview, error) {
	var out apiv1.SelectorPreview
	body := apiv1.SelectorPreviewRequest{Expression: expression}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/labels/selectors/preview", body: body}, &out)
	return result(&out, err)
}

// ObjectLabels calls GET /v1/objects/{kind}/{id}/labels: every assignment
// on one object (a small set, not paginated).
func (c *Client) ObjectLabels(ctx context.Context, kind, id string) ([]apiv1.LabelAssignment, error) {
	p, err := labelsPath(kind, id)
	if err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.LabelAssignment]
	if err := c.do(ctx, request{method: http.MethodGet, path: p}, &out); err != nil {
		return nil, err
	}
	if out.Items == nil {
		out.Items = []apiv1.LabelAssignment{}
	}
	return out.Items, nil
}

// AssignLabel calls PUT /v1/objects/{kind}/{id}/labels (an upsert).
func (c *Client) AssignLabel(ctx context.Context, kind, id string, in apiv1.AssignLabel) (*apiv1.LabelAssignment, error) {
	p, err := labelsPath(kind, id)
	if err != nil {
		return nil, err
	}
	var out apiv1.LabelAssignment
	err = c.do(ctx, request{method: http.MethodPut, path: p, body: in}, &out)
	return result(&out, err)
}

// UnassignLabel calls DELETE /v1/objects/{kind}/{id}/labels?qualified_key=…
// The server answers 204 whether or not the label was set.
func (c *Client) UnassignLabel(ctx context.Context, kind, id, qualifiedKey string) error {
	p, err := labelsPath(kind, id)
	if err != nil {
		return err
	}
	if err := requireID("qualified key", qualifiedKey); err != nil {
		return err
	}
	q := url.Values{"qualified_key": {qualifiedKey}}
	return c.do(ctx, request{method: http.MethodDelete, path: p, query: q}, nil)
}

func labelsPath(kind, id string) (string, error) {
	if err := requireID("object kind", kind); err != nil {
		return "", err
	}
	if err := requireID("object id", id); err != nil {
		return "", err
	}
	return pathf("/v1/objects/", kind, "/", id, "/labels"), nil
}
