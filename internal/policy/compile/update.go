package compile

import (
	"maps"
	"slices"
)

// Affected is the answer of an index change: the nodes whose compiled
// ruleset, level-1 rendering or peer set may differ afterwards. The
// caller recompiles only those and compares fingerprints.
type Affected map[string]struct{}

// IDs returns the affected node ids, sorted.
func (a Affected) IDs() []string { return slices.Sorted(maps.Keys(a)) }

func (a Affected) addAll(m map[string]struct{}) {
	for id := range m {
		a[id] = struct{}{}
	}
}

// SetNode adds or replaces a node (a join, a relabel, a readdressing).
// Cost: one selector match per policy plus the members of the policies
// whose membership of n changed.
func (x *Index) SetNode(n Node) Affected {
	aff := Affected{n.ID: {}}
	wasAll := x.allUncovered()
	x.addPeers(aff, n.ID) // they may lose n
	old := x.removeNode(n.ID)
	now := x.insertNode(n)
	moved := old == nil || !sameAddresses(old.Node, n)
	for _, id := range x.order {
		p := x.policies[id]
		_, wasSrc := old.srcOfOrNil()[id]
		_, isSrc := now.srcOf[id]
		if wasSrc != isSrc || (isSrc && moved) {
			aff.addAll(p.dst) // their inbound sources changed
		}
		_, wasDst := old.dstOfOrNil()[id]
		_, isDst := now.dstOf[id]
		if wasDst != isDst || (isDst && moved) {
			aff.addAll(p.src) // their outbound peers changed
		}
	}
	wasUncovered := old == nil || len(old.dstOf) == 0
	isUncovered := len(now.dstOf) == 0
	if x.mode == ModeAllow && (old == nil && isUncovered || wasUncovered != isUncovered || isUncovered && moved ||
		wasAll != x.allUncovered()) {
		x.everyone(aff) // everyone may reach an uncovered node
	}
	x.addPeers(aff, n.ID) // they may gain n
	return aff
}

// addPeers marks id's peers affected.
func (x *Index) addPeers(aff Affected, id string) {
	for _, p := range x.Peers(id) {
		aff[p] = struct{}{}
	}
}

// allUncovered reports whether no node is covered (the level-1 "* → *"
// rendering of allow mode).
func (x *Index) allUncovered() bool { return len(x.uncovered) == len(x.nodes)-x.gatewayCount() }

// RemoveNode drops a node (it left the Domain).
func (x *Index) RemoveNode(id string) Affected {
	aff := Affected{}
	wasAll := x.allUncovered()
	x.addPeers(aff, id)
	old := x.removeNode(id)
	if old == nil {
		return aff
	}
	for pid := range old.srcOf {
		aff.addAll(x.policies[pid].dst)
	}
	for pid := range old.dstOf {
		aff.addAll(x.policies[pid].src)
	}
	if x.mode == ModeAllow && (len(old.dstOf) == 0 || wasAll != x.allUncovered()) {
		x.everyone(aff)
	}
	return aff
}

// SetPolicy adds or replaces a policy (a new head revision). Cost: one
// selector match per node plus the old and new members.
func (x *Index) SetPolicy(p Policy) Affected {
	aff := x.RemovePolicy(p.ID)
	ps := &pstate{Policy: p, src: map[string]struct{}{}, dst: map[string]struct{}{}}
	x.policies[p.ID] = ps
	x.sortPolicies()
	var newlyCovered bool
	for id, n := range x.nodes {
		if p.selects(p.Source, &n.Node) {
			ps.src[id] = struct{}{}
			n.srcOf[p.ID] = struct{}{}
		}
		if p.selects(p.Destination, &n.Node) {
			ps.dst[id] = struct{}{}
			n.dstOf[p.ID] = struct{}{}
			if _, was := x.uncovered[id]; was {
				delete(x.uncovered, id)
				newlyCovered = true
			}
		}
	}
	aff.addAll(ps.src)
	aff.addAll(ps.dst)
	if x.mode == ModeAllow && newlyCovered {
		x.everyone(aff)
	}
	return aff
}

// RemovePolicy drops a policy (deleted); its former members are affected.
func (x *Index) RemovePolicy(id string) Affected {
	aff := Affected{}
	p, ok := x.policies[id]
	if !ok {
		return aff
	}
	delete(x.policies, id)
	x.sortPolicies()
	var uncovered bool
	for nid := range p.src {
		delete(x.nodes[nid].srcOf, id)
	}
	for nid := range p.dst {
		n := x.nodes[nid]
		delete(n.dstOf, id)
		if len(n.dstOf) == 0 {
			x.uncovered[nid] = struct{}{}
			uncovered = true
		}
	}
	aff.addAll(p.src)
	aff.addAll(p.dst)
	if x.mode == ModeAllow && uncovered {
		x.everyone(aff)
	}
	return aff
}

// SetMode changes the Domain default; every node is affected when it
// differs.
func (x *Index) SetMode(m Mode) Affected {
	aff := Affected{}
	if m != x.mode {
		x.mode = m
		x.everyone(aff)
	}
	return aff
}

// everyone marks every node affected.
func (x *Index) everyone(aff Affected) {
	for id := range x.nodes {
		aff[id] = struct{}{}
	}
}

func (s *nstate) srcOfOrNil() map[string]struct{} {
	if s == nil {
		return nil
	}
	return s.srcOf
}

func (s *nstate) dstOfOrNil() map[string]struct{} {
	if s == nil {
		return nil
	}
	return s.dstOf
}

// sameAddresses reports whether two versions of a node have the same
// prefixes.
func sameAddresses(a, b Node) bool {
	return a.MeshIP == b.MeshIP && a.MeshIPv6 == b.MeshIPv6 && slices.Equal(a.Routes, b.Routes)
}
