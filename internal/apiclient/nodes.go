package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListNodes calls GET /v1/nodes for one page; domainID, when set, filters
// by Domain.
func (c *Client) ListNodes(ctx context.Context, domainID string, opts ListOptions) (*apiv1.List[apiv1.NodeSummary], error) {
	q := opts.values()
	if domainID != "" {
		q.Set("domain_id", domainID)
	}
	var out apiv1.List[apiv1.NodeSummary]
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/nodes", query: q}, &out)
	return result(&out, err)
}

// GetNode calls GET /v1/nodes/{id}: the full read model, with mesh IP and
// reachability.
func (c *Client) GetNode(ctx context.Context, id string) (*apiv1.Node, error) {
	return getByID[apiv1.Node](ctx, c, "node id", "/v1/nodes/", id)
}

// DeleteNode calls DELETE /v1/nodes/{id}: the node is decommissioned, its
// NSK revoked and its mesh IP freed.
func (c *Client) DeleteNode(ctx context.Context, id string) error {
	return deleteByID(ctx, c, "node id", "/v1/nodes/", id)
}
