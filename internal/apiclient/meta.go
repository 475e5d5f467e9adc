package apiclient

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Health calls GET /v1/health (public).
func (c *Client) Health(ctx context.Context) (*apiv1.Health, error) {
	var out apiv1.Health
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/health", public: true}, &out)
	return result(&out, err)
}

// Version calls GET /v1/version (public).
func (c *Client) Version(ctx context.Context) (*apiv1.Version, error) {
	var out apiv1.Version
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/version", public: true}, &out)
	return result(&out, err)
}

// OpenAPI calls GET /v1/openapi.json (public) and returns the document
// unparsed.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/openapi.json", public: true}, &out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Whoami calls GET /v1/auth/whoami.
func (c *Client) Whoami(ctx context.Context) (*apiv1.Whoami, error) {
	var out apiv1.Whoami
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/auth/whoami"}, &out)
	return result(&out, err)
}

// ListTokens calls GET /v1/auth/tokens: one page of the caller's API
// tokens. The body is the contract's bare array; NextCursor comes from the
// X-Next-Cursor header.
func (c *Client) ListTokens(ctx context.Context, opts ListOptions) (*apiv1.List[apiv1.APIToken], error) {
	return arrayPage[apiv1.APIToken](ctx, c, request{method: http.MethodGet, path: "/v1/auth/tokens", query: opts.values()})
}

// IssueToken calls POST /v1/auth/tokens. The plaintext in the answer is
// shown once.
func (c *Client) IssueToken(ctx context.Context, in apiv1.IssueToken) (*apiv1.IssuedToken, error) {
	var out apiv1.IssuedToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/tokens", body: in}, &out)
	return result(&out, err)
}

// RevokeToken calls DELETE /v1/auth/tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	if err := requireID("token id", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: pathf("/v1/auth/tokens/", id)}, nil)
}

// RotateToken calls POST /v1/auth/tokens/{id}/rotate. The old plaintext
// keeps working until RotationDeadline.
func (c *Client) RotateToken(ctx context.Context, id string) (*apiv1.IssuedToken, error) {
	if err := requireID("token id", id); err != nil {
		return nil, err
	}
	var out apiv1.IssuedToken
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/auth/tokens/", id, "/rotate")}, &out)
	return result(&out, err)
}
