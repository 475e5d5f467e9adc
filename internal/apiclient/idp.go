package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListIdPBindings calls GET /v1/admin/idp: the IdP bindings the caller may
// manage, of one Domain when domainID is set. The contract answers a bare
// JSON array (not paginated); the {items} envelope of older servers is
// accepted too, its first page only.
func (c *Client) ListIdPBindings(ctx context.Context, domainID string) ([]apiv1.IdPBinding, error) {
	r := request{method: http.MethodGet, path: "/v1/admin/idp"}
	if domainID != "" {
		r.query = url.Values{"domain_id": {domainID}}
	}
	var raw json.RawMessage
	if err := c.do(ctx, r, &raw); err != nil {
		return nil, err
	}
	items, err := decodeArray[apiv1.IdPBinding](raw)
	if err != nil {
		return nil, fmt.Errorf("apiclient: GET /v1/admin/idp: decode response: %w", err)
	}
	return items, nil
}

// decodeArray decodes a bare JSON array, or the items of a list envelope.
func decodeArray[T any](raw json.RawMessage) ([]T, error) {
	items := []T{}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var env apiv1.List[T]
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, err
		}
		if env.Items != nil {
			items = env.Items
		}
		return items, nil
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	if items == nil { // a JSON null
		items = []T{}
	}
	return items, nil
}

// GetIdPBinding calls GET /v1/admin/idp/{id}.
func (c *Client) GetIdPBinding(ctx context.Context, id string) (*apiv1.IdPBinding, error) {
	return getByID[apiv1.IdPBinding](ctx, c, "IdP binding id", "/v1/admin/idp/", id)
}

// CreateIdPBinding calls POST /v1/admin/idp. An inline client secret in
// in.ClientSecret is stored sealed by the server and never returned.
func (c *Client) CreateIdPBinding(ctx context.Context, in apiv1.CreateIdPBinding) (*apiv1.IdPBinding, error) {
	var out apiv1.IdPBinding
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/idp", body: in}, &out)
	return result(&out, err)
}

// DeleteIdPBinding calls DELETE /v1/admin/idp/{id}; the binding's sessions
// end.
func (c *Client) DeleteIdPBinding(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "IdP binding id", "/v1/admin/idp/", id)
}
