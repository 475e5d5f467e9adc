package compile

import (
	"maps"
	"net/netip"
	"slices"
)

// Index holds a Domain's policies and nodes with their selector
// memberships, so that compiling one node and absorbing one change cost
// work proportional to the nodes concerned rather than to the fleet. An
// Index is not safe for concurrent use; its owner serialises access.
type Index struct {
	mode     Mode
	policies map[string]*pstate
	order    []string // policy ids, sorted
	nodes    map[string]*nstate
	// uncovered holds the nodes no policy's destination selects
	// (gateways excluded).
	uncovered map[string]struct{}
	// gateways holds each Project's session gateways.
	gateways map[string]map[string]struct{}
}

// pstate is one policy and the nodes its selectors match.
type pstate struct {
	Policy
	src, dst map[string]struct{}
	// srcAgg caches the aggregated prefixes of src; nil when stale.
	srcAgg []netip.Prefix
	// srcStr caches, per rule, srcAgg intersected with the rule's source
	// as strings; nil when stale (with srcAgg).
	srcStr [][]string
}

// nstate is one node and the policies that select it.
type nstate struct {
	Node
	srcOf, dstOf map[string]struct{}
}

// NewIndex indexes policies and nodes under mode. Inputs are expected to
// be valid (see [Policy.Validate], [Node.Validate]); later entries with a
// repeated id replace earlier ones.
func NewIndex(mode Mode, policies []Policy, nodes []Node) *Index {
	x := &Index{
		mode:      mode,
		policies:  make(map[string]*pstate, len(policies)),
		nodes:     make(map[string]*nstate, len(nodes)),
		uncovered: make(map[string]struct{}, len(nodes)),
		gateways:  map[string]map[string]struct{}{},
	}
	for _, p := range policies {
		x.policies[p.ID] = &pstate{Policy: p, src: map[string]struct{}{}, dst: map[string]struct{}{}}
	}
	x.sortPolicies()
	for _, n := range nodes {
		x.insertNode(n)
	}
	return x
}

// Mode returns the Domain default the index compiles with.
func (x *Index) Mode() Mode { return x.mode }

// Len returns the number of nodes and policies indexed.
func (x *Index) Len() (nodes, policies int) { return len(x.nodes), len(x.policies) }

// Covered reports whether some policy's destination selects the node:
// its inbound traffic is then governed by rules only (default deny).
func (x *Index) Covered(nodeID string) bool {
	n, ok := x.nodes[nodeID]
	return ok && len(n.dstOf) > 0
}

// NodeIDs returns every indexed node id, sorted.
func (x *Index) NodeIDs() []string {
	return slices.Sorted(maps.Keys(x.nodes))
}

func (x *Index) sortPolicies() {
	x.order = slices.Sorted(maps.Keys(x.policies))
}

// insertNode adds n, which is not indexed, and matches it against every
// policy.
func (x *Index) insertNode(n Node) *nstate {
	s := &nstate{Node: n, srcOf: map[string]struct{}{}, dstOf: map[string]struct{}{}}
	if n.Gateway {
		x.nodes[n.ID] = s
		if x.gateways[n.Project] == nil {
			x.gateways[n.Project] = map[string]struct{}{}
		}
		x.gateways[n.Project][n.ID] = struct{}{}
		return s
	}
	for _, id := range x.order {
		p := x.policies[id]
		if p.selects(p.Source, &n) {
			s.srcOf[id] = struct{}{}
			p.src[n.ID] = struct{}{}
			p.srcAgg, p.srcStr = nil, nil
		}
		if p.selects(p.Destination, &n) {
			s.dstOf[id] = struct{}{}
			p.dst[n.ID] = struct{}{}
		}
	}
	x.nodes[n.ID] = s
	if len(s.dstOf) == 0 {
		x.uncovered[n.ID] = struct{}{}
	} else {
		delete(x.uncovered, n.ID)
	}
	return s
}

// removeNode drops a node from the index and its policies' member sets.
func (x *Index) removeNode(id string) *nstate {
	s, ok := x.nodes[id]
	if !ok {
		return nil
	}
	for pid := range s.srcOf {
		p := x.policies[pid]
		delete(p.src, id)
		p.srcAgg, p.srcStr = nil, nil
	}
	for pid := range s.dstOf {
		delete(x.policies[pid].dst, id)
	}
	delete(x.nodes, id)
	delete(x.uncovered, id)
	if s.Gateway {
		delete(x.gateways[s.Project], id)
		if len(x.gateways[s.Project]) == 0 {
			delete(x.gateways, s.Project)
		}
	}
	return s
}

// gatewayCount is the number of indexed gateways.
func (x *Index) gatewayCount() int {
	n := 0
	for _, g := range x.gateways {
		n += len(g)
	}
	return n
}

// srcPrefixes returns the aggregated prefixes of p's source nodes.
func (x *Index) srcPrefixes(p *pstate) []netip.Prefix {
	if p.srcAgg != nil {
		return p.srcAgg
	}
	all := make([]netip.Prefix, 0, len(p.src)+1)
	for id := range p.src {
		all = append(all, x.nodes[id].prefixes()...)
	}
	p.srcAgg = aggregate(all)
	return p.srcAgg
}

// srcStrings returns, per rule of p, its compiled source prefixes.
func (x *Index) srcStrings(p *pstate) [][]string {
	if p.srcStr != nil && p.srcAgg != nil {
		return p.srcStr
	}
	srcs := x.srcPrefixes(p)
	p.srcStr = make([][]string, len(p.Rules))
	for i, r := range p.Rules {
		for _, s := range srcs {
			if ss, ok := intersect(s, r.Source); ok {
				p.srcStr[i] = append(p.srcStr[i], ss.String())
			}
		}
	}
	return p.srcStr
}

// sortedKeys returns a set's members in order.
func sortedKeys(m map[string]struct{}) []string {
	return slices.Sorted(maps.Keys(m))
}

// Node returns an indexed node.
func (x *Index) Node(id string) (Node, bool) {
	n, ok := x.nodes[id]
	if !ok {
		return Node{}, false
	}
	return n.Node, true
}

// Policy returns an indexed policy.
func (x *Index) Policy(id string) (Policy, bool) {
	p, ok := x.policies[id]
	if !ok {
		return Policy{}, false
	}
	return p.Policy, true
}
