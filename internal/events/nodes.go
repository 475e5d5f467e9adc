package events

import (
	"context"
	"database/sql"

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
