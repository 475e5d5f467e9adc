package enroll

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Directory resolves nodes to their Domains over the nodes table: the event
// plane's Directory.
type Directory struct{}

// NodeDomains maps each node id to its Domain. Unknown ids are absent;
// revoked nodes are still known.
func (Directory) NodeDomains(ctx context.Context, q store.Querier, nodeIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(nodeIDs))
	for start := 0; start < len(nodeIDs); start += 500 {
		chunk := nodeIDs[start:min(start+500, len(nodeIDs))]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
		}
		rows, err := q.QueryContext(ctx, `SELECT id, domain_id FROM nodes WHERE id IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, domain string
			if err := rows.Scan(&id, &domain); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = domain
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// peerIDs lists the live nodes of n's Domain other than n.
func peerIDs(ctx context.Context, tx *sql.Tx, n NodeRef) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM nodes WHERE domain_id = $1 AND revoked_at IS NULL AND id <> $2 ORDER BY id`,
		n.DomainID, n.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// emitPeers appends eventType with payload to every peer of n, inside tx.
func (s *Service) emitPeers(ctx context.Context, tx *sql.Tx, n NodeRef, eventType string, payload any) error {
	if s.events == nil {
		return nil
	}
	ids, err := peerIDs(ctx, tx, n)
	if err != nil || len(ids) == 0 {
		return err
	}
	return s.events.Emit(ctx, tx, ids, eventType, payload)
}

// nodeAdded tells n's peers about it (peer_added, node-protocol.md §4.2).
func (s *Service) nodeAdded(ctx context.Context, tx *sql.Tx, n NodeRef) error {
	return s.emitPeers(ctx, tx, n, nodeproto.EventPeerAdded, nodeproto.Peer{ID: n.ID, PublicKey: n.PublicKey,
		MeshIP: n.MeshIP, AllowedIPs: []string{n.MeshIP + "/32"}})
}

// nodeRemoved tells n's peers it is gone (peer_removed, §5.2 deregister)
// and has the event plane forget n: its reports go and its open stream
// ends (issue 7 rows 12, 18).
func (s *Service) nodeRemoved(ctx context.Context, tx *sql.Tx, n NodeRef) error {
	if s.events != nil {
		if err := s.events.ForgetNode(ctx, tx, n.ID); err != nil {
			return err
		}
	}
	return s.emitPeers(ctx, tx, n, nodeproto.EventPeerRemoved, nodeproto.PeerRemoved{PeerID: n.ID})
}

// LiveNodes lists the ids of a Domain's live nodes through q (for example
// to announce a signing-key rotation to all of them).
func LiveNodes(ctx context.Context, q store.Querier, domainID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM nodes WHERE domain_id = $1 AND revoked_at IS NULL ORDER BY id`, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
