package agent

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

// Heartbeat statuses our plexd reports (§5.2 level 2).
const (
	StatusHealthy  = "healthy"  // stream connected, last reconcile applied
	StatusDegraded = "degraded" // stream down or nothing applied yet
)

func (a *Agent) heartbeatLoop(ctx context.Context) {
	for {
		a.SendHeartbeat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.clk.After(a.opts.HeartbeatInterval):
		}
	}
}

// Heartbeat builds the heartbeat body from the agent's real state.
func (a *Agent) Heartbeat() nodeproto.Heartbeat {
	stats := a.opts.Mesh.Stats()
	pol := a.policyInfo()
	a.mu.Lock()
	defer a.mu.Unlock()
	status := StatusHealthy
	if a.conn != stream.StateConnected || !a.haveApplied {
		status = StatusDegraded
	}
	return nodeproto.Heartbeat{
		NodeID:         a.id.NodeID,
		Timestamp:      a.clk.Now().UTC(),
		Status:         status,
		Uptime:         a.uptimeLocked(),
		BinaryChecksum: a.checksum,
		Policy:         pol,
		Bridge:         a.bridgeInfo(),
		Mesh: &nodeproto.MeshInfo{Interface: stats.Interface, PeerCount: stats.PeerCount, ListenPort: stats.ListenPort,
			Backend: stats.Backend, Peers: stats.Peers},
	}
}

// SendHeartbeat posts one heartbeat and acts on the response flags.
func (a *Agent) SendHeartbeat(ctx context.Context) {
	resp, err := a.opts.ControlPlane.Heartbeat(ctx, a.Heartbeat())
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		lvl := slog.LevelWarn
		if cpclient.IsStatus(err, http.StatusUnauthorized) {
			lvl = slog.LevelError
		}
		a.log.LogAttrs(ctx, lvl, "heartbeat failed", slog.String(logkey.Error, err.Error()))
		return
	}
	if resp.RotateKeys {
		a.requestRotation()
	}
	if resp.Reconcile {
		a.Trigger()
	}
}
