package apiclient

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func deviceRoutes() []routeCase {
	return []routeCase{
		{name: "device code", pattern: "POST /v1/auth/device-code", public: true,
			reply: apiv1.DeviceCode{DeviceCode: "psdc_x", UserCode: "ABCD-EFGH", Interval: 5},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.DeviceCode(ctx, apiv1.DeviceCodeRequest{DomainID: "d1", ClientID: "plexctl"})
			},
			want: "POST /v1/auth/device-code", body: `{"domain_id":"d1","client_id":"plexctl"}`,
			check: func(t *testing.T, got any) {
				if got.(*apiv1.DeviceCode).UserCode != "ABCD-EFGH" {
					t.Errorf("user code = %q", got.(*apiv1.DeviceCode).UserCode)
				}
			}},
		{name: "device token", pattern: "POST /v1/auth/device-token", public: true,
			reply: apiv1.AccessToken{AccessToken: "psa_x", TokenType: "Bearer", ExpiresIn: 900, RefreshToken: "psr_x"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.DeviceToken(ctx, apiv1.DeviceTokenRequest{GrantType: apiv1.GrantRefreshToken, RefreshToken: "psr_old"})
			},
			want: "POST /v1/auth/device-token", body: `{"grant_type":"refresh_token","refresh_token":"psr_old"}`,
			check: func(t *testing.T, got any) {
				if got.(*apiv1.AccessToken).RefreshToken != "psr_x" {
					t.Errorf("refresh token = %q", got.(*apiv1.AccessToken).RefreshToken)
				}
			}},
		{name: "revoke", pattern: "POST /v1/auth/revoke", public: true,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.RevokeOAuthToken(ctx, "psr_x") },
			want: "POST /v1/auth/revoke", body: `{"token":"psr_x"}`},
	}
}

// TestDeviceRoutes: the device-flow calls are public (no Authorization,
// even with a token configured) and send the documented bodies.
func TestDeviceRoutes(t *testing.T) {
	for _, tc := range deviceRoutes() {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiclienttest.NewServer(t)
			if tc.reply == nil {
				srv.Status(tc.pattern, http.StatusOK)
			} else {
				srv.JSON(tc.pattern, http.StatusOK, tc.reply)
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
			assertHeaders(t, req, tc.public, tc.body != "")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// TestDevicePollErrorCodes: a pending poll surfaces as *Error with the
// problem's code, which plexctl's poll loop branches on.
func TestDevicePollErrorCodes(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Problem("POST /v1/auth/device-token", apiv1.Problem{Status: http.StatusBadRequest, Code: "authorization_pending", Title: "Bad Request"})
	_, err := newTestClient(t, srv).DeviceToken(t.Context(), apiv1.DeviceTokenRequest{DeviceCode: "psdc_x"})
	var e *Error
	if !errors.As(err, &e) || e.Code != "authorization_pending" || e.Status != 400 {
		t.Fatalf("err = %v", err)
	}
}
