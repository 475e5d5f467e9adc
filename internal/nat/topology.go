package nat

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// reportFresh is how long a path report counts as current in the
// topology; older ones make the edge stale.
const reportFresh = 3 * time.Minute

type topologyInput struct {
	DomainID string `path:"domainId" doc:"Domain id (UUID)."`
}

type topologyOutput struct{ Body apiv1.MeshTopology }

func (s *Service) registerTopology(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains/{domainId}/mesh/topology", "getDomainMeshTopology",
		"mesh.topology.read", route.Operator, "The Domain's mesh: nodes and how each reaches each other", "Mesh"), s.topology)
}

func (s *Service) topology(ctx context.Context, in *topologyInput) (*topologyOutput, error) {
	id, err := parseUUID("domain", in.DomainID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+id); err != nil {
		return nil, err
	}
	var exists int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&exists); err != nil {
		return nil, problem.From(err)
	}
	if exists == 0 {
		return nil, problem.NotFound("domain_not_found", "No such Domain.")
	}
	t, err := s.Topology(ctx, s.db, id)
	if err != nil {
		return nil, problem.From(err)
	}
	return &topologyOutput{Body: t}, nil
}

// Topology assembles a Domain's topology from one read: every live node
// with a mesh address, and every directed edge between them with its mode
// (relayed when the pair has a relay session) and its status from the
// source's last path report (never_reported without one).
func (s *Service) Topology(ctx context.Context, q store.Querier, domainID string) (apiv1.MeshTopology, error) {
	now := s.cfg.Now().UTC()
	t := apiv1.MeshTopology{DomainID: domainID, GeneratedAt: now.Truncate(time.Microsecond),
		Nodes: []apiv1.MeshTopologyNode{}, Edges: []apiv1.MeshEdge{}}
	rows, err := q.QueryContext(ctx, `SELECT id, mesh_ip FROM nodes WHERE domain_id = $1 AND revoked_at IS NULL
		AND mesh_ip IS NOT NULL ORDER BY id`, domainID)
	if err != nil {
		return t, fmt.Errorf("nat: topology: %w", err)
	}
	for rows.Next() {
		var n apiv1.MeshTopologyNode
		if err := rows.Scan(&n.NodeID, &n.MeshIP); err != nil {
			rows.Close()
			return t, err
		}
		t.Nodes = append(t.Nodes, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, err
	}
	for i := range t.Nodes {
		r, err := enroll.NodeReachability(ctx, q, t.Nodes[i].NodeID, now)
		if err != nil {
			return t, fmt.Errorf("nat: topology: %w", err)
		}
		t.Nodes[i].Reachability = r.State
	}
	relayOf, err := domainRelays(ctx, q, domainID)
	if err != nil {
		return t, err
	}
	reports, err := domainReports(ctx, q, domainID)
	if err != nil {
		return t, err
	}
	for _, a := range t.Nodes {
		for _, b := range t.Nodes {
			if a.NodeID == b.NodeID {
				continue
			}
			e := apiv1.MeshEdge{SourceNodeID: a.NodeID, TargetNodeID: b.NodeID, Mode: apiv1.EdgeDirect,
				Status: edgeStatus(reports[[2]string{a.NodeID, b.NodeID}], now)}
			if relay, ok := relayOf[pairKey(a.NodeID, b.NodeID)]; ok {
				e.Mode, e.RelayNodeID = apiv1.EdgeRelayed, &relay
			}
			t.Edges = append(t.Edges, e)
		}
	}
	return t, nil
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

func domainReports(ctx context.Context, q store.Querier, domainID string) (map[[2]string]*edgeReport, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.node_id, p.peer_id, p.path, p.reported_at FROM peer_paths p
		JOIN nodes n ON n.id = p.node_id WHERE n.domain_id = $1`, domainID)
	if err != nil {
		return nil, fmt.Errorf("nat: topology: %w", err)
	}
	defer rows.Close()
	out := map[[2]string]*edgeReport{}
	for rows.Next() {
		var (
			a, b, path string
			at         int64
		)
		if err := rows.Scan(&a, &b, &path, &at); err != nil {
			return nil, err
		}
		out[[2]string{a, b}] = &edgeReport{path: path, at: store.Time(at)}
	}
	return out, rows.Err()
}
