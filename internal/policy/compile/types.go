package compile

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/selector"
)

// Mode is a Domain's default for nodes no policy covers
// (docs/design/0006-policy.md, "Default").
type Mode string

// Modes. ModeDeny is the default of new Domains; ModeAllow is the
// documented allow-all bootstrap mode.
const (
	ModeDeny  Mode = "deny"
	ModeAllow Mode = "allow"
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeDeny || m == ModeAllow }

// Limits of one compilation input.
const (
	// MaxRules is the most rules a revision holds (api.md §3.7).
	MaxRules = 1024
	// MaxL1PortsPerRule bounds the level-1 expansion of a port range into
	// single-port rules; a wider range is not rendered at level 1 (which
	// is more restrictive, X4).
	MaxL1PortsPerRule = 64
)

// Rule is one rule of a policy revision, parsed.
type Rule struct {
	Action   string // nodeproto.ActionAllow, ActionDeny or ActionLog
	Protocol string // nodeproto.ProtocolTCP, ProtocolUDP, ProtocolICMP or ProtocolAnyProto
	// Source and Destination narrow the selected nodes' addresses; both
	// have the same address family.
	Source, Destination netip.Prefix
	// Ports is set exactly for tcp and udp.
	Ports *nodeproto.PortRange
}

// Policy is the head revision of one policy, parsed. Source and
// Destination select nodes by their labels; neither may be empty.
type Policy struct {
	ID, RevisionID string
	// Project scopes the policy: it selects only nodes of that Project
	// ("" selects nodes of any Project, for callers that load one
	// Project's nodes only).
	Project             string
	Source, Destination selector.Selector
	Rules               []Rule
}

// Node is one node of a Domain as the compiler sees it.
type Node struct {
	ID string
	// Project is the node's Project (see Policy.Project).
	Project string
	Labels  map[string]string
	// MeshIP is the node's IPv4 mesh address; MeshIPv6 its ULA, the zero
	// Addr when it has none.
	MeshIP, MeshIPv6 netip.Addr
	// Routes are subnets the node routes into the mesh (bridges); rules
	// whose CIDRs fall inside them apply to traffic forwarded there.
	Routes []netip.Prefix
	// Gateway marks the session gateway of Project (node kind gateway,
	// docs/design/0008-access.md): no policy selects it; it is a peer of
	// every node of its Project, which admit it on their access port only.
	Gateway bool
}

// ErrInvalid marks an input the compiler refuses.
var ErrInvalid = errors.New("compile: invalid input")

// Validate checks a rule the way api.md §3.7 does.
func (r Rule) Validate() error {
	c := r.wire(r.Source, r.Destination)
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if r.Source.Masked() != r.Source || r.Destination.Masked() != r.Destination {
		return fmt.Errorf("%w: prefix has host bits set", ErrInvalid)
	}
	return nil
}

// Validate checks the selectors, the rule count and every rule.
func (p Policy) Validate() error {
	switch {
	case p.ID == "":
		return fmt.Errorf("%w: policy without id", ErrInvalid)
	case p.Source.Empty() || p.Destination.Empty():
		return fmt.Errorf("%w: policy %s: empty selector", ErrInvalid, p.ID)
	case len(p.Rules) < 1 || len(p.Rules) > MaxRules:
		return fmt.Errorf("%w: policy %s: %d rules, want 1..%d", ErrInvalid, p.ID, len(p.Rules), MaxRules)
	}
	for i, r := range p.Rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("policy %s: rules[%d]: %w", p.ID, i, err)
		}
	}
	return nil
}

// Validate checks the node's id and addresses.
func (n Node) Validate() error {
	switch {
	case n.ID == "":
		return fmt.Errorf("%w: node without id", ErrInvalid)
	case !n.MeshIP.Is4():
		return fmt.Errorf("%w: node %s: mesh ip is not IPv4", ErrInvalid, n.ID)
	case n.MeshIPv6.IsValid() && !n.MeshIPv6.Is6():
		return fmt.Errorf("%w: node %s: mesh ipv6 is not IPv6", ErrInvalid, n.ID)
	}
	return nil
}

// wire renders r with the given prefixes as a compiled rule.
func (r Rule) wire(src, dst netip.Prefix) nodeproto.CompiledRule {
	c := nodeproto.CompiledRule{
		Action:          r.Action,
		Protocol:        r.Protocol,
		SourceCIDR:      src.String(),
		DestinationCIDR: dst.String(),
	}
	if r.Ports != nil {
		p := *r.Ports
		c.Ports = &p
	}
	return c
}

// prefixes returns the node's own prefixes: /32, /128 and its routes.
func (n Node) prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, 2+len(n.Routes))
	if n.MeshIP.IsValid() {
		out = append(out, netip.PrefixFrom(n.MeshIP, 32))
	}
	if n.MeshIPv6.IsValid() {
		out = append(out, netip.PrefixFrom(n.MeshIPv6, 128))
	}
	for _, r := range n.Routes {
		out = append(out, r.Masked())
	}
	return out
}

// selects reports whether p's selector sel matches n, within p's Project.
func (p *Policy) selects(sel selector.Selector, n *Node) bool {
	return (p.Project == "" || p.Project == n.Project) && sel.Matches(n.Labels)
}
