package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// RotateNodeKeys calls POST /v1/nodes/{id}/keys/rotate: a WireGuard key
// rotation of the node is recorded as pending (or the pending one is
// answered, AlreadyPending).
func (c *Client) RotateNodeKeys(ctx context.Context, nodeID string) (*apiv1.RotationTrigger, error) {
	if err := requireID("node id", nodeID); err != nil {
		return nil, err
	}
	var out apiv1.RotationTrigger
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/nodes/", nodeID, "/keys/rotate")}, &out)
	return result(&out, err)
}

// PreviewNodeKeyRotation calls GET /v1/nodes/{id}/keys/rotate/preview: what
// a rotation of the node's key would touch.
func (c *Client) PreviewNodeKeyRotation(ctx context.Context, nodeID string) (*apiv1.RotationPreview, error) {
	if err := requireID("node id", nodeID); err != nil {
		return nil, err
	}
	var out apiv1.RotationPreview
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/nodes/", nodeID, "/keys/rotate/preview")}, &out)
	return result(&out, err)
}
