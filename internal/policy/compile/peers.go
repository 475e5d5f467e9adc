package compile

import (
	"net/netip"
	"slices"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Peers returns the nodes the given node may exchange traffic with in
// either direction under the index's policies, sorted: the mesh shows a
// node only these peers. It is nil for an unknown node.
func (x *Index) Peers(nodeID string) []string {
	n, ok := x.nodes[nodeID]
	if !ok {
		return nil
	}
	set := map[string]struct{}{}
	if n.Gateway { // every node of its Project, nothing else
		for id, m := range x.nodes {
			if m.Project == n.Project && !m.Gateway {
				set[id] = struct{}{}
			}
		}
		return sortedKeys(set)
	}
	if x.mode == ModeAllow && len(n.dstOf) == 0 {
		x.everyone(set)
	} else {
		for pid := range n.dstOf {
			for s := range x.policies[pid].src {
				if x.canReach(x.nodes[s], n) {
					set[s] = struct{}{}
				}
			}
		}
		x.outbound(n, func(d *nstate) { set[d.ID] = struct{}{} })
	}
	for id := range set { // gateways are peers of their own Project only
		if m := x.nodes[id]; m != nil && m.Gateway && m.Project != n.Project {
			delete(set, id)
		}
	}
	for id := range x.gateways[n.Project] {
		set[id] = struct{}{}
	}
	delete(set, nodeID)
	return sortedKeys(set)
}

// outbound calls f for every node n may send something to.
func (x *Index) outbound(n *nstate, f func(d *nstate)) {
	for pid := range n.srcOf {
		for d := range x.policies[pid].dst {
			if dn := x.nodes[d]; x.canReach(n, dn) {
				f(dn)
			}
		}
	}
	if x.mode == ModeAllow {
		for u := range x.uncovered {
			f(x.nodes[u])
		}
	}
}

// canReach reports whether some traffic from a to b is allowed: b is an
// uncovered node in allow mode, or an allow or log rule of a policy
// selecting both links their addresses and no protocol-any deny drops the
// whole pair.
func (x *Index) canReach(a, b *nstate) bool {
	if len(b.dstOf) == 0 {
		return x.mode == ModeAllow
	}
	linked := false
	for pid := range b.dstOf {
		if _, ok := a.srcOf[pid]; !ok {
			continue
		}
		for _, r := range x.policies[pid].Rules {
			if r.Action == nodeproto.ActionDeny {
				if r.Protocol == nodeproto.ProtocolAnyProto && coversPair(r, a.Node, b.Node) {
					return false
				}
				continue
			}
			linked = linked || touches(a.prefixes(), r.Source) && touches(b.prefixes(), r.Destination)
		}
	}
	return linked
}

// touches reports whether any of ps overlaps c.
func touches(ps []netip.Prefix, c netip.Prefix) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { _, ok := intersect(p, c); return ok })
}

// coversPair reports whether r's prefixes hold every address of a and b.
func coversPair(r Rule, a, b Node) bool {
	for _, p := range a.prefixes() {
		if p.Addr().Is4() == r.Source.Addr().Is4() && !(r.Source.Bits() <= p.Bits() && r.Source.Contains(p.Addr())) {
			return false
		}
	}
	for _, p := range b.prefixes() {
		if p.Addr().Is4() == r.Destination.Addr().Is4() && !(r.Destination.Bits() <= p.Bits() && r.Destination.Contains(p.Addr())) {
			return false
		}
	}
	return !a.MeshIPv6.IsValid() && !b.MeshIPv6.IsValid() && len(a.Routes) == 0 && len(b.Routes) == 0
}
