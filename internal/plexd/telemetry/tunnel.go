package telemetry

import (
	"context"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// StaleHandshake is the age after which a tunnel's handshake is stale
// (WireGuard rejects a session older than 180 s).
const StaleHandshake = 3 * time.Minute

// MeshStats is what the tunnel collector reads: mesh.Engine's Stats.
type MeshStats interface {
	Stats() mesh.Stats
}

// Tunnels collects the "tunnel" group (one point per peer: rx_bytes,
// tx_bytes, last_handshake_time, handshake_age_seconds,
// handshake_succeeded, handshake_stale) and the "latency" group (rtt_nano
// of the engine's last tunnel probe; −1 when the path is down) from the
// mesh engine. Engines that observe no peers (the in-memory one) yield
// nothing.
type Tunnels struct {
	mesh MeshStats
}

// NewTunnels builds the tunnel and latency collector over m.
func NewTunnels(m MeshStats) *Tunnels { return &Tunnels{mesh: m} }

// Name implements MetricCollector.
func (t *Tunnels) Name() string { return GroupTunnel }

// Collect implements MetricCollector.
func (t *Tunnels) Collect(_ context.Context, now time.Time) ([]MetricPoint, error) {
	now = now.UTC()
	var out []MetricPoint
	for _, p := range t.mesh.Stats().Peers {
		if p.PeerID == "" {
			continue
		}
		out = append(out, tunnelPoint(p, now))
		if lp, ok := latencyPoint(p, now); ok {
			out = append(out, lp)
		}
	}
	return out, nil
}

func tunnelPoint(p nodeproto.PeerStatus, now time.Time) MetricPoint {
	ok := !p.LastHandshake.IsZero()
	data := map[string]any{
		"peer_id": p.PeerID, "rx_bytes": p.RxBytes, "tx_bytes": p.TxBytes,
		"handshake_succeeded": ok, "handshake_stale": !ok || now.Sub(p.LastHandshake) > StaleHandshake,
	}
	if ok {
		data["last_handshake_time"] = p.LastHandshake.UTC().Format(time.RFC3339Nano)
		data["handshake_age_seconds"] = max(0, now.Sub(p.LastHandshake).Seconds())
	}
	return MetricPoint{Timestamp: now, Group: GroupTunnel, PeerID: p.PeerID, Data: data}
}

// latencyPoint is the probe's round trip; a down path is a failed probe
// (−1); no probe answered yet on a live path is no point.
func latencyPoint(p nodeproto.PeerStatus, now time.Time) (MetricPoint, bool) {
	var rtt int64
	switch {
	case p.RTTMillis > 0:
		rtt = int64(p.RTTMillis * float64(time.Millisecond))
	case p.Path == nodeproto.PathDown:
		rtt = -1
	default:
		return MetricPoint{}, false
	}
	return MetricPoint{Timestamp: now, Group: GroupLatency, PeerID: p.PeerID,
		Data: map[string]any{"peer_id": p.PeerID, "rtt_nano": rtt}}, true
}
