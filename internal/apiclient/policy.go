package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// policiesPath is /v1/projects/{project_id}/policies.
func policiesPath(projectID string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	return pathf("/v1/projects/", projectID, "/policies"), nil
}

// policyPath is /v1/projects/{project_id}/policies/{policy_id} followed by
// suffix: literal parts and escaped parameters alternating, as in pathf.
func policyPath(projectID, policyID string, suffix ...string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	if err := requireID("policy id", policyID); err != nil {
		return "", err
	}
	return pathf(append([]string{"/v1/projects/", projectID, "/policies/", policyID}, suffix...)...), nil
}

// ListPolicies calls GET /v1/projects/{project_id}/policies for one page
// (by slug; entries carry no head).
func (c *Client) ListPolicies(ctx context.Context, projectID string, opts ListOptions) (*apiv1.List[apiv1.NetworkPolicy], error) {
	p, err := policiesPath(projectID)
	if err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.NetworkPolicy]
	err = c.do(ctx, request{method: http.MethodGet, path: p, query: opts.values()}, &out)
	return result(&out, err)
}

// CreatePolicy calls POST /v1/projects/{project_id}/policies.
func (c *Client) CreatePolicy(ctx context.Context, projectID string, in apiv1.PolicyCreateRequest) (*apiv1.NetworkPolicy, error) {
	p, err := policiesPath(projectID)
	if err != nil {
		return nil, err
	}
	var out apiv1.NetworkPolicy
	err = c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out)
	return result(&out, err)
}

// GetPolicy calls GET /v1/projects/{project_id}/policies/{policy_id}: the
// Policy with its head revision.
func (c *Client) GetPolicy(ctx context.Context, projectID, policyID string) (*apiv1.NetworkPolicy, error) {
	p, err := policyPath(projectID, policyID)
	if err != nil {
		return nil, err
	}
	var out apiv1.NetworkPolicy
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// UpdatePolicy calls PATCH /v1/projects/{project_id}/policies/{policy_id}:
// a new revision; with ExpectedRevisionID a moved head is 409
// revision_conflict.
func (c *Client) UpdatePolicy(ctx context.Context, projectID, policyID string, in apiv1.PolicyUpdateRequest) (*apiv1.NetworkPolicy, error) {
	p, err := policyPath(projectID, policyID)
	if err != nil {
		return nil, err
	}
	var out apiv1.NetworkPolicy
	err = c.do(ctx, request{method: http.MethodPatch, path: p, body: in}, &out)
	return result(&out, err)
}

// DeletePolicy calls DELETE /v1/projects/{project_id}/policies/{policy_id}.
func (c *Client) DeletePolicy(ctx context.Context, projectID, policyID string) error {
	p, err := policyPath(projectID, policyID)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// ListPolicyRevisions calls GET …/policies/{policy_id}/revisions for one
// page, newest first.
func (c *Client) ListPolicyRevisions(ctx context.Context, projectID, policyID string, opts ListOptions) (*apiv1.List[apiv1.PolicyRevision], error) {
	p, err := policyPath(projectID, policyID, "/revisions")
	if err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.PolicyRevision]
	err = c.do(ctx, request{method: http.MethodGet, path: p, query: opts.values()}, &out)
	return result(&out, err)
}

// GetPolicyRevision calls GET …/policies/{policy_id}/revisions/{revision_id}.
func (c *Client) GetPolicyRevision(ctx context.Context, projectID, policyID, revisionID string) (*apiv1.PolicyRevision, error) {
	if err := requireID("revision id", revisionID); err != nil {
		return nil, err
	}
	p, err := policyPath(projectID, policyID, "/revisions/", revisionID)
	if err != nil {
		return nil, err
	}
	var out apiv1.PolicyRevision
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// DiffPolicyRevisions calls GET …/policies/{policy_id}/diff.
func (c *Client) DiffPolicyRevisions(ctx context.Context, projectID, policyID, from, to string) (*apiv1.PolicyDiff, error) {
	if err := requireID("from revision", from); err != nil {
		return nil, err
	}
	if err := requireID("to revision", to); err != nil {
		return nil, err
	}
	p, err := policyPath(projectID, policyID, "/diff")
	if err != nil {
		return nil, err
	}
	var out apiv1.PolicyDiff
	q := url.Values{"from_revision": {from}, "to_revision": {to}}
	err = c.do(ctx, request{method: http.MethodGet, path: p, query: q}, &out)
	return result(&out, err)
}

// DryRunPolicy calls POST …/policies/{policy_id}/dry-run: what the
// candidate would change, and its tests' results; nothing is saved.
func (c *Client) DryRunPolicy(ctx context.Context, projectID, policyID string, in apiv1.PolicyDryRunRequest) (*apiv1.PolicyDryRunResponse, error) {
	p, err := policyPath(projectID, policyID, "/dry-run")
	if err != nil {
		return nil, err
	}
	var out apiv1.PolicyDryRunResponse
	err = c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out)
	return result(&out, err)
}

// PolicyDefault is the body and answer of the Domain default operations:
// "deny" (new Domains) or "allow" (the allow-all bootstrap mode).
type PolicyDefault struct {
	PolicyDefault string `json:"policy_default"`
}

// GetPolicyDefault calls GET /v1/domains/{domainId}/policy-default.
func (c *Client) GetPolicyDefault(ctx context.Context, domainID string) (*PolicyDefault, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out PolicyDefault
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/policy-default")}, &out)
	return result(&out, err)
}

// SetPolicyDefault calls PUT /v1/domains/{domainId}/policy-default.
func (c *Client) SetPolicyDefault(ctx context.Context, domainID, mode string) (*PolicyDefault, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out PolicyDefault
	err := c.do(ctx, request{method: http.MethodPut, path: pathf("/v1/domains/", domainID, "/policy-default"),
		body: PolicyDefault{PolicyDefault: mode}}, &out)
	return result(&out, err)
}
