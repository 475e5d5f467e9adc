package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListDomains calls GET /v1/domains for one page.
func (c *Client) ListDomains(ctx context.Context, opts ListOptions) (*apiv1.List[apiv1.Domain], error) {
	var out apiv1.List[apiv1.Domain]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/domains", query: opts.values()}, &out)
	return result(&out, err)
}

// GetDomain calls GET /v1/domains/{id}.
func (c *Client) GetDomain(ctx context.Context, id string) (*apiv1.Domain, error) {
	return getByID[apiv1.Domain](ctx, c, "domain id", "/v1/domains/", id)
}

// CreateDomain calls POST /v1/domains.
func (c *Client) CreateDomain(ctx context.Context, in apiv1.CreateDomain) (*apiv1.Domain, error) {
	var out apiv1.Domain
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/domains", body: in}, &out)
	return result(&out, err)
}

// UpdateDomain calls PATCH /v1/domains/{id} with the fields set in in.
func (c *Client) UpdateDomain(ctx context.Context, id string, in apiv1.PatchDomain) (*apiv1.Domain, error) {
	if err := requireID("domain id", id); err != nil {
		return nil, err
	}
	var out apiv1.Domain
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/domains/", id), body: in}, &out)
	return result(&out, err)
}

// DeleteDomain calls DELETE /v1/domains/{id}.
func (c *Client) DeleteDomain(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "domain id", "/v1/domains/", id)
}

// ListProjects calls GET /v1/projects for one page; domainID, when set,
// filters by Domain.
func (c *Client) ListProjects(ctx context.Context, domainID string, opts ListOptions) (*apiv1.List[apiv1.Project], error) {
	q := opts.values()
	if domainID != "" {
		q.Set("domain_id", domainID)
	}
	var out apiv1.List[apiv1.Project]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/projects", query: q}, &out)
	return result(&out, err)
}

// GetProject calls GET /v1/projects/{id}.
func (c *Client) GetProject(ctx context.Context, id string) (*apiv1.Project, error) {
	return getByID[apiv1.Project](ctx, c, "project id", "/v1/projects/", id)
}

// CreateProject calls POST /v1/projects.
func (c *Client) CreateProject(ctx context.Context, in apiv1.CreateProject) (*apiv1.Project, error) {
	var out apiv1.Project
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/projects", body: in}, &out)
	return result(&out, err)
}

// UpdateProject calls PATCH /v1/projects/{id} with the fields set in in.
func (c *Client) UpdateProject(ctx context.Context, id string, in apiv1.PatchProject) (*apiv1.Project, error) {
	if err := requireID("project id", id); err != nil {
		return nil, err
	}
	var out apiv1.Project
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/projects/", id), body: in}, &out)
	return result(&out, err)
}

// DeleteProject calls DELETE /v1/projects/{id}.
func (c *Client) DeleteProject(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "project id", "/v1/projects/", id)
}

// ListResources calls GET /v1/projects/{project_id}/resources for one page.
func (c *Client) ListResources(ctx context.Context, projectID string, opts ListOptions) (*apiv1.List[apiv1.Resource], error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.Resource]
	r := request{method: http.MethodGet, path: pathf("/v1/projects/", projectID, "/resources"), query: opts.values()}
	err := c.do(ctx, r, &out)
	return result(&out, err)
}

// CreateResource calls POST /v1/projects/{project_id}/resources. An adopted
// Resource answers 201, a provisioned one 202; both return the Resource.
func (c *Client) CreateResource(ctx context.Context, projectID string, in apiv1.CreateResource) (*apiv1.Resource, error) {
	if err := requireID("project id", projectID); err != nil {
		return nil, err
	}
	var out apiv1.Resource
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/projects/", projectID, "/resources"), body: in}, &out)
	return result(&out, err)
}

// GetResource calls GET /v1/resources/{id}.
func (c *Client) GetResource(ctx context.Context, id string) (*apiv1.Resource, error) {
	return getByID[apiv1.Resource](ctx, c, "resource id", "/v1/resources/", id)
}

// DeleteResource calls DELETE /v1/resources/{id} (204 deleted, 202 teardown
// started).
func (c *Client) DeleteResource(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "resource id", "/v1/resources/", id)
}

func getByID[T any](ctx context.Context, c *Client, what, prefix, id string) (*T, error) {
	if err := requireID(what, id); err != nil {
		return nil, err
	}
	var out T
	err := c.do(ctx, request{method: http.MethodGet, path: pathf(prefix, id)}, &out)
	return result(&out, err)
}

func deleteByID(ctx context.Context, c *Client, what, prefix, id string) error {
	if err := requireID(what, id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: pathf(prefix, id)}, nil)
}

// ErrMissingID is wrapped by the error of a call made with an empty id.
var ErrMissingID = errors.New("id is required")

func requireID(what, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("apiclient: %s: %w", what, ErrMissingID)
	}
	return nil
}

// result returns out, or nil and err.
func result[T any](out *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}
