package nat_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/store"
)

// topologyGet reads one topology page and wants 200.
func topologyGet(t *testing.T, e *apptest.Env, domainID string, q url.Values) (apiv1.MeshTopology, int) {
	t.Helper()
	var topo apiv1.MeshTopology
	path := "/v1/domains/" + domainID + "/mesh/topology"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	st, raw := e.Do(t, "GET", path, nil, &topo)
	if st != 200 {
		t.Fatalf("GET %s: %d %s", path, st, raw)
	}
	return topo, len(raw)
}

// countEdges is the summary a list of edges makes.
func countEdges(nodes int, edges []apiv1.MeshEdge) apiv1.MeshTopologySummary {
	s := apiv1.MeshTopologySummary{Nodes: nodes, Edges: len(edges)}
	for _, e := range edges {
		if e.Mode == apiv1.EdgeRelayed {
			s.Relayed++
		} else {
			s.Direct++
		}
		switch e.Status {
		case apiv1.EdgeHealthy:
			s.Healthy++
		case apiv1.EdgeStale:
			s.Stale++
		case apiv1.EdgeUnreachable:
			s.Unreachable++
		default:
			s.NeverReported++
		}
	}
	return s
}

// pagesOf follows next_cursor from q and returns every page.
func pagesOf(t *testing.T, e *apptest.Env, domainID string, q url.Values) []apiv1.MeshTopology {
	t.Helper()
	var out []apiv1.MeshTopology
	for range 50 {
		p, _ := topologyGet(t, e, domainID, q)
		out = append(out, p)
		if p.NextCursor == "" {
			return out
		}
		q.Set("cursor", p.NextCursor)
	}
	t.Fatal("topology pages do not end")
	return nil
}

