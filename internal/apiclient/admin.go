package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListPlatformIdPBindings calls GET /v1/admin/platform-idp for one page of
// the platform-scoped (shared) bindings. The body is the contract's bare
// array; NextCursor comes from X-Next-Cursor.
func (c *Client) ListPlatformIdPBindings(ctx context.Context, opts ListOptions) (*apiv1.List[apiv1.IdPBinding], error) {
	return arrayPage[apiv1.IdPBinding](ctx, c, request{method: http.MethodGet, path: "/v1/admin/platform-idp", query: opts.values()})
}

// CreatePlatformIdPBinding calls POST /v1/admin/platform-idp.
func (c *Client) CreatePlatformIdPBinding(ctx context.Context, in apiv1.CreatePlatformIdPBinding) (*apiv1.IdPBinding, error) {
	var out apiv1.IdPBinding
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/platform-idp", body: in}, &out)
	return result(&out, err)
}

// PatchIdPBinding calls PATCH /v1/admin/idp/{id}; nil fields are kept.
func (c *Client) PatchIdPBinding(ctx context.Context, id string, in apiv1.PatchIdPBinding) (*apiv1.IdPBinding, error) {
	if err := requireID("IdP binding id", id); err != nil {
		return nil, err
	}
	var out apiv1.IdPBinding
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/admin/idp/", id), body: in}, &out)
	return result(&out, err)
}

// SetIdPBindingStatus calls PATCH /v1/admin/idp/{id}/status with active or
// deactivated; deactivation ends the binding's browser sessions.
func (c *Client) SetIdPBindingStatus(ctx context.Context, id, status string) (*apiv1.IdPBinding, error) {
	if err := requireID("IdP binding id", id); err != nil {
		return nil, err
	}
	var out apiv1.IdPBinding
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/admin/idp/", id, "/status"),
		body: apiv1.IdPBindingStatus{Status: status}}, &out)
	return result(&out, err)
}

// SignInBindings calls the public GET /v1/auth/idp-bindings: the bindings
// a Domain signs in with, display-safe.
func (c *Client) SignInBindings(ctx context.Context, domainID string) ([]apiv1.DomainIdPBinding, error) {
	var out []apiv1.DomainIdPBinding
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/auth/idp-bindings", query: url.Values{"domain_id": {domainID}}}, &out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAdminTokens calls GET /v1/admin/tokens for one page of another
// principal's tokens (identityRef user:<uuid> or service:<uuid>).
func (c *Client) ListAdminTokens(ctx context.Context, identityRef string, opts ListOptions) (*apiv1.List[apiv1.AdminAPIToken], error) {
	q := opts.values()
	q.Set("identity_ref", identityRef)
	return arrayPage[apiv1.AdminAPIToken](ctx, c, request{method: http.MethodGet, path: "/v1/admin/tokens", query: q})
}

// IssueAdminToken calls POST /v1/admin/tokens: a token for another
// principal. The plaintext in the answer is shown once.
func (c *Client) IssueAdminToken(ctx context.Context, in apiv1.AdminIssueToken) (*apiv1.IssuedToken, error) {
	var out apiv1.IssuedToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/tokens", body: in}, &out)
	return result(&out, err)
}

// RevokeAdminToken calls DELETE /v1/admin/tokens/{id}.
func (c *Client) RevokeAdminToken(ctx context.Context, id string) error {
	if err := requireID("token id", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: pathf("/v1/admin/tokens/", id)}, nil)
}

// RotateAdminToken calls POST /v1/admin/tokens/{id}/rotate.
func (c *Client) RotateAdminToken(ctx context.Context, id string) (*apiv1.IssuedToken, error) {
	if err := requireID("token id", id); err != nil {
		return nil, err
	}
	var out apiv1.IssuedToken
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/admin/tokens/", id, "/rotate")}, &out)
	return result(&out, err)
}
