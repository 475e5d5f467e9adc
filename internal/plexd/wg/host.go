package wg

import (
	"net/netip"
	"slices"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// hostWant is the interface's addresses and routes.
type hostWant struct {
	addrs  []netip.Prefix // address with its prefix length
	routes []netip.Prefix // destinations routed to the interface
}

// hostWantOf computes the addresses and routes of cfg: the mesh IP with
// the Domain's prefix length (the kernel then routes the pool), or a /32
// when the prefix is unknown (level 1); the IPv6 ULA likewise with /128;
// a route for every allowed IP no address prefix covers.
func hostWantOf(cfg mesh.Config, peers map[string]*wantPeer) hostWant {
	var w hostWant
	add := func(addr, cidr string, full int) {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		a = a.Unmap()
		bits := full
		if p, err := netip.ParsePrefix(cidr); err == nil && p.Addr().Is4() == a.Is4() && p.Masked().Contains(a) {
			bits = p.Bits()
		}
		w.addrs = append(w.addrs, netip.PrefixFrom(a, bits))
	}
	add(cfg.Address, cfg.MeshCIDR, 32)
	add(cfg.AddressV6, cfg.MeshIPv6CIDR, 128)
	for _, id := range sortedKeys(peers) {
		for _, r := range peers[id].allowed {
			if !covered(w.addrs, r) && !slices.Contains(w.routes, r) {
				w.routes = append(w.routes, r)
			}
		}
	}
	slices.SortFunc(w.routes, comparePrefix)
	return w
}

// covered reports whether r lies inside the on-link prefix of an address.
func covered(addrs []netip.Prefix, r netip.Prefix) bool {
	for _, a := range addrs {
		c := a.Masked()
		if c.Addr().Is4() == r.Addr().Is4() && c.Bits() <= r.Bits() && c.Contains(r.Addr()) && c.Bits() < c.Addr().BitLen() {
			return true
		}
	}
	return false
}