// TestTopologyPagesAndSummary: the topology's edges come in pages in
// (source, target) order that add up to the whole; the summary counts
// every selected edge by mode and status whatever the page; node_id keeps
// one node's edges (both directions); bad parameters are refused with
// their codes.
func TestTopologyPagesAndSummary(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newRelayWorld(t, b)
			e := w.e
			w.setRelay(t, w.res1, true, 200)
			report(t, e, w.y, `{"public_endpoint":"198.51.100.3:51820","nat_type":"full_cone"}`, 200)
			report(t, e, w.x, map[string]any{"endpoint": "198.51.100.2:51820", "nat_type": "symmetric",
				"reported_at": time.Now().UTC()}, 200)
			heartbeat(t, e, w.x, map[string]any{"mesh": map[string]any{"peers": []map[string]any{
				{"peer_id": w.y.ID, "path": "relayed", "endpoint": w.relay1, "rx_bytes": 1, "tx_bytes": 2},
				{"peer_id": w.br1.ID, "path": "direct", "endpoint": "203.0.113.10:51820", "rx_bytes": 1, "tx_bytes": 2},
			}}})
			// A stale report (y → br1) and a down one (br2 → x), stored
			// as a heartbeat would.
			ctx := context.Background()
			for _, r := range []struct {
				from, to, path string
				at             time.Time
			}{{w.y.ID, w.br1.ID, "direct", time.Now().Add(-10 * time.Minute)}, {w.br2.ID, w.x.ID, "down", time.Now()}} {
				if _, err := e.Server.DB.ExecContext(ctx, `INSERT INTO peer_paths (node_id, peer_id, path, reported_at)
					VALUES ($1, $2, $3, $4)`, r.from, r.to, r.path, store.Micros(r.at)); err != nil {
					t.Fatal(err)
				}
			}

			all, _ := topologyGet(t, e, w.fx.Domain.ID, nil)
			if len(all.Nodes) != 4 || len(all.Edges) != 12 || all.NextCursor != "" {
				t.Fatalf("default page of 4 nodes: %d nodes, %d edges, cursor %q", len(all.Nodes), len(all.Edges), all.NextCursor)
			}
			if !slices.IsSortedFunc(all.Edges, edgeCmp) || !slices.IsSortedFunc(all.Nodes, func(a, b apiv1.MeshTopologyNode) int {
				return strings.Compare(a.NodeID, b.NodeID)
			}) {
				t.Errorf("edges or nodes not in id order: %+v", all)
			}
			want := countEdges(4, all.Edges)
			if all.Summary != want {
				t.Errorf("summary %+v, the edges count %+v", all.Summary, want)
			}
			if s := all.Summary; s.Relayed < 2 || s.Relayed%2 != 0 || s.Healthy != 2 || s.Stale != 1 || s.Unreachable != 1 || s.NeverReported != 8 {
				t.Errorf("summary %+v: want both ways of x–y (at least) relayed, 2 healthy, 1 stale, 1 unreachable, 8 never reported", s)
			}

			// Pages of 5: 5 + 5 + 2, the same edges in the same order, each
			// with every node and the whole's summary.
			pages := pagesOf(t, e, w.fx.Domain.ID, url.Values{"limit": {"5"}})
			var paged []apiv1.MeshEdge
			for i, p := range pages {
				paged = append(paged, p.Edges...)
				if len(p.Nodes) != 4 || p.Summary != all.Summary {
					t.Errorf("page %d: %d nodes, summary %+v", i, len(p.Nodes), p.Summary)
				}
			}
			if len(pages) != 3 || len(pages[2].Edges) != 2 || !slices.EqualFunc(paged, all.Edges, edgeEq) {
				t.Errorf("pages of 5: %d pages, edges %+v, want %+v", len(pages), paged, all.Edges)
			}
			if one, _ := topologyGet(t, e, w.fx.Domain.ID, url.Values{"limit": {"0"}}); len(one.Edges) != 1 || one.NextCursor == "" {
				t.Errorf("limit=0 is clamped to 1: %d edges, cursor %q", len(one.Edges), one.NextCursor)
			}

			// One node's edges: from and to x, in order, counted alone.
			var ofX []apiv1.MeshEdge
			for _, ed := range all.Edges {
				if ed.SourceNodeID == w.x.ID || ed.TargetNodeID == w.x.ID {
					ofX = append(ofX, ed)
				}
			}
			x, _ := topologyGet(t, e, w.fx.Domain.ID, url.Values{"node_id": {w.x.ID}})
			if len(x.Nodes) != 4 || !slices.EqualFunc(x.Edges, ofX, edgeEq) || len(ofX) != 6 {
				t.Errorf("node_id=x: %d nodes, edges %+v, want %+v", len(x.Nodes), x.Edges, ofX)
			}
			if x.Summary != countEdges(4, ofX) || x.Summary.Healthy != 2 || x.Summary.Unreachable != 1 {
				t.Errorf("node_id=x summary %+v, want %+v", x.Summary, countEdges(4, ofX))
			}
			var xPaged []apiv1.MeshEdge
			for _, p := range pagesOf(t, e, w.fx.Domain.ID, url.Values{"node_id": {w.x.ID}, "limit": {"4"}}) {
				xPaged = append(xPaged, p.Edges...)
			}
			if !slices.EqualFunc(xPaged, ofX, edgeEq) {
				t.Errorf("node_id=x in pages of 4: %+v, want %+v", xPaged, ofX)
			}

			// Refusals.
			first, _ := topologyGet(t, e, w.fx.Domain.ID, url.Values{"limit": {"5"}})
			for _, c := range []struct {
				q    url.Values
				st   int
				code string
			}{
				{url.Values{"node_id": {"not-a-uuid"}}, 400, "invalid_node_id"},
				{url.Values{"node_id": {uuid.NewString()}}, 404, "node_not_found"},
				{url.Values{"cursor": {"garbage"}}, 400, "invalid_cursor"},
				// A cursor of the whole Domain's listing is no cursor of x's.
				{url.Values{"cursor": {first.NextCursor}, "node_id": {w.x.ID}}, 400, "invalid_cursor"},
			} {
				st, raw := e.Do(t, "GET", "/v1/domains/"+w.fx.Domain.ID+"/mesh/topology?"+c.q.Encode(), nil, nil)
				if st != c.st || !strings.Contains(string(raw), `"`+c.code+`"`) {
					t.Errorf("%v: %d %s, want %d %s", c.q, st, raw, c.st, c.code)
				}
			}
		})
	}
}

func edgeCmp(a, b apiv1.MeshEdge) int {
	if c := strings.Compare(a.SourceNodeID, b.SourceNodeID); c != 0 {
		return c
	}
	return strings.Compare(a.TargetNodeID, b.TargetNodeID)
}

func edgeEq(a, b apiv1.MeshEdge) bool {
	return edgeCmp(a, b) == 0 && a.Mode == b.Mode && a.Status == b.Status &&
		(a.RelayNodeID == nil) == (b.RelayNodeID == nil) && (a.RelayNodeID == nil || *a.RelayNodeID == *b.RelayNodeID)
}

