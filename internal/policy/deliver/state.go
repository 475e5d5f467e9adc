package deliver

import (
	"context"
	"database/sql"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/policy/compile"
)

// StateProvider fills the node's contract `policy` block (its compiled
// ruleset; null for a node without a mesh address) and the level-1
// `policies` (S7: the agent configures a peer only where a policy
// allows it, so the allow-all default is rendered as an allow-all
// policy; S1: a changed rule set has a new id).
func (s *Service) StateProvider() nodestate.Provider {
	return nodestate.Named{Name: "policy", Provider: nodestate.Func(s.fill)}
}

func (s *Service) fill(ctx context.Context, tx *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
	return s.view(ctx, tx, n.DomainID, func(x *compile.Index) error {
		c, ok := x.Compile(n.ID)
		if !ok {
			doc.Policy, doc.Policies = nil, []nodeproto.Policy{}
			return nil
		}
		doc.Policy = &c
		doc.Policies = x.Level1(n.ID)
		if doc.Policies == nil {
			doc.Policies = []nodeproto.Policy{}
		}
		return nil
	})
}

// PeerFilter reports which nodes of the Domain nodeID may see as peers
// (mesh.Visibility): those some rule lets it talk to, in either direction.
func (s *Service) PeerFilter(ctx context.Context, tx *sql.Tx, domainID, nodeID string) (func(peerID string) bool, error) {
	var peers map[string]struct{}
	err := s.view(ctx, tx, domainID, func(x *compile.Index) error {
		ids := x.Peers(nodeID)
		peers = make(map[string]struct{}, len(ids))
		for _, id := range ids {
			peers[id] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(id string) bool { _, ok := peers[id]; return ok }, nil
}
