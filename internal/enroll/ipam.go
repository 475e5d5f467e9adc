package enroll

import (
	"context"
	"database/sql"

	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Mesh is what enrolment needs of the mesh context (internal/mesh): mesh
// addresses for a joining node, the quarantine of a leaving node's, its
// peers for the registration answer, and the peer events of both, all
// inside the enrolment's transaction.
type Mesh interface {
	Allocate(ctx context.Context, tx *sql.Tx, r mesh.Request) (mesh.Addresses, error)
	Release(ctx context.Context, tx *sql.Tx, domainID, ip string) error
	PeersOf(ctx context.Context, tx *sql.Tx, nodeID string) ([]nodeproto.Peer, error)
	Announce(ctx context.Context, tx *sql.Tx, subject, eventType string) error
}

// allocate asks the mesh context for r's node's addresses, under the
// Domain's lock that Allocate takes for the rest of tx.
func (s *Service) allocate(ctx context.Context, tx *sql.Tx, r *redemption) (mesh.Addresses, error) {
	return s.mesh.Allocate(ctx, tx, mesh.Request{DomainID: r.tok.domainID, ProjectID: r.tok.ProjectID,
		Kind: r.tok.Kind, Level: r.level})
}

// recordIPv6 stores the node's IPv6 mesh address, when it got one.
func recordIPv6(ctx context.Context, tx *sql.Tx, nodeID string, a mesh.Addresses) error {
	if !a.IPv6.IsValid() {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE nodes SET mesh_ipv6 = $2 WHERE id = $1`, nodeID, a.IPv6.String())
	return err
}
