package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// DeviceCode calls POST /v1/auth/device-code (public): start a device login.
func (c *Client) DeviceCode(ctx context.Context, in apiv1.DeviceCodeRequest) (*apiv1.DeviceCode, error) {
	var out apiv1.DeviceCode
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/device-code", body: in, public: true}, &out)
	return result(&out, err)
}

// DeviceToken calls POST /v1/auth/device-token (public): poll for the
// device-flow token, or exchange a refresh token. Pending and refused
// polls are *Error values with codes authorization_pending, slow_down,
// access_denied, expired_token or invalid_grant.
func (c *Client) DeviceToken(ctx context.Context, in apiv1.DeviceTokenRequest) (*apiv1.AccessToken, error) {
	var out apiv1.AccessToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/device-token", body: in, public: true}, &out)
	return result(&out, err)
}

// RevokeOAuthToken calls POST /v1/auth/revoke (public, RFC 7009): the
// token's whole login is revoked. Unknown tokens succeed too.
func (c *Client) RevokeOAuthToken(ctx context.Context, token string) error {
	return c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/revoke", body: apiv1.RevokeToken{Token: token},
		public: true}, nil)
}
