package events

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/plexsphere/plexsphere/internal/store"
)

// NodeTable is a read-only view of the enrollment context's nodes table
// for the agent endpoints: the calling node and the peer set of its state.
// It reads active nodes only (revoked_at IS NULL). The mesh context will own
// peer computation; until then every active node of a Domain peers with
// every other, as registration's peer list does.
type NodeTable struct{}

// node is one active node as the agent plane sees it.
type node struct {
	ID, DomainID, MeshIP, PublicKey, Labels string
}

// lookup reads an active node; ok is false when it does not exist or is
// revoked.
func (NodeTable) lookup(ctx context.Context, q store.Querier, id string) (node, bool, error) {
	var n node
	err := q.QueryRowContext(ctx, `SELECT id, domain_id, COALESCE(mesh_ip, ''), public_key, labels
		FROM nodes WHERE id = $1 AND revoked_at IS NULL`, id).Scan(&n.ID, &n.DomainID, &n.MeshIP, &n.PublicKey, &n.Labels)
	if err == sql.ErrNoRows {
		return n, false, nil
	}
	return n, err == nil, err
}

// removedNodes lists those of ids whose node row shows them removed
// (revoked). Ids the table does not hold are not listed: authentication
// belongs to the enrollment context.
func removedNodes(ctx context.Context, q store.Querier, ids []string) ([]string, error) {
	var out []string
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		marks := make([]string, len(part))
		args := make([]any, len(part))
		for i, id := range part {
			marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
		}
		rows, err := q.QueryContext(ctx, `SELECT id FROM nodes WHERE revoked_at IS NOT NULL AND id IN (`+
			strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("events: removed nodes: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ForgetNode is the event plane's part of removing a node (operator delete
// or deregistration), called inside the removing transaction: it deletes
// what the node reported (reports, heartbeat, capabilities, drift) and its
// event log, and once tx commits it ends the node's open event stream on
// every replica (issue 7 rows 12 and 18).
func (s *Service) ForgetNode(ctx context.Context, tx *sql.Tx, nodeID string) error {
	for _, q := range []string{
		`DELETE FROM node_reports WHERE node_id = $1`,
		`DELETE FROM node_agents WHERE node_id = $1`,
		`DELETE FROM event_log WHERE node_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, nodeID); err != nil {
			return fmt.Errorf("events: forget node: %w", err)
		}
	}
	return s.hub.announceGone(ctx, tx, nodeID)
}
