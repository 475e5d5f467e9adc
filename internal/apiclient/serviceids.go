package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListServiceIdentities calls GET /v1/domains/{id}/service-identities for
// one page.
func (c *Client) ListServiceIdentities(ctx context.Context, domainID string, opts ListOptions) (*apiv1.List[apiv1.ServiceIdentity], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.ServiceIdentity]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/service-identities"),
		query: opts.values()}, &out)
	return result(&out, err)
}

// GetServiceIdentity calls GET /v1/domains/{id}/service-identities/{service_identity_id}.
func (c *Client) GetServiceIdentity(ctx context.Context, domainID, id string) (*apiv1.ServiceIdentity, error) {
	p, err := serviceIdentityPath(domainID, id)
	if err != nil {
		return nil, err
	}
	var out apiv1.ServiceIdentity
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// CreateServiceIdentity calls POST /v1/domains/{id}/service-identities.
func (c *Client) CreateServiceIdentity(ctx context.Context, domainID string, in apiv1.CreateServiceIdentity) (*apiv1.ServiceIdentity, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.ServiceIdentity
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/service-identities"),
		body: in}, &out)
	return result(&out, err)
}

// UpdateServiceIdentity calls PATCH …/service-identities/{service_identity_id}
// with the fields set in in; disabling revokes the identity's tokens.
func (c *Client) UpdateServiceIdentity(ctx context.Context, domainID, id string, in apiv1.PatchServiceIdentity) (*apiv1.ServiceIdentity, error) {
	p, err := serviceIdentityPath(domainID, id)
	if err != nil {
		return nil, err
	}
	var out apiv1.ServiceIdentity
	err = c.do(ctx, request{method: http.MethodPatch, path: p, body: in}, &out)
	return result(&out, err)
}

// DeleteServiceIdentity calls DELETE …/service-identities/{service_identity_id};
// the identity's tokens and tuples go with it.
func (c *Client) DeleteServiceIdentity(ctx context.Context, domainID, id string) error {
	p, err := serviceIdentityPath(domainID, id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: p}, nil)
}

func serviceIdentityPath(domainID, id string) (string, error) {
	if err := requireID("domain id", domainID); err != nil {
		return "", err
	}
	if err := requireID("service identity id", id); err != nil {
		return "", err
	}
	return pathf("/v1/domains/", domainID, "/service-identities/", id), nil
}
