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

// nodeAdded tells n's peers about it: each gets peer_added with n's
// complete record as it sees it (node-protocol.md §4.2).
func (s *Service) nodeAdded(ctx context.Context, tx *sql.Tx, n NodeRef) error {
	return s.mesh.Announce(ctx, tx, n.ID, nodeproto.EventPeerAdded)
}

// joined tells the policy delivery of a node with its address and labels,
// before its registration answer lists its peers and the mesh announces
// it: both show only the peers policy lets it talk to.
func (s *Service) joined(ctx context.Context, tx *sql.Tx, n NodeRef) error {
	if s.policy == nil {
		return nil
	}
	return s.policy.NodeJoined(ctx, tx, n.ID)
}

// Membership is told of joins and leaves inside their transactions (the
// policy delivery recompiles the nodes they affect).
type Membership interface {
	NodeJoined(ctx context.Context, tx *sql.Tx, nodeID string) error
	NodeLeft(ctx context.Context, tx *sql.Tx, domainID, nodeID string) error
}

// nodeRemoved tells n's peers it is gone (peer_removed, §5.2 deregister),
// quarantines its mesh IP, and has the event plane forget n: its reports
// go and its open stream ends (issue 7 rows 12, 18).
func (s *Service) nodeRemoved(ctx context.Context, tx *sql.Tx, n NodeRef) error {
	if s.events != nil {
		if err := s.events.ForgetNode(ctx, tx, n.ID); err != nil {
			return err
		}
	}
	if err := s.mesh.Release(ctx, tx, n.DomainID, n.MeshIP); err != nil {
		return err
	}
	if err := s.mesh.Announce(ctx, tx, n.ID, nodeproto.EventPeerRemoved); err != nil {
		return err
	}
	if s.policy != nil {
		return s.policy.NodeLeft(ctx, tx, n.DomainID, n.ID)
	}
	return nil
}

// LiveNodes lists the ids of a Domain's live nodes through q (for example
// to announce a signing-key rotation to all of them).
func LiveNodes(ctx context.Context, q store.Querier, domainID string) ([]string, error) {
	return store.Strings(ctx, q, `SELECT id FROM nodes WHERE domain_id = $1 AND revoked_at IS NULL ORDER BY id`, domainID)
}
