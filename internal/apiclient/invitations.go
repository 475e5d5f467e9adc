package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListInvitations calls GET /v1/domains/{id}/invitations for one page;
// status ("" for all) filters by pending, accepted, revoked or expired.
func (c *Client) ListInvitations(ctx context.Context, domainID, status string, opts ListOptions) (*apiv1.List[apiv1.Invitation], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	q := opts.values()
	if status != "" {
		q.Set("status", status)
	}
	var out apiv1.List[apiv1.Invitation]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/invitations"), query: q}, &out)
	return result(&out, err)
}

// GetInvitation calls GET /v1/domains/{id}/invitations/{invitationId}.
func (c *Client) GetInvitation(ctx context.Context, domainID, id string) (*apiv1.Invitation, error) {
	p, err := invitationPath(domainID, id)
	if err != nil {
		return nil, err
	}
	var out apiv1.Invitation
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// CreateInvitation calls POST /v1/domains/{id}/invitations; the answer
// carries the sign-in link to hand the invitee (nothing is mailed).
func (c *Client) CreateInvitation(ctx context.Context, domainID string, in apiv1.CreateInvitation) (*apiv1.Invitation, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.Invitation
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/invitations"), body: in}, &out)
	return result(&out, err)
}

// RevokeInvitation calls DELETE /v1/domains/{id}/invitations/{invitationId}.
func (c *Client) RevokeInvitation(ctx context.Context, domainID, id string) error {
	p, err := invitationPath(domainID, id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: p}, nil)
}

func invitationPath(domainID, id string) (string, error) {
	if err := requireID("domain id", domainID); err != nil {
		return "", err
	}
	if err := requireID("invitation id", id); err != nil {
		return "", err
	}
	return pathf("/v1/domains/", domainID, "/invitations/", id), nil
}

// ListIdentities calls GET /v1/domains/{id}/identities for one page; kind
// ("" for both) is user or service-identity.
func (c *Client) ListIdentities(ctx context.Context, domainID, kind string, opts ListOptions) (*apiv1.List[apiv1.Identity], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	q := opts.values()
	if kind != "" {
		q.Set("kind", kind)
	}
	var out apiv1.List[apiv1.Identity]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/identities"), query: q}, &out)
	return result(&out, err)
}

// GetIdentity calls GET /v1/domains/{id}/identities/{principalId}: the
// identity with its groups and effective roles.
func (c *Client) GetIdentity(ctx context.Context, domainID, id string) (*apiv1.Identity, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	if err := requireID("identity id", id); err != nil {
		return nil, err
	}
	var out apiv1.Identity
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/identities/", id)}, &out)
	return result(&out, err)
}
