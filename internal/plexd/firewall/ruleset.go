// Package firewall enforces a node's compiled policy
// (nodeproto.NodeStatePolicy, docs/design/0006-policy.md) on traffic that
// arrives on the mesh interface. It owns the one decision procedure
// (Ruleset.Decide: deny beats allow, log allows and counts, anything not
// allowed is dropped, established and related return traffic passes) and
// two backends that apply it identically: an nftables table owned by
// plexd (kernel and userspace WireGuard on a host interface), journalled
// so a crashed agent removes it on restart, and a userspace filter that
// wraps the TUN device of wireguard-go with its own small connection
// tracker (netstack, or hosts without nftables). Both pass one compliance
// suite (compliance_test.go).
package firewall

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// MaxRules bounds a ruleset a node accepts; a larger block is refused
// whole rather than enforced in part.
const MaxRules = 10000

// IP protocol numbers the rules name.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Action is what a rule does with a matching flow.
type Action uint8

// Actions, in the order they are decided: a deny match wins over any log
// or allow match, a log match over an allow match.
const (
	ActionDeny Action = iota
	ActionLog
	ActionAllow
)

func (a Action) String() string {
	switch a {
	case ActionDeny:
		return nodeproto.ActionDeny
	case ActionLog:
		return nodeproto.ActionLog
	}
	return nodeproto.ActionAllow
}

// Rule is one validated compiled rule.
type Rule struct {
	Action Action
	// Proto is the IP protocol (6, 17, 1 for IPv4 ICMP, 58 for ICMPv6);
	// AnyProto is true for protocol "any".
	Proto    uint8
	AnyProto bool
	Src, Dst netip.Prefix
	// PortFrom..PortTo is the destination port range (tcp and udp only;
	// both 0 otherwise).
	PortFrom, PortTo uint16
}

// IPv6 reports whether the rule is of the IPv6 family.
func (r *Rule) IPv6() bool { return r.Src.Addr().Is6() }

// Ruleset is a node's validated compiled policy. The zero value and nil
// drop everything (no rule allows anything); a node not under policy
// control has no Ruleset at all.
type Ruleset struct {
	RevisionID  string
	Fingerprint string
	// Rules are grouped by action: every deny rule, then every log rule,
	// then every allow rule (each group in the order received); Decide and
	// the nftables chain both evaluate them in this order.
	Rules []Rule
}

// Build validates p and returns its Ruleset. It refuses the whole block
// when any rule cannot be enforced exactly.
func Build(p *nodeproto.NodeStatePolicy) (*Ruleset, error) {
	if p == nil {
		return nil, errors.New("firewall: no policy block")
	}
	if p.Fingerprint == "" {
		return nil, errors.New("firewall: the policy block has no fingerprint")
	}
	if len(p.Rules) > MaxRules {
		return nil, fmt.Errorf("firewall: %d rules exceed the limit of %d", len(p.Rules), MaxRules)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	groups := [3][]Rule{}
	for i := range p.Rules {
		r, err := ruleOf(&p.Rules[i])
		if err != nil {
			return nil, fmt.Errorf("firewall: rules[%d]: %w", i, err)
		}
		groups[r.Action] = append(groups[r.Action], r)
	}
	rs := &Ruleset{RevisionID: p.RevisionID, Fingerprint: p.Fingerprint, Rules: make([]Rule, 0, len(p.Rules))}
	for _, g := range groups {
		rs.Rules = append(rs.Rules, g...)
	}
	return rs, nil
}

// ruleOf converts one rule that passed CompiledRule.Validate.
func ruleOf(c *nodeproto.CompiledRule) (Rule, error) {
	var r Rule
	switch c.Action {
	case nodeproto.ActionDeny:
		r.Action = ActionDeny
	case nodeproto.ActionLog:
		r.Action = ActionLog
	default:
		r.Action = ActionAllow
	}
	src, err := netip.ParsePrefix(c.SourceCIDR)
	if err != nil {
		return r, err
	}
	dst, err := netip.ParsePrefix(c.DestinationCIDR)
	if err != nil {
		return r, err
	}
	// A 4in6-mapped prefix would match nothing the kernel sees as IPv4;
	// refuse it rather than enforce it differently in the two backends.
	if src.Addr().Is4In6() || dst.Addr().Is4In6() || src.Addr().Zone() != "" || dst.Addr().Zone() != "" {
		return r, errors.New("IPv4-mapped or zoned prefixes cannot be enforced")
	}
	r.Src, r.Dst = src.Masked(), dst.Masked()
	switch c.Protocol {
	case nodeproto.ProtocolTCP:
		r.Proto = ProtoTCP
	case nodeproto.ProtocolUDP:
		r.Proto = ProtoUDP
	case nodeproto.ProtocolICMP:
		r.Proto = ProtoICMP
		if r.IPv6() {
			r.Proto = ProtoICMPv6
		}
	default:
		r.AnyProto = true
	}
	if c.Ports != nil {
		r.PortFrom, r.PortTo = uint16(c.Ports.From), uint16(c.Ports.To)
	}
	return r, nil
}

// Flow is what a decision looks at: the first packet of a connection as
// it arrives from the mesh.
type Flow struct {
	Proto    uint8
	Src, Dst netip.Addr
	// DstPort is the TCP or UDP destination port (0 for other protocols).
	DstPort uint16
	// NoPorts marks a packet whose transport header is absent (a
	// non-first fragment): rules with ports cannot match it.
	NoPorts bool
}

// Verdict is a decision and the rule that made it (-1: no rule matched,
// the packet is dropped by default).
type Verdict struct {
	Allow  bool
	Logged bool
	Rule   int
}

// matches reports whether r applies to f.
func (r *Rule) matches(f *Flow) bool {
	if !r.AnyProto {
		if r.Proto != f.Proto {
			return false
		}
		if r.PortTo != 0 && (f.NoPorts || f.DstPort < r.PortFrom || f.DstPort > r.PortTo) {
			return false
		}
	}
	return r.Src.Contains(f.Src) && r.Dst.Contains(f.Dst)
}

// Decide applies the rules to the first packet of a flow: a deny match
// drops it; otherwise a log match passes it and counts it, an allow
// match passes it; nothing matching drops it. Rule order means nothing.
func (rs *Ruleset) Decide(f Flow) Verdict {
	if rs == nil {
		return Verdict{Rule: -1}
	}
	f.Src, f.Dst = f.Src.Unmap(), f.Dst.Unmap()
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if !r.matches(&f) {
			continue
		}
		// Rules are grouped deny, log, allow: the first match decides.
		switch r.Action {
		case ActionDeny:
			return Verdict{Rule: i}
		case ActionLog:
			return Verdict{Allow: true, Logged: true, Rule: i}
		}
		return Verdict{Allow: true, Rule: i}
	}
	return Verdict{Rule: -1}
}
