package nat

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// reportFresh is how long a path report counts as current in the
// topology; older ones make the edge stale.
const reportFresh = 3 * time.Minute

// Edge paging of the topology: a Domain of n nodes has n·(n−1) directed
// edges (~1 M at 1,000 nodes), so one answer carries a page of them, in
// (source, target) order, with the Domain's every node and the counts of
// all the edges.
const (
	DefaultTopologyLimit = 1000
	MaxTopologyLimit     = 4000
)

type topologyInput struct {
	DomainID string `path:"domainId" doc:"Domain id (UUID)."`
	NodeID   string `query:"node_id" doc:"Only the edges from or to this node (its neighbourhood); the summary then counts those."`
	Cursor   string `query:"cursor" maxLength:"2048" doc:"Opaque cursor from the previous page's next_cursor."`
	Limit    int64  `query:"limit" default:"1000" doc:"Edges per page; out-of-range values are clamped to 1..4000."`
}

type topologyOutput struct{ Body apiv1.MeshTopology }

func (s *Service) registerTopology(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains/{domainId}/mesh/topology", "getDomainMeshTopology",
		"mesh.topology.read", route.Operator, "The Domain's mesh: nodes and how each reaches each other", "Mesh"), s.topology)
}

// TopologyPosition is where a topology page ends: its last edge (the
// cursor's sealed content).
type TopologyPosition struct {
	Source string `json:"s"`
	Target string `json:"t"`
}

func (s *Service) topology(ctx context.Context, in *topologyInput) (*topologyOutput, error) {
	id, err := parseUUID("domain", in.DomainID)
	if err != nil {
		return nil, err
	}
	q := TopologyQuery{Limit: int(max(1, min(in.Limit, MaxTopologyLimit)))}
	if in.NodeID != "" {
		if q.NodeID, err = parseUUID("node", in.NodeID); err != nil {
			return nil, err
		}
	}
	if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+id); err != nil {
		return nil, err
	}
	scope := "mesh.topology?domain=" + id + "&node_id=" + q.NodeID
	var after TopologyPosition
	if _, err := s.cfg.Pages.Start(ctx, page.Params{Cursor: in.Cursor}, scope, &after); err != nil {
		return nil, err
	}
	if in.Cursor != "" {
		q.After = &after
	}
	var exists int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&exists); err != nil {
		return nil, problem.From(err)
	}
	if exists == 0 {
		return nil, problem.NotFound("domain_not_found", "No such Domain.")
	}
	t, last, err := s.Topology(ctx, s.db, id, q)
	if err != nil {
		return nil, problem.From(err)
	}
	if last != nil {
		if t.NextCursor, err = s.cfg.Pages.Next(ctx, scope, last); err != nil {
			return nil, err
		}
	}
	return &topologyOutput{Body: t}, nil
}

// TopologyQuery selects a page of a Domain's topology.
type TopologyQuery struct {
	// NodeID keeps the edges from or to this node ("" keeps all).
	NodeID string
	// After is the last edge of the previous page (nil: the first page).
	After *TopologyPosition
	// Limit is the page size in edges (at least 1).
	Limit int
}

// errNodeNotInMesh is the problem of a node_id that is no live node of
// the Domain's mesh.
var errNodeNotInMesh = problem.NotFound("node_not_found", "No such node in this Domain's mesh.")

// Topology assembles a page of a Domain's topology: every live node with
// a mesh address and its reachability, the summary of every edge q
// selects, and up to q.Limit of those edges after q.After in (source,
// target) order, each with its mode (relayed when the pair has a relay
// session) and its status from the source's last path report
// (never_reported without one). last is the page's last edge when more
// follow (nil on the last page). Its reads are bounded by the nodes and
// the page, except the summary's one counting query over the Domain's
// path reports.
func (s *Service) Topology(ctx context.Context, q store.Querier, domainID string, tq TopologyQuery) (t apiv1.MeshTopology, last *TopologyPosition, err error) {
	now := s.cfg.Now().UTC()
	t = apiv1.MeshTopology{DomainID: domainID, GeneratedAt: now.Truncate(time.Microsecond),
		Nodes: []apiv1.MeshTopologyNode{}, Edges: []apiv1.MeshEdge{}}
	if err := s.topologyNodes(ctx, q, domainID, now, &t); err != nil {
		return t, nil, err
	}
	ids := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		ids[i] = n.NodeID
	}
	focus := -1
	if tq.NodeID != "" {
		i, ok := slices.BinarySearch(ids, tq.NodeID)
		if !ok {
			return t, nil, errNodeNotInMesh
		}
		focus = i
	}
	relayOf, err := domainRelays(ctx, q, domainID)
	if err != nil {
		return t, nil, err
	}

	// The page: the pairs after tq.After, one more to know whether the
	// page is the last.
	var pageEdges [][2]int
	for a, b := range edgeOrder(ids, focus, tq.After) {
		pageEdges = append(pageEdges, [2]int{a, b})
		if len(pageEdges) > tq.Limit {
			break
		}
	}
	if len(pageEdges) > tq.Limit {
		pageEdges = pageEdges[:tq.Limit]
		e := pageEdges[tq.Limit-1]
		last = &TopologyPosition{Source: ids[e[0]], Target: ids[e[1]]}
	}

	// The reports: those of the focus node's edges (both directions, for
	// the page and the summary), else those of the page's sources and the
	// Domain's counts.
	var reports map[[2]string]*edgeReport
	if focus >= 0 {
		reports, err = focusReports(ctx, q, domainID, tq.NodeID)
	} else {
		reports, err = sourceReports(ctx, q, ids, pageEdges)
	}
	if err != nil {
		return t, nil, err
	}
	for _, p := range pageEdges {
		a, b := ids[p[0]], ids[p[1]]
		e := apiv1.MeshEdge{SourceNodeID: a, TargetNodeID: b, Mode: apiv1.EdgeDirect, Status: edgeStatus(reports[[2]string{a, b}], now)}
		if relay, ok := relayOf[pairKey(a, b)]; ok {
			e.Mode, e.RelayNodeID = apiv1.EdgeRelayed, &relay
		}
		t.Edges = append(t.Edges, e)
	}
	t.Summary, err = summarize(ctx, q, domainID, ids, focus, relayOf, reports, now)
	return t, last, err
}

