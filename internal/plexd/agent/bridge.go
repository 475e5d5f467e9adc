package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/relay"
)

// Bridge runs the bridge parts of the desired state on a node in bridge
// mode (today the UDP relay, §12.6). *relay.Manager implements it.
type Bridge interface {
	// Apply makes the bridge match bridge_config and relay_config; it is
	// idempotent and called on every apply.
	Apply(ctx context.Context, bc *nodeproto.BridgeConfig, rc *nodeproto.RelayConfig) error
	// Info is the heartbeat's bridge status.
	Info() nodeproto.BridgeInfo
	// Stats is the relay's counters for `plexd status`.
	Stats() relay.Stats
}

// applyBridge hands the bridge sections of d to the bridge. A failure
// (the relay port is taken) is logged and retried by the next apply; it
// must not hold back the mesh.
func (a *Agent) applyBridge(ctx context.Context, d Desired) {
	if a.opts.Bridge == nil {
		return
	}
	if err := a.opts.Bridge.Apply(ctx, d.BridgeConfig, d.RelayConfig); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "applying the bridge relay failed", slog.String(logkey.Error, err.Error()))
	}
}

// relayEvent applies relay_session_assigned (a new or renewed session
// replaces the one with its id) or relay_session_revoked to the desired
// relay_config; sessions past expires_at are dropped on the way (L7). It
// reports whether the bridge must be re-applied.
func (a *Agent) relayEvent(payload any) (bool, error) {
	var id string
	var add *nodeproto.RelaySession
	switch p := payload.(type) {
	case *nodeproto.RelaySession:
		id, add = p.SessionID, p
	case *nodeproto.RelaySessionRevoked:
		id = p.SessionID
	}
	if !nodeproto.ValidID(id) {
		return false, errors.New("session_id: not an ID")
	}
	now := a.clk.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	rc := &nodeproto.RelayConfig{Sessions: []nodeproto.RelaySession{}}
	if old := a.desired.RelayConfig; old != nil {
		for _, s := range old.Sessions {
			if s.SessionID != id && s.ExpiresAt.After(now) {
				rc.Sessions = append(rc.Sessions, s)
			}
		}
	}
	if add != nil && add.ExpiresAt.After(now) {
		rc.Sessions = append(rc.Sessions, *add)
	}
	if len(rc.Sessions) > nodeproto.MaxRelaySessions {
		rc.Sessions = slices.Clone(rc.Sessions[len(rc.Sessions)-nodeproto.MaxRelaySessions:])
	}
	a.desired.RelayConfig = rc // a new value: applied snapshots keep theirs
	return a.opts.Bridge != nil, nil
}

// bridgeInfo is the heartbeat's bridge member, nil on a plain node.
func (a *Agent) bridgeInfo() *nodeproto.BridgeInfo {
	if a.opts.Bridge == nil {
		return nil
	}
	info := a.opts.Bridge.Info()
	return &info
}

// relayStatus is the relay's counters for Status, nil on a plain node.
func (a *Agent) relayStatus() *relay.Stats {
	if a.opts.Bridge == nil {
		return nil
	}
	st := a.opts.Bridge.Stats()
	return &st
}
