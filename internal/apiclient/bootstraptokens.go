package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// IssueBootstrapToken calls POST /v1/projects/{project_id}/bootstrap-tokens.
// The answer carries the psb_ plaintext, which the server shows only once.
func (c *Client) IssueBootstrapToken(ctx context.Context, projectID string, in apiv1.IssueBootstrapToken) (*apiv1.IssuedBootstrapToken, error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	var out apiv1.IssuedBootstrapToken
	r := request{method: http.MethodPost, path: pathf("/v1/projects/", projectID, "/bootstrap-tokens"), body: in}
	err := c.do(ctx, r, &out)
	return result(&out, err)
}

// ListBootstrapTokens calls GET /v1/projects/{project_id}/bootstrap-tokens
// for one page (metadata only).
func (c *Client) ListBootstrapTokens(ctx context.Context, projectID string, opts ListOptions) (*apiv1.List[apiv1.BootstrapToken], error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.BootstrapToken]
	r := request{method: http.MethodGet, path: pathf("/v1/projects/", projectID, "/bootstrap-tokens"), query: opts.values()}
	err := c.do(ctx, r, &out)
	return result(&out, err)
}

// GetBootstrapToken calls GET /v1/projects/{project_id}/bootstrap-tokens/{id}.
func (c *Client) GetBootstrapToken(ctx context.Context, projectID, id string) (*apiv1.BootstrapToken, error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	if err := requireID("bootstrap token id", id); err != nil {
		return nil, err
	}
	var out apiv1.BootstrapToken
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/projects/", projectID, "/bootstrap-tokens/", id)}, &out)
	return result(&out, err)
}

// RevokeBootstrapToken calls DELETE
// /v1/projects/{project_id}/bootstrap-tokens/{id}.
func (c *Client) RevokeBootstrapToken(ctx context.Context, projectID, id string) error {
	if err := requireID("project id", projectID); err != nil {
		return err
	}
	if err := requireID("bootstrap token id", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: pathf("/v1/projects/", projectID, "/bootstrap-tokens/", id)}, nil)
}
