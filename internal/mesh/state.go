package mesh

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
)

// StateProvider fills state.peers (every peer as the node sees it, at the
// request's negotiated level) and, at level 2, state.mesh with the
// Domain's pool and the node's IPv6 address and ULA /64; stun_servers
// starts empty for a later provider (internal/nat) to fill.
func (s *Service) StateProvider() nodestate.Provider {
	return nodestate.Named{Name: "mesh", Provider: nodestate.Func(s.fillState)}
}

func (s *Service) fillState(ctx context.Context, tx *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
	v, err := liveMember(ctx, tx, n.ID)
	if errors.Is(err, ErrNotPeer) {
		doc.Peers = []nodeproto.Peer{} // no mesh address (yet): no peers
		return nil
	}
	if err != nil {
		return err
	}
	if doc.Peers, err = s.peersAt(ctx, tx, v, n.Level); err != nil {
		return err
	}
	if n.Level < nodeproto.Level2 {
		return nil
	}
	self := &nodeproto.MeshSelf{STUNServers: []string{}}
	if err := tx.QueryRowContext(ctx, `SELECT mesh_cidr FROM domains WHERE id = $1`, v.domainID).Scan(&self.MeshCIDR); err != nil {
		return err
	}
	if a, err := netip.ParseAddr(v.meshIPv6); err == nil && a.Is6() {
		d, err := s.domain(ctx, tx, v.domainID)
		if err != nil {
			return err
		}
		self.MeshIPv6, self.MeshIPv6CIDR = a.String(), d.ipv6.String()
	}
	doc.Mesh = self
	return nil
}
