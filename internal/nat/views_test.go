package nat_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestTopologyAndReachability: the topology lists every live node and
// every directed edge (relayed with its relay node, direct with null),
// and a node's reachability carries the per-peer paths it reported, for
// the operator and for the node itself.
func TestTopologyAndReachability(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newRelayWorld(t, b)
			e := w.e
			w.setRelay(t, w.res1, true, 200)
			report(t, e, w.y, `{"public_endpoint":"198.51.100.3:51820","nat_type":"full_cone"}`, 200)
			report(t, e, w.x, map[string]any{"endpoint": "198.51.100.2:51820", "nat_type": "symmetric",
				"reported_at": time.Now().UTC()}, 200)
			hs := time.Now().UTC().Add(-10 * time.Second).Truncate(time.Second)
			heartbeat(t, e, w.x, map[string]any{"mesh": map[string]any{"peers": []map[string]any{
				{"peer_id": w.y.ID, "path": "relayed", "endpoint": w.relay1, "last_handshake": hs, "rtt_ms": 12.5,
					"rx_bytes": 1, "tx_bytes": 2},
				{"peer_id": w.br1.ID, "path": "direct", "endpoint": "203.0.113.10:51820", "rx_bytes": 1, "tx_bytes": 2},
			}}})

			st, raw := e.Do(t, "GET", "/v1/domains/"+w.fx.Domain.ID+"/mesh/topology", nil, nil)
			if st != 200 {
				t.Fatalf("topology: %d %s", st, raw)
			}
			var doc map[string]any
			json.Unmarshal(raw, &doc)
			for _, k := range []string{"domain_id", "generated_at", "nodes", "edges"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("topology lacks %s", k)
				}
			}
			var topo apiv1.MeshTopology
			if err := json.Unmarshal(raw, &topo); err != nil {
				t.Fatal(err)
			}
			if topo.DomainID != w.fx.Domain.ID || len(topo.Nodes) != 4 || len(topo.Edges) != 12 {
				t.Fatalf("topology: %d nodes, %d edges: %s", len(topo.Nodes), len(topo.Edges), raw)
			}
			edges := map[[2]string]apiv1.MeshEdge{}
			for _, ed := range topo.Edges {
				edges[[2]string{ed.SourceNodeID, ed.TargetNodeID}] = ed
			}
			xy := edges[[2]string{w.x.ID, w.y.ID}]
			if xy.Mode != "relayed" || xy.RelayNodeID == nil || *xy.RelayNodeID != w.br1.ID || xy.Status != "healthy" {
				t.Errorf("x→y edge %+v", xy)
			}
			if yx := edges[[2]string{w.y.ID, w.x.ID}]; yx.Mode != "relayed" || yx.Status != "never_reported" {
				t.Errorf("y→x edge %+v", yx)
			}
			if xb := edges[[2]string{w.x.ID, w.br1.ID}]; xb.Mode != "direct" || xb.RelayNodeID != nil || xb.Status != "healthy" {
				t.Errorf("x→bridge edge %+v", xb)
			}
			for _, n := range topo.Nodes {
				if n.NodeID == w.x.ID && (n.Reachability != "healthy" || n.MeshIP != w.x.MeshIP) {
					t.Errorf("x in topology: %+v", n)
				}
			}
			if st, _ := e.Do(t, "GET", "/v1/domains/"+w.fx.Domain.ID+"/mesh/topology", nil, nil); st != 200 {
				t.Errorf("second read %d", st)
			}
			_, uTok := e.NewUser(t, "stranger")
			if st, _ := e.DoAs(t, uTok, "GET", "/v1/domains/"+w.fx.Domain.ID+"/mesh/topology", nil, nil); st != 403 && st != 404 {
				t.Errorf("a stranger reads the topology: %d", st)
			}

			for _, bearer := range []string{w.x.NSK} {
				st, raw := call(t, e, bearer, http.MethodGet, "/v1/nodes/"+w.x.ID+"/reachability", nil, 2)
				if st != 200 {
					t.Fatalf("reachability: %d %s", st, raw)
				}
				var r apiv1.NodeReachabilityPeers
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				if r.State != "healthy" || len(r.Peers) != 2 {
					t.Fatalf("reachability %s", raw)
				}
				for _, p := range r.Peers {
					if p.PeerID == w.y.ID && (p.Path != "relayed" || p.RTTMillis != 12.5 || p.Endpoint != w.relay1 ||
						p.LastHandshake == nil || !p.LastHandshake.Equal(hs)) {
						t.Errorf("peer y: %+v", p)
					}
				}
			}
			// A node without reports: peers is [] (never null).
			st, raw = call(t, e, w.y.NSK, http.MethodGet, "/v1/nodes/"+w.y.ID+"/reachability", nil, 1)
			if st != 200 || !json.Valid(raw) || !strings.Contains(string(raw), `"peers":[]`) {
				t.Errorf("reachability without reports: %d %s", st, raw)
			}
		})
	}
}
