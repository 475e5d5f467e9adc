package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// TopologyOptions select a page of a Domain's mesh topology: the edges
// of one node only (NodeID), and the page (Cursor, Limit: the server's
// default when 0, clamped to 1..4000).
type TopologyOptions struct {
	NodeID string
	ListOptions
}

// GetMeshTopology calls GET /v1/domains/{domainId}/mesh/topology: every
// live node of the Domain, the counts of the selected edges, and one page
// of the directed edges with their mode, relay and status (NextCursor
// names the next page).
func (c *Client) GetMeshTopology(ctx context.Context, domainID string, opts TopologyOptions) (*apiv1.MeshTopology, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	q := opts.values()
	if opts.NodeID != "" {
		q.Set("node_id", opts.NodeID)
	}
	var out apiv1.MeshTopology
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/mesh/topology"), query: q}, &out)
	return result(&out, err)
}

// MeshTopologyAll reads every page of the topology opts selects (from
// opts.Cursor on) into one: the first page's nodes and summary, every
// page's edges, no NextCursor.
func (c *Client) MeshTopologyAll(ctx context.Context, domainID string, opts TopologyOptions) (*apiv1.MeshTopology, error) {
	var all *apiv1.MeshTopology
	seen := map[string]bool{}
	for {
		t, err := c.GetMeshTopology(ctx, domainID, opts)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = t
		} else {
			all.Edges = append(all.Edges, t.Edges...)
		}
		if t.NextCursor == "" {
			all.NextCursor = ""
			return all, nil
		}
		if seen[t.NextCursor] {
			return nil, ErrCursorLoop
		}
		seen[t.NextCursor] = true
		opts.Cursor = t.NextCursor
	}
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
