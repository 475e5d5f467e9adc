package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// GetIdPBinding calls GET /v1/admin/idp/{id}.
func (c *Client) GetIdPBinding(ctx context.Context, id string) (*apiv1.IdPBinding, error) {
	return getByID[apiv1.IdPBinding](ctx, c, "IdP binding id", "/v1/admin/idp/", id)
}

// CreateIdPBinding calls POST /v1/admin/idp. An inline client secret in
// in.ClientSecret is stored sealed by the server and never returned.
func (c *Client) CreateIdPBinding(ctx context.Context, in apiv1.CreateIdPBinding) (*apiv1.IdPBinding, error) {
	var out apiv1.IdPBinding
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/idp", body: in}, &out)
	return result(&out, err)
}

// DeleteIdPBinding calls DELETE /v1/admin/idp/{id}; the binding's sessions
// end.
func (c *Client) DeleteIdPBinding(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "IdP binding id", "/v1/admin/idp/", id)
}
