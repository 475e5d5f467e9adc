package apiclient

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// secretsPath is /v1/projects/{project_id}/secrets.
func secretsPath(projectID string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	return pathf("/v1/projects/", projectID, "/secrets"), nil
}

// secretPath is /v1/projects/{project_id}/secrets/{name} followed by
// suffix: literal parts and escaped parameters alternating, as in pathf.
func secretPath(projectID, name string, suffix ...string) (string, error) {
	if err := requireID("project id", projectID); err != nil {
		return "", err
	}
	if err := requireID("secret name", name); err != nil {
		return "", err
	}
	return pathf(append([]string{"/v1/projects/", projectID, "/secrets/", name}, suffix...)...), nil
}

// ListSecrets calls GET /v1/projects/{project_id}/secrets for one page:
// names and current versions, never values.
func (c *Client) ListSecrets(ctx context.Context, projectID string, opts ListOptions) (*apiv1.List[apiv1.SecretSummary], error) {
	p, err := secretsPath(projectID)
	if err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.SecretSummary]
	err = c.do(ctx, request{method: http.MethodGet, path: p, query: opts.values()}, &out)
	return result(&out, err)
}

// PutSecret calls PUT /v1/projects/{project_id}/secrets/{name}: value
// (sent base64-encoded) becomes the secret's next version. With
// expectedVersion (0: the secret must not exist yet) a secret at another
// version is 409 secret_version_conflict.
func (c *Client) PutSecret(ctx context.Context, projectID, name string, value []byte, expectedVersion *int64) (*apiv1.SecretWriteResult, error) {
	p, err := secretPath(projectID, name)
	if err != nil {
		return nil, err
	}
	in := apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString(value), ExpectedVersion: expectedVersion}
	var out apiv1.SecretWriteResult
	err = c.do(ctx, request{method: http.MethodPut, path: p, body: in}, &out)
	return result(&out, err)
}

// GetSecret calls GET /v1/projects/{project_id}/secrets/{name}: the
// secret's metadata (never its value).
func (c *Client) GetSecret(ctx context.Context, projectID, name string) (*apiv1.Secret, error) {
	p, err := secretPath(projectID, name)
	if err != nil {
		return nil, err
	}
	var out apiv1.Secret
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// DeleteSecret calls DELETE /v1/projects/{project_id}/secrets/{name}:
// every version and every binding of the secret go.
func (c *Client) DeleteSecret(ctx context.Context, projectID, name string) error {
	p, err := secretPath(projectID, name)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// ListSecretVersions calls GET …/secrets/{name}/versions: the version
// history, without values.
func (c *Client) ListSecretVersions(ctx context.Context, projectID, name string) (*apiv1.List[apiv1.SecretVersion], error) {
	p, err := secretPath(projectID, name, "/versions")
	if err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.SecretVersion]
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// RevealedSecret is a value read back with RevealSecret. Value is the
// decoded bytes; as JSON it is standard base64, the wire form
// (apiv1.SecretReveal).
type RevealedSecret struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Value   []byte `json:"value"`
}

// RevealSecret calls POST …/secrets/{name}/reveal: the value of version
// (the current one when 0). The operation is sensitive: a browser session
// needs a recent step-up, a bearer token passes.
func (c *Client) RevealSecret(ctx context.Context, projectID, name string, version int64) (*RevealedSecret, error) {
	p, err := secretPath(projectID, name, "/reveal")
	if err != nil {
		return nil, err
	}
	var out apiv1.SecretReveal
	if err := c.do(ctx, request{method: http.MethodPost, path: p, body: apiv1.SecretRevealRequest{Version: version}}, &out); err != nil {
		return nil, err
	}
	v, err := base64.StdEncoding.DecodeString(out.Value)
	if err != nil {
		return nil, fmt.Errorf("apiclient: POST %s: value is not standard base64: %w", p, err)
	}
	return &RevealedSecret{Name: out.Name, Version: out.Version, Value: v}, nil
}

// ListSecretBindings calls GET …/secrets/{name}/bindings: which nodes
// receive the secret, with each binding's matched node count.
func (c *Client) ListSecretBindings(ctx context.Context, projectID, name string) (*apiv1.List[apiv1.SecretBinding], error) {
	p, err := secretPath(projectID, name, "/bindings")
	if err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.SecretBinding]
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// CreateSecretBinding calls POST …/secrets/{name}/bindings: deliver the
// secret to a node, or to the nodes a selector matches.
func (c *Client) CreateSecretBinding(ctx context.Context, projectID, name string, in apiv1.SecretBindingRequest) (*apiv1.SecretBinding, error) {
	p, err := secretPath(projectID, name, "/bindings")
	if err != nil {
		return nil, err
	}
	var out apiv1.SecretBinding
	err = c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out)
	return result(&out, err)
}

// DeleteSecretBinding calls DELETE …/secrets/{name}/bindings/{binding_id}.
func (c *Client) DeleteSecretBinding(ctx context.Context, projectID, name, bindingID string) error {
	if err := requireID("binding id", bindingID); err != nil {
		return err
	}
	p, err := secretPath(projectID, name, "/bindings/", bindingID)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: p}, nil)
}
