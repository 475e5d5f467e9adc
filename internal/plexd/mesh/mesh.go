// Package mesh declares how plexd's reconciler drives the node's WireGuard
// mesh: one whole desired Config handed to Engine.Set, which diffs against
// what it has applied and is idempotent (STYLE: interfaces take the whole
// desired config). The WireGuard engines live in internal/plexd/wg; Memory
// is an in-process engine for tests that touches nothing on the host, so
// it needs no journal. meshtest holds the channel-backed fake for tests.
package mesh

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Config is the complete desired mesh of a node.
type Config struct {
	// Interface and ListenPort are node-local (§12.1 defaults plexd0, 51820).
	Interface  string
	ListenPort int
	// Address is the node's mesh IP (bare IPv4).
	Address string
	// MeshCIDR is the Domain's IPv4 pool (state.mesh.mesh_cidr, level 2):
	// the address gets its prefix length and the pool is routed to the
	// interface. "" (level 1): the address is a /32 and every peer's
	// allowed_ips get a route.
	MeshCIDR string
	// AddressV6 and MeshIPv6CIDR are the node's IPv6 ULA and the Domain's
	// ULA prefix ("" when the node has none).
	AddressV6, MeshIPv6CIDR string
	// PrivateKey is the WireGuard private key, Key32. Never log it.
	PrivateKey string
	// Peers are sorted by ID.
	Peers []nodeproto.Peer
}

// Equal reports whether two configs describe the same mesh, comparing
// every peer member by content (allowed_ips as a set).
func (c Config) Equal(o Config) bool {
	if c.Interface != o.Interface || c.ListenPort != o.ListenPort || c.Address != o.Address ||
		c.MeshCIDR != o.MeshCIDR || c.AddressV6 != o.AddressV6 || c.MeshIPv6CIDR != o.MeshIPv6CIDR ||
		c.PrivateKey != o.PrivateKey || len(c.Peers) != len(o.Peers) {
		return false
	}
	for i := range c.Peers {
		if !PeerEqual(c.Peers[i], o.Peers[i]) {
			return false
		}
	}
	return true
}

// PeerEqual compares two peers by every member, allowed_ips as a set.
func PeerEqual(a, b nodeproto.Peer) bool {
	if a.ID != b.ID || a.PublicKey != b.PublicKey || a.MeshIP != b.MeshIP || a.Endpoint != b.Endpoint || a.PSK != b.PSK ||
		a.NodeID != b.NodeID || a.FallbackEndpoint != b.FallbackEndpoint || a.PersistentKeepalive != b.PersistentKeepalive ||
		a.MeshIPv6 != b.MeshIPv6 || !slices.Equal(a.Candidates, b.Candidates) || !relayEqual(a.Relay, b.Relay) {
		return false
	}
	as, bs := slices.Sorted(slices.Values(a.AllowedIPs)), slices.Sorted(slices.Values(b.AllowedIPs))
	return slices.Equal(slices.Compact(as), slices.Compact(bs))
}

func relayEqual(a, b *nodeproto.PeerRelay) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Stats is what the heartbeat reports about the mesh (§5.2 mesh member).
type Stats struct {
	Interface  string
	ListenPort int
	PeerCount  int
	// Backend names the engine: "memory", "kernel", "userspace" or "netstack".
	Backend string
	// Peers is each configured peer's path as the engine sees it, sorted
	// by peer ID (level 2 heartbeat mesh.peers); nil when the engine does
	// not observe paths.
	Peers []nodeproto.PeerStatus
}

// Engine applies a desired mesh.
type Engine interface {
	// Set makes the mesh equal to cfg. It is idempotent.
	Set(ctx context.Context, cfg Config) error
	// Stats reports the applied mesh.
	Stats() Stats
}

// Memory is an Engine that keeps the applied config in memory.
type Memory struct {
	// mu guards applied and sets.
	mu      sync.Mutex
	applied Config
	sets    int
}

// NewMemory returns an empty in-memory engine.
func NewMemory() *Memory { return &Memory{} }

// Set records cfg.
func (m *Memory) Set(_ context.Context, cfg Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.applied.Equal(cfg) {
		m.applied = clone(cfg)
		m.sets++
	}
	return nil
}

// Applied returns the current config.
func (m *Memory) Applied() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clone(m.applied)
}

// Stats reports the applied mesh.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Interface: m.applied.Interface, ListenPort: m.applied.ListenPort, PeerCount: len(m.applied.Peers), Backend: "memory"}
}

func clone(c Config) Config {
	c.Peers = slices.Clone(c.Peers)
	for i := range c.Peers {
		c.Peers[i].AllowedIPs = slices.Clone(c.Peers[i].AllowedIPs)
		c.Peers[i].Candidates = slices.Clone(c.Peers[i].Candidates)
		if r := c.Peers[i].Relay; r != nil {
			rc := *r
			c.Peers[i].Relay = &rc
		}
	}
	return c
}

// PeersFromMap returns the peers of m sorted by ID.
func PeersFromMap(m map[string]nodeproto.Peer) []nodeproto.Peer {
	out := make([]nodeproto.Peer, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[id])
	}
	return out
}
