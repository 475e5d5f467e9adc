package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// GetMeshTopology calls GET /v1/domains/{domainId}/mesh/topology: every
// live node of the Domain and every directed edge with its mode, relay and
// status.
func (c *Client) GetMeshTopology(ctx context.Context, domainID string) (*apiv1.MeshTopology, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.MeshTopology
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/mesh/topology")}, &out)
	return result(&out, err)
}

// GetBridgeRelay calls GET /v1/projects/{project_id}/resources/{resource_id}/bridge/relay.
func (c *Client) GetBridgeRelay(ctx context.Context, projectID, resourceID string) (*apiv1.BridgeRelayResponse, error) {
	if err := requireIDs(projectID, resourceID); err != nil {
		return nil, err
	}
	var out apiv1.BridgeRelayResponse
	err := c.do(ctx, request{method: http.MethodGet, path: relayPath(projectID, resourceID)}, &out)
	return result(&out, err)
}

// ConfigureBridgeRelay calls PUT …/bridge/relay: it replaces the bridge
// Resource's relay configuration.
func (c *Client) ConfigureBridgeRelay(ctx context.Context, projectID, resourceID string, in apiv1.BridgeRelayConfigureRequest) (*apiv1.BridgeRelayResponse, error) {
	if err := requireIDs(projectID, resourceID); err != nil {
		return nil, err
	}
	var out apiv1.BridgeRelayResponse
	err := c.do(ctx, request{method: http.MethodPut, path: relayPath(projectID, resourceID), body: in}, &out)
	return result(&out, err)
}

func requireIDs(projectID, resourceID string) error {
	if err := requireID("project id", projectID); err != nil {
		return err
	}
	return requireID("resource id", resourceID)
}

func relayPath(projectID, resourceID string) string {
	return pathf("/v1/projects/", projectID, "/resources/", resourceID, "/bridge/relay")
}
