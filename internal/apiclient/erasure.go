package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// EraseIdentity calls POST …/audit/erase-identity (EraseIdentityFromAudit,
// or EraseIdentityFromPlatformAudit for the platform chain, which erases
// the identity from every chain): the identity's past entries no longer
// name it, and the chains still verify. It needs admin on the Domain (the
// platform) and a stepped-up sign-in.
func (c *Client) EraseIdentity(ctx context.Context, ch Chain, identityID string) (*apiv1.AuditEraseIdentityResponse, error) {
	prefix, err := ch.prefix()
	if err != nil {
		return nil, err
	}
	var out apiv1.AuditEraseIdentityResponse
	err = c.do(ctx, request{method: http.MethodPost, path: prefix + "/erase-identity",
		body: apiv1.AuditEraseIdentityRequest{IdentityID: identityID}}, &out)
	return result(&out, err)
}