// topologyNodes reads the Domain's live nodes with their reachability in
// one query, sorted by id (in Go: the order must be the byte order the
// cursor compares, whatever the database's collation).
func (s *Service) topologyNodes(ctx context.Context, q store.Querier, domainID string, now time.Time, t *apiv1.MeshTopology) error {
	stale, unreach, err := enroll.DomainHeartbeatWindows(ctx, q, domainID)
	if err != nil {
		return fmt.Errorf("nat: topology: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT n.id, n.mesh_ip, n.created_at, a.last_heartbeat_at, a.healthy_since
		FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id
		WHERE n.domain_id = $1 AND n.revoked_at IS NULL AND n.mesh_ip IS NOT NULL`, domainID)
	if err != nil {
		return fmt.Errorf("nat: topology: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n           apiv1.MeshTopologyNode
			created     int64
			last, since *int64
		)
		if err := rows.Scan(&n.NodeID, &n.MeshIP, &created, &last, &since); err != nil {
			return fmt.Errorf("nat: topology: %w", err)
		}
		n.Reachability = enroll.Reachability(store.NullTime(last), store.NullTime(since), store.Time(created), now, stale, unreach).State
		t.Nodes = append(t.Nodes, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("nat: topology: %w", err)
	}
	slices.SortFunc(t.Nodes, func(x, y apiv1.MeshTopologyNode) int { return strings.Compare(x.NodeID, y.NodeID) })
	return nil
}

// edgeOrder yields the directed edges between ids (sorted) as index
// pairs in (source, target) order, strictly after after (nil: from the
// first); with focus ≥ 0, only the edges from or to ids[focus]. It never
// materialises the n·(n−1) pairs.
func edgeOrder(ids []string, focus int, after *TopologyPosition) func(yield func(a, b int) bool) {
	return func(yield func(a, b int) bool) {
		// si, ti: the first source and, within it, the first target to
		// consider.
		si, ti := 0, 0
		if after != nil {
			var exact bool
			si, exact = slices.BinarySearch(ids, after.Source)
			if exact {
				ti, _ = slices.BinarySearch(ids, after.Target)
				if ti < len(ids) && ids[ti] == after.Target {
					ti++
				}
			}
		}
		for a := si; a < len(ids); a++ {
			from := 0
			if a == si {
				from = ti
			}
			if focus >= 0 && a != focus {
				// Only the edge a → focus.
				if focus >= from && !yield(a, focus) {
					return
				}
				continue
			}
			for b := from; b < len(ids); b++ {
				if b != a && !yield(a, b) {
					return
				}
			}
		}
	}
}

type edgeReport struct {
	path string
	at   time.Time
}

func edgeStatus(r *edgeReport, now time.Time) string {
	switch {
	case r == nil:
		return apiv1.EdgeNeverReported
	case r.path == nodeproto.PathDown:
		return apiv1.EdgeUnreachable
	case now.Sub(r.at) > reportFresh:
		return apiv1.EdgeStale
	}
	return apiv1.EdgeHealthy
}

func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func domainRelays(ctx context.Context, q store.Querier, domainID string) (map[[2]string]string, error) {
	list, err := querySessions(ctx, q, `WHERE domain_id = $1`, domainID)
	if err != nil {
		return nil, err
	}
	out := make(map[[2]string]string, len(list))
	for _, s := range list {
		out[pairKey(s.nodeA, s.nodeB)] = s.relayNode
	}
	return out, nil
}

// sourceReports reads the path reports of the page's sources (a page
// spans few: at most limit/(n−1)+2).
func sourceReports(ctx context.Context, q store.Querier, ids []string, pageEdges [][2]int) (map[[2]string]*edgeReport, error) {
	out := map[[2]string]*edgeReport{}
	var sources []any
	for i, p := range pageEdges {
		if i == 0 || p[0] != pageEdges[i-1][0] {
			sources = append(sources, ids[p[0]])
		}
	}
	if len(sources) == 0 {
		return out, nil
	}
	marks := make([]string, len(sources))
	for i := range sources {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	return out, scanReports(ctx, q, out, `SELECT node_id, peer_id, path, reported_at FROM peer_paths
		WHERE node_id IN (`+strings.Join(marks, ", ")+`)`, sources...)
}

// focusReports reads the reports of a node's edges: its own, and those
// of the Domain's nodes about it (by the primary key, node by node).
func focusReports(ctx context.Context, q store.Querier, domainID, nodeID string) (map[[2]string]*edgeReport, error) {
	out := map[[2]string]*edgeReport{}
	if err := scanReports(ctx, q, out, `SELECT node_id, peer_id, path, reported_at FROM peer_paths WHERE node_id = $1`, nodeID); err != nil {
		return nil, err
	}
	return out, scanReports(ctx, q, out, `SELECT p.node_id, p.peer_id, p.path, p.reported_at FROM nodes n
		JOIN peer_paths p ON p.node_id = n.id AND p.peer_id = $2 WHERE n.domain_id = $1`, domainID, nodeID)
}

func scanReports(ctx context.Context, q store.Querier, out map[[2]string]*edgeReport, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("nat: topology: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a, b, path string
			at         int64
		)
		if err := rows.Scan(&a, &b, &path, &at); err != nil {
			return fmt.Errorf("nat: topology: %w", err)
		}
		out[[2]string{a, b}] = &edgeReport{path: path, at: store.Time(at)}
	}
	return rows.Err()
}

// summarize counts the selected edges by mode and by status: from the
// focus node's reports, or, for the whole Domain, with one counting query
// over the reports between its live nodes: the reports of each live node
// (by the primary key's prefix), each peer checked by id. Joining nodes
// twice instead makes SQLite probe every node pair (~1 M at 1,000 nodes).
func summarize(ctx context.Context, q store.Querier, domainID string, ids []string, focus int,
	relayOf map[[2]string]string, reports map[[2]string]*edgeReport, now time.Time) (apiv1.MeshTopologySummary, error) {
	n := len(ids)
	sum := apiv1.MeshTopologySummary{Nodes: n}
	live := func(id string) bool { _, ok := slices.BinarySearch(ids, id); return ok }
	if focus >= 0 {
		sum.Edges = 2 * (n - 1)
		for pair := range relayOf {
			if (pair[0] == ids[focus] || pair[1] == ids[focus]) && live(pair[0]) && live(pair[1]) {
				sum.Relayed += 2
			}
		}
		for pair, r := range reports {
			if pair[0] != pair[1] && live(pair[0]) && live(pair[1]) {
				addStatus(&sum, edgeStatus(r, now), 1)
			}
		}
	} else {
		sum.Edges = n * max(n-1, 0)
		for pair := range relayOf {
			if live(pair[0]) && live(pair[1]) {
				sum.Relayed += 2
			}
		}
		rows, err := q.QueryContext(ctx, `SELECT CASE WHEN p.path = $2 THEN 'unreachable'
			WHEN p.reported_at < $3 THEN 'stale' ELSE 'healthy' END AS status, COUNT(*)
			FROM peer_paths p WHERE p.node_id IN (SELECT id FROM nodes WHERE domain_id = $1 AND revoked_at IS NULL AND mesh_ip IS NOT NULL)
			AND EXISTS (SELECT 1 FROM nodes b WHERE b.id = p.peer_id AND b.domain_id = $1 AND b.revoked_at IS NULL AND b.mesh_ip IS NOT NULL)
			AND p.node_id <> p.peer_id GROUP BY status`, domainID, nodeproto.PathDown, store.Micros(now.Add(-reportFresh)))
		if err != nil {
			return sum, fmt.Errorf("nat: topology: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				status string
				c      int
			)
			if err := rows.Scan(&status, &c); err != nil {
				return sum, fmt.Errorf("nat: topology: %w", err)
			}
			addStatus(&sum, status, c)
		}
		if err := rows.Err(); err != nil {
			return sum, fmt.Errorf("nat: topology: %w", err)
		}
	}
	sum.Direct = sum.Edges - sum.Relayed
	sum.NeverReported = sum.Edges - sum.Healthy - sum.Stale - sum.Unreachable
	return sum, nil
}

// addStatus counts c edges of a status (never_reported is what remains).
func addStatus(sum *apiv1.MeshTopologySummary, status string, c int) {
	switch status {
	case apiv1.EdgeHealthy:
		sum.Healthy += c
	case apiv1.EdgeStale:
		sum.Stale += c
	case apiv1.EdgeUnreachable:
		sum.Unreachable += c
	}
}
