package compile

import (
	"fmt"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Flow is one packet's (or connection's) identity as a ruleset sees it.
// Protocol is tcp, udp or icmp, or "any" for any other IP protocol (which
// only protocol-any rules match); Port is the destination port, used for
// tcp and udp only.
type Flow struct {
	Src, Dst netip.Addr
	Protocol string
	Port     int
}

// Verdict is what a ruleset decides for a flow.
type Verdict struct {
	// Allow is true when the flow passes.
	Allow bool
	// Log is true when a log rule matched an allowed flow: it passes and
	// is counted.
	Log bool
	// Rule is the index of the deciding rule (the first matching deny, else
	// the first matching log, else the first matching allow), -1 when no
	// rule matched and the flow is dropped by default.
	Rule int
}

// Ruleset is a compiled ruleset with its prefixes parsed, ready to
// decide flows.
type Ruleset struct {
	rules []parsedRule
}

type parsedRule struct {
	action, protocol string
	src, dst         netip.Prefix
	from, to         int
}

// ParseRuleset parses compiled rules; an invalid rule is an error, never
// skipped (skipping a deny would allow more).
func ParseRuleset(rules []nodeproto.CompiledRule) (Ruleset, error) {
	out := Ruleset{rules: make([]parsedRule, 0, len(rules))}
	for i := range rules {
		r := &rules[i]
		if err := r.Validate(); err != nil {
			return Ruleset{}, fmt.Errorf("%w: rules[%d]: %v", ErrInvalid, i, err)
		}
		p := parsedRule{action: r.Action, protocol: r.Protocol}
		p.src, _ = netip.ParsePrefix(r.SourceCIDR)
		p.dst, _ = netip.ParsePrefix(r.DestinationCIDR)
		if r.Ports != nil {
			p.from, p.to = r.Ports.From, r.Ports.To
		}
		out.rules = append(out.rules, p)
	}
	return out, nil
}

// Decide parses rules and decides f; an unparsable ruleset denies.
func Decide(rules []nodeproto.CompiledRule, f Flow) Verdict {
	rs, err := ParseRuleset(rules)
	if err != nil {
		return Verdict{Rule: -1}
	}
	return rs.Decide(f)
}

// Decide applies the semantics of docs/design/0006-policy.md: rule order
// has no meaning; a matching deny drops the flow whatever else matches; a
// matching log or allow passes it (log also counts it); a flow no rule
// matches is dropped.
func (rs Ruleset) Decide(f Flow) Verdict {
	logAt, allowAt := -1, -1
	for i := range rs.rules {
		r := &rs.rules[i]
		if !r.matches(f) {
			continue
		}
		switch r.action {
		case nodeproto.ActionDeny:
			return Verdict{Rule: i}
		case nodeproto.ActionLog:
			if logAt < 0 {
				logAt = i
			}
		default:
			if allowAt < 0 {
				allowAt = i
			}
		}
	}
	switch {
	case logAt >= 0:
		return Verdict{Allow: true, Log: true, Rule: logAt}
	case allowAt >= 0:
		return Verdict{Allow: true, Rule: allowAt}
	}
	return Verdict{Rule: -1}
}

// matches reports whether r applies to f.
func (r *parsedRule) matches(f Flow) bool {
	if !r.src.Contains(f.Src) || !r.dst.Contains(f.Dst) {
		return false
	}
	if r.protocol == nodeproto.ProtocolAnyProto {
		return true
	}
	if r.protocol != f.Protocol {
		return false
	}
	if r.protocol == nodeproto.ProtocolTCP || r.protocol == nodeproto.ProtocolUDP {
		return f.Port >= r.from && f.Port <= r.to
	}
	return true
}

// Evaluate decides a flow from node from to node to under the index's
// policies, through the destination's compiled ruleset (the one place
// enforcement happens), from the source's IPv4 mesh address. ok is false
// when either node is not indexed.
func (x *Index) Evaluate(from, to, protocol string, port int) (v Verdict, ok bool) {
	src, ok1 := x.nodes[from]
	dst, ok2 := x.nodes[to]
	if !ok1 || !ok2 {
		return Verdict{Rule: -1}, false
	}
	compiled, _ := x.Compile(to)
	f := Flow{Src: src.MeshIP, Dst: dst.MeshIP, Protocol: protocol, Port: port}
	return Decide(compiled.Rules, f), true
}
