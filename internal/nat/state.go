package nat

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
)

// StateProvider fills a node's state with this context's parts: at level
// 2 state.mesh.stun_servers (after the mesh provider made state.mesh) and
// bridge_config.relay; for a relay's bridge node relay_config.sessions
// (tokens at level 2 only). Register it after the mesh provider.
func (s *Service) StateProvider() nodestate.Provider {
	return nodestate.Named{Name: "nat", Provider: nodestate.Func(s.fillState)}
}

func (s *Service) fillState(ctx context.Context, tx *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
	level2 := n.Level >= nodeproto.Level2
	if level2 && doc.Mesh != nil {
		doc.Mesh.STUNServers = append([]string{}, s.cfg.STUNServers...)
	}
	var (
		enabled bool
		port    int
	)
	err := tx.QueryRowContext(ctx, `SELECT r.enabled, r.listen_port FROM bridge_relays r
		JOIN nodes n ON n.resource_id = r.resource_id WHERE n.id = $1`, n.ID).Scan(&enabled, &port)
	isRelay := err == nil
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("nat: relay of %s: %w", n.ID, err)
	}
	if isRelay && level2 {
		if doc.BridgeConfig == nil {
			doc.BridgeConfig = &nodeproto.BridgeConfig{AccessSubnets: []string{}}
		}
		doc.BridgeConfig.Relay = &nodeproto.BridgeRelay{Enabled: enabled, ListenPort: port}
	}
	sessions, err := querySessions(ctx, tx, `WHERE relay_node_id = $1 ORDER BY id`, n.ID)
	if err != nil {
		return err
	}
	if !isRelay && len(sessions) == 0 {
		return nil
	}
	rc := &nodeproto.RelayConfig{Sessions: []nodeproto.RelaySession{}}
	for i := range sessions {
		w := sessions[i].wire()
		if !level2 {
			w.PeerAToken, w.PeerBToken = "", ""
		}
		if w.Validate() == nil && len(rc.Sessions) < nodeproto.MaxRelaySessions {
			rc.Sessions = append(rc.Sessions, w)
		}
	}
	doc.RelayConfig = rc
	return nil
}
