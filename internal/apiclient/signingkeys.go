package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListSigningKeys calls GET /v1/domains/{id}/signing-keys (active first).
func (c *Client) ListSigningKeys(ctx context.Context, domainID string) (*apiv1.List[apiv1.SigningKey], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.SigningKey]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/signing-keys")}, &out)
	return result(&out, err)
}

// RotateSigningKey calls POST /v1/domains/{id}/signing-keys:rotate. It is a
// step-up operation: a caller whose sign-in lacks its IdP binding's
// required acr/amr gets 401 step_up_required. A nil in sends no body (the
// server's default grace).
func (c *Client) RotateSigningKey(ctx context.Context, domainID string, in *apiv1.RotateSigningKey) (*apiv1.SigningKeyRotation, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.SigningKeyRotation
	r := request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/signing-keys:rotate")}
	if in != nil {
		r.body = in
	}
	err := c.do(ctx, r, &out)
	return result(&out, err)
}
