package nodeproto

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// Values of the contract's compiled form (api.md §3.7) beyond the level-1
// ones (ActionAllow, ActionDeny, ProtocolTCP, ProtocolUDP): its
// PolicyAction and PolicyProtocol enums add log, icmp and "any" (which
// level 1 spells "").
const (
	ActionLog        = "log"
	ProtocolICMP     = "icmp"
	ProtocolAnyProto = "any"
)

// NodeStatePolicy is the contract's policy block of a node's state and the
// level-2 payload of policy_updated (docs/design/0006-policy.md): the
// node's compiled ruleset. Fingerprint is the base64 (standard, padded)
// SHA-256 the control plane computed over the compiled payloads in
// policy_id order; a node compares it byte for byte with what it applied
// and does nothing when it is unchanged. RevisionID names the revision the
// merged ruleset anchors on (the lowest policy id's head).
//
// Semantics (ours, api.md §3.7): rules say nothing about order; deny beats
// allow; log allows and counts; traffic no rule allows is dropped. The
// control plane renders a Domain's allow-all default as explicit allow
// rules, so an empty Rules means "deny everything on the mesh". A nil
// block (state "policy": null) means the node is not under policy
// control at all and plexd filters nothing.
type NodeStatePolicy struct {
	RevisionID  string         `json:"revision_id"`
	Fingerprint string         `json:"fingerprint"`
	Rules       []CompiledRule `json:"rules"`
}

// CompiledRule is the contract's NodeStateCompiledRule: one L3/L4 rule with
// selectors already resolved to prefixes. Source and destination share an
// address family; Ports is present exactly for tcp and udp.
type CompiledRule struct {
	Action          string     `json:"action" enum:"allow,deny,log"`
	Protocol        string     `json:"protocol" enum:"tcp,udp,icmp,any"`
	SourceCIDR      string     `json:"source_cidr"`
	DestinationCIDR string     `json:"destination_cidr"`
	Ports           *PortRange `json:"ports,omitempty"`
}

// PortRange is the contract's PolicyPortRange: From..To inclusive, 1..65535.
type PortRange struct {
	From int `json:"from" minimum:"1" maximum:"65535"`
	To   int `json:"to" minimum:"1" maximum:"65535"`
}

// MarshalJSON renders nil Rules as [].
func (p NodeStatePolicy) MarshalJSON() ([]byte, error) {
	type wire NodeStatePolicy
	w := wire(p)
	w.Rules = nonNil(w.Rules)
	return json.Marshal(w)
}

// Validate checks every rule (a node refuses a block it cannot enforce
// exactly, rather than enforcing part of it).
func (p *NodeStatePolicy) Validate() error {
	for i := range p.Rules {
		if err := p.Rules[i].Validate(); err != nil {
			return within(index("rules", i), err)
		}
	}
	return nil
}

// Validate checks the enums, the prefixes, their family and the ports.
func (r *CompiledRule) Validate() error {
	switch r.Action {
	case ActionAllow, ActionDeny, ActionLog:
	default:
		return invalid("action", "unknown")
	}
	src, err := netip.ParsePrefix(r.SourceCIDR)
	if err != nil {
		return invalid("source_cidr", "not a CIDR prefix")
	}
	dst, err := netip.ParsePrefix(r.DestinationCIDR)
	if err != nil {
		return invalid("destination_cidr", "not a CIDR prefix")
	}
	if src.Addr().Is4() != dst.Addr().Is4() {
		return invalid("destination_cidr", "address family differs from source_cidr")
	}
	switch r.Protocol {
	case ProtocolTCP, ProtocolUDP:
		if r.Ports == nil {
			return invalid("ports", fmt.Sprintf("required for %s", r.Protocol))
		}
		if r.Ports.From < 1 || r.Ports.To > 65535 || r.Ports.From > r.Ports.To {
			return invalid("ports", "not a range within 1..65535")
		}
	case ProtocolICMP, ProtocolAnyProto:
		if r.Ports != nil {
			return invalid("ports", fmt.Sprintf("not allowed for %s", r.Protocol))
		}
	default:
		return invalid("protocol", "unknown")
	}
	return nil
}
