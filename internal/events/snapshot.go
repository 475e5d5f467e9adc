package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// StateProviders are the event plane's parts of a state answer, in order:
// metadata from the node's labels, then the contract's members
// (reachability, and the state buckets mirroring metadata, data and the
// synced reports), then signing_keys from keys (nil omits them, K1), a
// Late provider.
func (s *Service) StateProviders(keys StateKeys) []nodestate.Provider {
	ps := []nodestate.Provider{
		nodestate.Named{Name: "metadata", Provider: nodestate.Func(fillMetadata)},
		nodestate.Named{Name: "contract", Provider: nodestate.Func(func(ctx context.Context, tx *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
			c, err := contractState(ctx, tx, &doc.StateResponse, n.ID, s.cfg.Now())
			doc.ContractState = c
			return err
		})},
	}
	if keys != nil {
		// Late: the key manager reads (and retires keys) on its own
		// connection.
		ps = append(ps, nodestate.Late{Provider: nodestate.Named{Name: "signing_keys",
			Provider: nodestate.Func(func(ctx context.Context, _ *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
				k, err := keys.WireKeys(ctx, n.DomainID)
				doc.SigningKeys = k
				return err
			})}})
	}
	return ps
}

func fillMetadata(_ context.Context, _ *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
	doc.Metadata = metadataOf(n.Labels)
	return nil
}

// DomainPeers fills state.peers with every other live node of the
// Domain, without PSKs or paths: the peers of an event plane assembled
// without the mesh context (the mesh context's StateProvider replaces it
// in the control plane).
func DomainPeers() nodestate.Provider {
	return nodestate.Named{Name: "peers", Provider: nodestate.Func(func(ctx context.Context, tx *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, public_key, mesh_ip FROM nodes
			WHERE domain_id = $1 AND revoked_at IS NULL AND id <> $2 AND mesh_ip IS NOT NULL ORDER BY id`, n.DomainID, n.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p nodeproto.Peer
			if err := rows.Scan(&p.ID, &p.PublicKey, &p.MeshIP); err != nil {
				return err
			}
			p.NodeID, p.AllowedIPs = p.ID, []string{p.MeshIP + "/32"}
			if p.Validate() == nil {
				doc.Peers = append(doc.Peers, p)
			}
		}
		return rows.Err()
	})}
}

// contractState assembles the contract's members of a state answer (issue
// 8: the answer is the union of the node-protocol and contract forms) from
// what the control plane holds today, read in tx: the node's reachability,
// and its state entries — metadata from its labels, data from the level-1
// data entries, reports from what it synced through POST …/report.
// Executions and sessions are [] and policy and bridge null until those
// capabilities exist.
func contractState(ctx context.Context, tx *sql.Tx, doc *nodeproto.StateResponse, nodeID string, now time.Time) (nodeproto.ContractState, error) {
	r, err := enroll.NodeReachability(ctx, tx, nodeID, now)
	if err != nil {
		return nodeproto.ContractState{}, fmt.Errorf("events: reachability: %w", err)
	}
	reports, err := reportEntries(ctx, tx, nodeID)
	if err != nil {
		return nodeproto.ContractState{}, err
	}
	b := nodeproto.StateBuckets{Metadata: []nodeproto.StateEntry{}, Data: []nodeproto.StateEntry{}, Reports: reports}
	for k, v := range doc.Metadata {
		b.Metadata = append(b.Metadata, nodeproto.StateEntry{Key: k, Value: v})
	}
	sort.Slice(b.Metadata, func(i, j int) bool { return b.Metadata[i].Key < b.Metadata[j].Key })
	for _, d := range doc.Data {
		b.Data = append(b.Data, nodeproto.StateEntry{Key: d.Key, Value: string(d.Payload)})
	}
	sort.Slice(b.Data, func(i, j int) bool { return b.Data[i].Key < b.Data[j].Key })
	return nodeproto.ContractState{
		Reachability: nodeproto.StateReachability{State: r.State, LastHeartbeatAt: r.LastHeartbeatAt, ChangedAt: r.ChangedAt},
		State:        b,
		Reports:      b,
	}, nil
}

// reportEntries lists the node's synced report entries by key; the value
// is the entry's JSON payload.
func reportEntries(ctx context.Context, tx *sql.Tx, nodeID string) ([]nodeproto.StateEntry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT report_key, payload FROM node_reports WHERE node_id = $1 ORDER BY report_key`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("events: report entries: %w", err)
	}
	defer rows.Close()
	out := []nodeproto.StateEntry{}
	for rows.Next() {
		var e nodeproto.StateEntry
		if err := rows.Scan(&e.Key, &e.Value); err != nil {
			return nil, fmt.Errorf("events: report entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

type reachabilityOutput struct {
	Body apiv1.NodeReachabilityPeers
}

// reachability serves GET /v1/nodes/{id}/reachability: the projection
// state.reachability carries, plus each peer's path as the node reported
// it (peers, additive).
func (a *agent) reachability(ctx context.Context, in *nodeInput) (*reachabilityOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	r, err := enroll.NodeReachability(ctx, a.s.db, in.ID, a.s.cfg.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound("node_not_found", "No such node.")
	} else if err != nil {
		return nil, unavailableNode(err)
	}
	peers, err := a.reachabilityPeers(ctx, in.ID)
	if err != nil {
		return nil, unavailableNode(err)
	}
	return &reachabilityOutput{Body: apiv1.NodeReachabilityPeers{State: r.State, LastHeartbeatAt: r.LastHeartbeatAt,
		ChangedAt: r.ChangedAt, Peers: peers}}, nil
}
