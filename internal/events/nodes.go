package events

import (
	"context"
	"database/sql"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
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

// peers lists the complete Peer of every other active node of domainID
// with a mesh IP, sorted by id (§5.1: allowed_ips holds the mesh IP/32).
func (NodeTable) peers(ctx context.Context, q store.Querier, domainID, self string) ([]nodeproto.Peer, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, public_key, mesh_ip FROM nodes
		WHERE domain_id = $1 AND revoked_at IS NULL AND id <> $2 AND mesh_ip IS NOT NULL ORDER BY id`, domainID, self)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	peers := []nodeproto.Peer{}
	for rows.Next() {
		var p nodeproto.Peer
		if err := rows.Scan(&p.ID, &p.PublicKey, &p.MeshIP); err != nil {
			return nil, err
		}
		p.AllowedIPs = []string{p.MeshIP + "/32"}
		peers = append(peers, p)
	}
	return peers, rows.Err()
}
