package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Level1PolicyPrefix starts every level-1 policy id; the rest is a digest
// of the rules, so a changed rule set gets a new id (S1, P3).
const Level1PolicyPrefix = "policy-"

// Level1 renders the node's view for agents that negotiated nothing
// (node-protocol.md §12.3): node-id rules that allow at most what the
// compiled rules allow (X4). Such an agent configures a peer only where an
// allow rule links it with the node, so the rules name every pair the
// node may exchange traffic with, in both directions. What level 1 cannot
// say is left out, which only ever restricts: ICMP, IPv6 and routed
// subnets, CIDRs narrower than a node, port ranges wider than
// [MaxL1PortsPerRule] ports unless they span all ports, and an allow-any
// that some deny carves a hole into (rendered as tcp and udp where no deny
// touches them). The result is nil when the node may reach nothing; at
// most one policy otherwise.
func (x *Index) Level1(nodeID string) []nodeproto.Policy {
	n, ok := x.nodes[nodeID]
	if !ok {
		return nil
	}
	var rules []nodeproto.PolicyRule
	if x.mode == ModeAllow && len(x.uncovered) == len(x.nodes) {
		rules = []nodeproto.PolicyRule{{Src: nodeproto.AnyNode, Dst: nodeproto.AnyNode, Action: nodeproto.ActionAllow}}
	} else {
		rules = x.level1Rules(n)
	}
	if len(rules) == 0 {
		return nil
	}
	b, err := json.Marshal(rules)
	if err != nil {
		panic("compile: level-1 rules do not encode: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return []nodeproto.Policy{{ID: Level1PolicyPrefix + hex.EncodeToString(sum[:16]), Rules: rules}}
}

// level1Rules lists n's inbound then outbound pairs, sorted and deduplicated.
func (x *Index) level1Rules(n *nstate) []nodeproto.PolicyRule {
	var out []nodeproto.PolicyRule
	if len(n.dstOf) == 0 {
		if x.mode == ModeAllow {
			out = append(out, nodeproto.PolicyRule{Src: nodeproto.AnyNode, Dst: n.ID, Action: nodeproto.ActionAllow})
		}
	} else {
		seen := map[string]struct{}{}
		for pid := range n.dstOf {
			for s := range x.policies[pid].src {
				if _, dup := seen[s]; !dup && s != n.ID {
					seen[s] = struct{}{}
					out = append(out, x.pairRules(x.nodes[s], n)...)
				}
			}
		}
	}
	seen := map[string]struct{}{}
	x.outbound(n, func(d *nstate) {
		if _, dup := seen[d.ID]; dup || d.ID == n.ID {
			return
		}
		seen[d.ID] = struct{}{}
		if len(d.dstOf) == 0 {
			out = append(out, nodeproto.PolicyRule{Src: n.ID, Dst: d.ID, Action: nodeproto.ActionAllow})
			return
		}
		out = append(out, x.pairRules(n, d)...)
	})
	slices.SortFunc(out, compareL1)
	return slices.Compact(out)
}

// pairRules renders what a may send to b (a covered node) at level 1.
func (x *Index) pairRules(a, b *nstate) []nodeproto.PolicyRule {
	var allowAny bool
	var allows []Rule
	denied := map[string][][2]int{} // protocol → denied port ranges
	for pid := range b.dstOf {
		if _, ok := a.srcOf[pid]; !ok {
			continue
		}
		for _, r := range x.policies[pid].Rules {
			if !r.Source.Contains(a.MeshIP) || !r.Destination.Contains(b.MeshIP) {
				continue
			}
			switch {
			case r.Action == nodeproto.ActionDeny && r.Protocol == nodeproto.ProtocolAnyProto:
				return nil
			case r.Action == nodeproto.ActionDeny:
				denied[r.Protocol] = append(denied[r.Protocol], portsOf(r))
			case r.Protocol == nodeproto.ProtocolAnyProto:
				allowAny = true
			default:
				allows = append(allows, r)
			}
		}
	}
	pair := func(port int, proto string) nodeproto.PolicyRule {
		return nodeproto.PolicyRule{Src: a.ID, Dst: b.ID, Port: port, Protocol: proto, Action: nodeproto.ActionAllow}
	}
	if allowAny && len(denied) == 0 {
		return []nodeproto.PolicyRule{pair(0, nodeproto.ProtocolAny)}
	}
	var out []nodeproto.PolicyRule
	if allowAny {
		for _, proto := range []string{nodeproto.ProtocolTCP, nodeproto.ProtocolUDP} {
			if len(denied[proto]) == 0 {
				out = append(out, pair(0, proto))
			}
		}
	}
	for _, r := range allows {
		if r.Protocol != nodeproto.ProtocolTCP && r.Protocol != nodeproto.ProtocolUDP {
			continue // icmp: level 1 cannot say it
		}
		from, to := r.Ports.From, r.Ports.To
		switch {
		case from == 1 && to == 65535 && len(denied[r.Protocol]) == 0:
			out = append(out, pair(0, r.Protocol))
		case to-from < MaxL1PortsPerRule:
			for p := from; p <= to; p++ {
				if !inRanges(p, denied[r.Protocol]) {
					out = append(out, pair(p, r.Protocol))
				}
			}
		}
	}
	return out
}

func portsOf(r Rule) [2]int {
	if r.Ports == nil {
		return [2]int{1, 65535}
	}
	return [2]int{r.Ports.From, r.Ports.To}
}

func inRanges(p int, rs [][2]int) bool {
	return slices.ContainsFunc(rs, func(r [2]int) bool { return p >= r[0] && p <= r[1] })
}

func compareL1(a, b nodeproto.PolicyRule) int {
	switch {
	case a.Src != b.Src:
		return cmpStr(a.Src, b.Src)
	case a.Dst != b.Dst:
		return cmpStr(a.Dst, b.Dst)
	case a.Protocol != b.Protocol:
		return cmpStr(a.Protocol, b.Protocol)
	}
	return a.Port - b.Port
}

func cmpStr(a, b string) int {
	if a < b {
		return -1
	}
	return 1
}
