package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

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
	Body nodeproto.StateReachability
}

// reachability serves GET /v1/nodes/{id}/reachability: the projection
// state.reachability carries, on its own.
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
	return &reachabilityOutput{Body: nodeproto.StateReachability{State: r.State, LastHeartbeatAt: r.LastHeartbeatAt, ChangedAt: r.ChangedAt}}, nil
}