// TestTopologyBoundedAt1000Nodes: a 1,000-node Domain (999,000 edges)
// answers with every node, one bounded page of edges and the counts of
// all of them: well under 1 MB by default and at the largest page, and a
// page continues exactly where the previous one ended.
func TestTopologyBoundedAt1000Nodes(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			fx := e.NewEnrolment(t, "big", "10.110.0.0/16", 1)
			ctx := context.Background()
			const n = 1000
			ids := make([]string, n)
			now := store.Micros(time.Now())
			err := e.Server.DB.Tx(ctx, func(tx *sql.Tx) error {
				for i := range n {
					ids[i] = uuid.Must(uuid.NewV7()).String()
					key := make([]byte, 32)
					copy(key, ids[i])
					if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind,
						name, public_key, mesh_ip, nsk_digest, nsk_sealed, labels, created_at, updated_at)
						VALUES ($1,$2,$3,$4,$5,'node',$6,$7,$8,$9,'x','{}',$10,$10)`,
						ids[i], fx.Domain.ID, fx.Project.ID, uuid.NewString(), uuid.NewString(), fmt.Sprintf("n-%04d", i),
						base64.StdEncoding.EncodeToString(key), fmt.Sprintf("10.110.%d.%d", 1+i/250, 1+i%250), "d-"+ids[i], now); err != nil {
						return err
					}
				}
				// Node 0 reports a healthy path to node 1; node 2 a down one
				// to node 0.
				if _, err := tx.ExecContext(ctx, `INSERT INTO peer_paths (node_id, peer_id, path, reported_at)
					VALUES ($1, $2, 'direct', $4), ($3, $1, 'down', $4)`, ids[0], ids[1], ids[2], now); err != nil {
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			reporter := ids[0] // reports a path and is reported down
			slices.Sort(ids)

			topologyGet(t, e, fx.Domain.ID, nil) // warm: caches, prepared reads
			began := time.Now()
			p1, size := topologyGet(t, e, fx.Domain.ID, nil)
			took := time.Since(began)
			t.Logf("%s: 1,000-node topology, default page: %d bytes, %d edges in %v", b, size, len(p1.Edges), took)
			if size > 512<<10 || took > 2*time.Second || len(p1.Nodes) != n || len(p1.Edges) != 1000 || p1.NextCursor == "" {
				t.Fatalf("default page: %d bytes, %d nodes, %d edges, cursor %q", size, len(p1.Nodes), len(p1.Edges), p1.NextCursor)
			}
			wantSum := apiv1.MeshTopologySummary{Nodes: n, Edges: n * (n - 1), Direct: n * (n - 1), Healthy: 1, Unreachable: 1,
				NeverReported: n*(n-1) - 2}
			if p1.Summary != wantSum {
				t.Errorf("summary %+v, want %+v", p1.Summary, wantSum)
			}
			// The first page: node 0's 999 edges, then node 1's first.
			if e0 := p1.Edges[0]; e0.SourceNodeID != ids[0] || e0.TargetNodeID != ids[1] {
				t.Errorf("first edge %+v, want %s → %s", e0, ids[0], ids[1])
			}
			if last := p1.Edges[999]; last.SourceNodeID != ids[1] || last.TargetNodeID != ids[0] {
				t.Errorf("1,000th edge %+v, want %s → %s", last, ids[1], ids[0])
			}
			p2, _ := topologyGet(t, e, fx.Domain.ID, url.Values{"cursor": {p1.NextCursor}})
			if ed := p2.Edges[0]; ed.SourceNodeID != ids[1] || ed.TargetNodeID != ids[2] {
				t.Errorf("second page starts at %+v, want %s → %s", ed, ids[1], ids[2])
			}

			big, size := topologyGet(t, e, fx.Domain.ID, url.Values{"limit": {"1000000"}})
			if len(big.Edges) != 4000 || size > 1<<20 {
				t.Errorf("largest page: %d edges, %d bytes; want 4,000 under 1 MB", len(big.Edges), size)
			}

			// The reporter's neighbourhood: 1,998 edges in one page of 4,000.
			began = time.Now()
			focus, size := topologyGet(t, e, fx.Domain.ID, url.Values{"node_id": {reporter}, "limit": {"4000"}})
			t.Logf("%s: one node's edges: %d bytes in %v", b, size, time.Since(began))
			if len(focus.Edges) != 2*(n-1) || focus.NextCursor != "" || focus.Summary.Edges != 2*(n-1) ||
				focus.Summary.Healthy != 1 || focus.Summary.Unreachable != 1 {
				t.Errorf("the reporter: %d edges, cursor %q, summary %+v", len(focus.Edges), focus.NextCursor, focus.Summary)
			}
			for _, ed := range focus.Edges {
				if ed.SourceNodeID != reporter && ed.TargetNodeID != reporter {
					t.Fatalf("the reporter's edges hold %+v", ed)
				}
			}
		})
	}
}
