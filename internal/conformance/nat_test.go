package conformance

import (
	"testing"
	"time"
)

// Endpoints, topology and bridge relays (issue 9), from the contract's
// EndpointResponse, MeshTopology (MeshTopologyNode, MeshEdge) and
// BridgeRelayResponse.
var (
	endpointResponse = object(req("accepted_at", dateTime), req("stale_after", dateTime))
	meshTopologyNode = object(req("node_id", str), req("mesh_ip", str),
		req("reachability", enum("healthy", "stale", "unreachable")))
	meshEdge = object(req("source_node_id", str), req("target_node_id", str), req("mode", enum("direct", "relayed")),
		req("relay_node_id", orNull(str)), req("status", enum("healthy", "stale", "unreachable", "never_reported")))
	meshTopology = object(req("domain_id", str), req("generated_at", dateTime), req("nodes", arrayOf(meshTopologyNode)),
		req("edges", arrayOf(meshEdge)))
	bridgeRelayResponse = object(req("resource_id", str), req("enabled", boolean), req("listen_port", integer),
		req("created_at", dateTime), req("updated_at", dateTime))
)

// nat covers PUT …/endpoint in the contract's form and its clock-skew
// refusal, the Domain topology, and a bridge Resource's relay.
func (c *client) nat(t *testing.T, w *world) {
	n := w.nodes[0]
	t.Run("PutNodeEndpoint", func(t *testing.T) {
		c.okAs(t, n.nsk, "PUT", "/v1/nodes/"+n.id+"/endpoint", map[string]any{"endpoint": "198.51.100.7:51820",
			"nat_type": "port_restricted", "reported_at": time.Now().UTC().Format(time.RFC3339)}, endpointResponse)
		c.problem(t, n.nsk, "PUT", "/v1/nodes/"+n.id+"/endpoint", map[string]any{"endpoint": "198.51.100.7:51820",
			"nat_type": "full_cone", "reported_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 400, "endpoint_clock_skew")
	})
	t.Run("GetDomainMeshTopology", func(t *testing.T) {
		topo := c.ok(t, "GET", "/v1/domains/"+w.domainID+"/mesh/topology", nil, meshTopology)
		if edges, _ := topo["edges"].([]any); topo != nil && len(edges) < 2 {
			t.Errorf("GetDomainMeshTopology: %d edges between the registered nodes", len(edges))
		}
	})
	t.Run("BridgeRelay", func(t *testing.T) {
		res := c.ok(t, "POST", "/v1/projects/"+w.projectID+"/resources", map[string]any{"kind": "bridge", "origin": "adopted"},
			resourceResponse)
		rid := str0(res, "id")
		if rid == "" {
			t.Fatal("no bridge Resource")
		}
		path := "/v1/projects/" + w.projectID + "/resources/" + rid + "/bridge/relay"
		c.ok(t, "PUT", path, map[string]any{"enabled": true, "listen_port": 51821}, bridgeRelayResponse)
		if got := c.ok(t, "GET", path, nil, bridgeRelayResponse); got != nil && got["listen_port"] != float64(51821) {
			t.Errorf("GetBridgeRelay: %v", got)
		}
		c.problem(t, c.env.Token, "PUT", path, map[string]any{"enabled": true, "listen_port": 0}, 400, "relay_port_out_of_range")
		if st, raw := c.call(t, c.env.Token, "DELETE", "/v1/resources/"+rid, nil); st != 204 {
			t.Errorf("delete the bridge Resource: %d %s", st, raw)
		}
	})
}
