package agent

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// STUNServers are the STUN servers of the desired state (state.mesh,
// level 2) and whether a state snapshot has been applied yet.
func (a *Agent) STUNServers() ([]string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.desired.Mesh == nil {
		return nil, a.haveApplied
	}
	return slices.Clone(a.desired.Mesh.STUNServers), a.haveApplied
}

// MeshPrefixes are the mesh's own prefixes (the Domain's pools, else the
// node's mesh IP): addresses in them are never endpoint candidates.
func (a *Agent) MeshPrefixes() []netip.Prefix {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []netip.Prefix
	add := func(s string) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	if m := a.desired.Mesh; m != nil {
		add(m.MeshCIDR)
		add(m.MeshIPv6CIDR)
	}
	if ip, err := netip.ParseAddr(a.id.MeshIP); err == nil {
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.BitLen()))
	}
	return out
}

// ApplyPeerEndpoints applies the peer endpoints of an endpoint answer as
// endpoint-only updates that keep every other member (§12.2 level 2);
// unknown peers and unusable endpoints are skipped.
func (a *Agent) ApplyPeerEndpoints(ctx context.Context, eps []nodeproto.PeerEndpoint) {
	changed := 0
	a.mu.Lock()
	for _, e := range eps {
		p, ok := a.desired.Peers[e.PeerID]
		if !ok || p.Endpoint == e.Endpoint || e.Endpoint == "" || !nodeproto.ValidPeerEndpoint(e.Endpoint) {
			continue
		}
		p.Endpoint = e.Endpoint
		a.desired.Peers[e.PeerID] = p
		changed++
	}
	if changed > 0 {
		a.eventGen++
	}
	a.mu.Unlock()
	if changed == 0 {
		return
	}
	if err := a.apply(ctx); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "applying peer endpoints failed", slog.Int(logkey.Peers, changed), slog.String(logkey.Error, err.Error()))
		a.Trigger()
	}
}
