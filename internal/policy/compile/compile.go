package compile

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/netip"
	"strconv"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// DefaultPolicyID names the synthetic payload of the allow-all default in
// the fingerprint input (it sorts before every real policy id, which are
// UUIDs or slugs of [A-Za-z0-9]).
const DefaultPolicyID = "-default"

// Compile returns the compiled ruleset of one node: the rules governing
// traffic that arrives at the node or is forwarded through it (its
// destination side), and false when the node is not indexed.
//
// A node some policy's destination selects gets exactly those policies'
// rules, with the source selector resolved to the source nodes'
// aggregated addresses and the destination to its own, each intersected
// with the rule's CIDRs. A node no policy covers gets the Domain default:
// no rules (deny) or an allow-any rule per own prefix (allow).
func (x *Index) Compile(nodeID string) (nodeproto.NodeStatePolicy, bool) {
	n, ok := x.nodes[nodeID]
	if !ok {
		return nodeproto.NodeStatePolicy{}, false
	}
	h := sha256.New()
	out := nodeproto.NodeStatePolicy{Rules: []nodeproto.CompiledRule{}}
	if n.Gateway { // nothing reaches a gateway: it only dials out
		out.Fingerprint = base64.StdEncoding.EncodeToString(h.Sum(nil))
		return out, true
	}
	if len(n.dstOf) == 0 {
		if x.mode == ModeAllow {
			out.Rules = defaultRules(n.Node)
			writePayload(h, nil, DefaultPolicyID, "", out.Rules)
		}
		x.gatewayRules(h, &out, n)
		out.Fingerprint = base64.StdEncoding.EncodeToString(h.Sum(nil))
		return out, true
	}
	own := n.prefixes()
	ids := sortedKeys(n.dstOf)
	size := 0
	for _, pid := range ids {
		for _, srcs := range x.srcStrings(x.policies[pid]) {
			size += len(srcs) * len(own)
		}
	}
	out.Rules = make([]nodeproto.CompiledRule, 0, min(size, 1<<16))
	buf := make([]byte, 0, 256)
	for _, pid := range ids {
		p := x.policies[pid]
		if out.RevisionID == "" {
			out.RevisionID = p.RevisionID
		}
		start := len(out.Rules)
		out.Rules = compilePolicy(out.Rules, p.Rules, x.srcStrings(p), own)
		buf = writePayload(h, buf, p.ID, p.RevisionID, out.Rules[start:])
	}
	x.gatewayRules(h, &out, n)
	out.Fingerprint = base64.StdEncoding.EncodeToString(h.Sum(nil))
	return out, true
}

// GatewayPolicyID names the synthetic payload of the session gateway's
// rules in the fingerprint input (after every real policy id).
const GatewayPolicyID = "~gateway"

// gatewayRules appends, when n's Project has session gateways, the one
// thing they may do: open TCP to n's access port (AccessPort).
func (x *Index) gatewayRules(h io.Writer, out *nodeproto.NodeStatePolicy, n *nstate) {
	gws := x.gateways[n.Project]
	if len(gws) == 0 {
		return
	}
	start := len(out.Rules)
	ports := &nodeproto.PortRange{From: nodeproto.DefaultAccessPort, To: nodeproto.DefaultAccessPort}
	for _, id := range sortedKeys(gws) {
		g := x.nodes[id]
		for _, d := range n.prefixes() {
			if !d.Addr().Is4() {
				continue
			}
			p := *ports
			out.Rules = append(out.Rules, nodeproto.CompiledRule{Action: nodeproto.ActionAllow, Protocol: nodeproto.ProtocolTCP,
				SourceCIDR: netip.PrefixFrom(g.MeshIP, 32).String(), DestinationCIDR: d.String(), Ports: &p})
		}
	}
	writePayload(h, nil, GatewayPolicyID, "", out.Rules[start:])
}

// CompileAll compiles every node.
func (x *Index) CompileAll() map[string]nodeproto.NodeStatePolicy {
	out := make(map[string]nodeproto.NodeStatePolicy, len(x.nodes))
	for id := range x.nodes {
		out[id], _ = x.Compile(id)
	}
	return out
}

// Compile compiles one node's ruleset from scratch; see [Index.Compile].
func Compile(mode Mode, policies []Policy, nodes []Node, nodeID string) (nodeproto.NodeStatePolicy, bool) {
	return NewIndex(mode, policies, nodes).Compile(nodeID)
}

// compilePolicy appends rules rendered for sources srcs (per rule, as
// strings, already intersected) and destinations dsts to out.
func compilePolicy(out []nodeproto.CompiledRule, rules []Rule, srcs [][]string, dsts []netip.Prefix) []nodeproto.CompiledRule {
	for i, r := range rules {
		if len(srcs[i]) == 0 {
			continue
		}
		for _, d := range dsts {
			dd, ok := intersect(d, r.Destination)
			if !ok {
				continue
			}
			dst := dd.String()
			var ports *nodeproto.PortRange
			if r.Ports != nil {
				p := *r.Ports // the rules of one output share it, never the index's
				ports = &p
			}
			for _, src := range srcs[i] {
				out = append(out, nodeproto.CompiledRule{Action: r.Action, Protocol: r.Protocol, SourceCIDR: src,
					DestinationCIDR: dst, Ports: ports})
			}
		}
	}
	return out
}

// defaultRules is the allow-all default of an uncovered node: anything
// may reach each of its prefixes.
func defaultRules(n Node) []nodeproto.CompiledRule {
	var out []nodeproto.CompiledRule
	for _, p := range n.prefixes() {
		any4 := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if p.Addr().Is6() {
			any4 = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		out = append(out, nodeproto.CompiledRule{
			Action: nodeproto.ActionAllow, Protocol: nodeproto.ProtocolAnyProto,
			SourceCIDR: any4.String(), DestinationCIDR: p.String(),
		})
	}
	return out
}

// writePayload writes the JSON of one payload {policy_id, revision_id,
// rules} and a newline to w (the fingerprint's input), one rule at a time
// through scratch, which it returns for reuse. It encodes exactly as
// encoding/json would (a test holds it to that) without reflection, as it
// runs for every rule of every node.
func writePayload(w io.Writer, scratch []byte, policyID, revisionID string, rules []nodeproto.CompiledRule) []byte {
	b := append(scratch[:0], `{"policy_id":`...)
	b = appendJSONString(b, policyID)
	b = append(b, `,"revision_id":`...)
	b = appendJSONString(b, revisionID)
	b = append(b, `,"rules":[`...)
	for i := range rules {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRule(b, &rules[i])
		w.Write(b)
		b = b[:0]
	}
	b = append(b, "]}\n"...)
	w.Write(b)
	return b
}

// appendRule appends one compiled rule's JSON.
func appendRule(b []byte, r *nodeproto.CompiledRule) []byte {
	b = append(b, `{"action":`...)
	b = appendJSONString(b, r.Action)
	b = append(b, `,"protocol":`...)
	b = appendJSONString(b, r.Protocol)
	b = append(b, `,"source_cidr":`...)
	b = appendJSONString(b, r.SourceCIDR)
	b = append(b, `,"destination_cidr":`...)
	b = appendJSONString(b, r.DestinationCIDR)
	if r.Ports != nil {
		b = append(b, `,"ports":{"from":`...)
		b = strconv.AppendInt(b, int64(r.Ports.From), 10)
		b = append(b, `,"to":`...)
		b = strconv.AppendInt(b, int64(r.Ports.To), 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; anything but plain
// printable ASCII goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
