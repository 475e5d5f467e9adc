package plexctl

import (
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// Issue 9 views: the mesh topology and a node's reachability from the
// operator's side, and a bridge's relay configuration, against the real
// control plane.
func TestMeshCommands(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l := newLive(t, b)
			d, p := l.project("meshviews", "100.73.0.0/16")
			var tok apiv1.IssuedBootstrapToken
			l.ok(&tok, "-o", "json", "bootstrap-tokens", "create", "--project", p, "--env", "prod", "--max-uses", "2")
			n1, ip1 := l.register(tok.Token, "web-1")
			n2, ip2 := l.register(tok.Token, "web-2")

			var topo apiv1.MeshTopology
			l.ok(&topo, "-o", "json", "mesh", "topology", "--domain", d)
			if topo.DomainID != d || len(topo.Nodes) != 2 {
				t.Fatalf("mesh topology -o json: %+v", topo)
			}
			ips := map[string]string{}
			for _, n := range topo.Nodes {
				ips[n.NodeID] = n.MeshIP
			}
			if ips[n1] != ip1 || ips[n2] != ip2 {
				t.Fatalf("topology nodes %v, want %s=%s %s=%s", ips, n1, ip1, n2, ip2)
			}
			r := l.ok(nil, "mesh", "topology", "--domain", d)
			for _, want := range []string{"MESH IP", "REACHABILITY", "SOURCE", "MODE", n1, ip2} {
				if !strings.Contains(r.stdout, want) {
					t.Fatalf("mesh topology lacks %q:\n%s", want, r.stdout)
				}
			}
			if r := l.run("mesh", "topology"); r.code != ExitUsage || !strings.Contains(r.stderr, "domain") {
				t.Fatalf("mesh topology without --domain: %d %q", r.code, r.stderr)
			}

			// The edges in pages: --limit fetches one page and names the
			// next; --cursor continues; --node keeps one node's edges;
			// --summary prints the counts only.
			var sum apiv1.MeshTopologySummary
			l.ok(&sum, "-o", "json", "mesh", "topology", "--domain", d, "--summary")
			if sum != (apiv1.MeshTopologySummary{Nodes: 2, Edges: 2, Direct: 2, NeverReported: 2}) {
				t.Fatalf("mesh topology --summary: %+v", sum)
			}
			r = l.ok(nil, "mesh", "topology", "--domain", d, "--summary")
			if !strings.Contains(r.stdout, "Never reported:") || !strings.Contains(r.stdout, "Edges:") {
				t.Fatalf("mesh topology --summary:\n%s", r.stdout)
			}
			var p1, p2 apiv1.MeshTopology
			l.ok(&p1, "-o", "json", "mesh", "topology", "--domain", d, "--limit", "1")
			if len(p1.Edges) != 1 || p1.NextCursor == "" || len(p1.Nodes) != 2 {
				t.Fatalf("mesh topology --limit 1: %+v", p1)
			}
			l.ok(&p2, "-o", "json", "mesh", "topology", "--domain", d, "--cursor", p1.NextCursor)
			if len(p2.Edges) != 1 || p2.NextCursor != "" || p2.Edges[0] == p1.Edges[0] {
				t.Fatalf("mesh topology --cursor: %+v after %+v", p2, p1)
			}
			if r := l.ok(nil, "mesh", "topology", "--domain", d, "--limit", "1"); !strings.Contains(r.stderr, "--cursor ") ||
				!strings.Contains(r.stderr, "1 of 2 edges") {
				t.Fatalf("mesh topology --limit 1 does not name the next page: %q", r.stderr)
			}
			var one apiv1.MeshTopology
			l.ok(&one, "-o", "json", "mesh", "topology", "--domain", d, "--node", n2)
			if len(one.Edges) != 2 || one.Summary.Edges != 2 {
				t.Fatalf("mesh topology --node: %+v", one)
			}
			if r := l.run("mesh", "topology", "--domain", d, "--limit", "-1"); r.code != ExitUsage {
				t.Fatalf("--limit -1: %d %q", r.code, r.stderr)
			}

			// No node has reported a path yet: n1's one edge (to n2) is
			// there, never reported.
			var edges []apiv1.MeshEdge
			l.ok(&edges, "-o", "json", "nodes", "reachability", n1)
			if len(edges) != 1 || edges[0].SourceNodeID != n1 || edges[0].TargetNodeID != n2 ||
				edges[0].Status != apiv1.EdgeNeverReported || edges[0].RelayNodeID != nil {
				t.Fatalf("nodes reachability -o json before any report: %+v", edges)
			}
			r = l.ok(nil, "nodes", "reachability", n1)
			if !strings.Contains(r.stdout, n2) || strings.Contains(r.stdout, "SOURCE") || !strings.Contains(r.stdout, "never_reported") {
				t.Fatalf("nodes reachability:\n%s", r.stdout)
			}
			if r := l.run("nodes", "reachability", "0190c0de-0000-7000-8000-00000000dead"); r.code == ExitOK {
				t.Fatalf("reachability of an unknown node succeeded: %s", r.stdout)
			}

			// A bridge relay on a Resource that is not a bridge is refused
			// with the contract's code; flags are checked before any call.
			var node apiv1.Node
			l.ok(&node, "-o", "json", "nodes", "get", n1)
			if r := l.run("bridges", "relay", "set", "--project", p, "--enable", "--port", "3480", node.ResourceID); r.code == ExitOK ||
				!strings.Contains(r.stderr, "resource_not_bridge") {
				t.Fatalf("relay on a non-bridge: %d %q", r.code, r.stderr)
			}
			if r := l.run("bridges", "relay", "set", "--project", p, "--enable", "--disable", "--port", "3480", node.ResourceID); r.code != ExitUsage {
				t.Fatalf("--enable with --disable: %d %q", r.code, r.stderr)
			}
			if r := l.run("bridges", "relay", "set", "--project", p, "--enable", "--port", "70000", node.ResourceID); r.code != ExitUsage {
				t.Fatalf("--port 70000: %d %q", r.code, r.stderr)
			}

			var res apiv1.Resource
			l.ok(&res, "-o", "json", "resources", "create", "--project", p, "--kind", "bridge", "--external-ref", "edge-1")
			var relay apiv1.BridgeRelayResponse
			l.ok(&relay, "-o", "json", "bridges", "relay", "set", "--project", p, "--enable", "--port", "3480", res.ID)
			if !relay.Enabled || relay.ListenPort != 3480 || relay.ResourceID != res.ID {
				t.Fatalf("relay set: %+v", relay)
			}
			r = l.ok(nil, "bridges", "relay", "get", "--project", p, res.ID)
			if !strings.Contains(r.stdout, "Listen port:") || !strings.Contains(r.stdout, "3480") {
				t.Fatalf("relay get:\n%s", r.stdout)
			}
		})
	}
}
