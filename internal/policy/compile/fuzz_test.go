package compile

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/selector"
)

// world is a random Domain decoded from fuzz bytes.
type world struct {
	mode     Mode
	policies []Policy
	nodes    []Node
}

// reader hands out fuzz bytes, zeros when they run out.
type reader struct {
	b []byte
	i int
}

func (r *reader) next() int {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return int(r.b[r.i-1])
}

func (r *reader) pick(n int) int { return r.next() % n }

var (
	fuzzSelectors = []string{"role=a", "role=b", "role in (a, b)", "role!=c", "env", "!env", "role=c,env=x"}
	fuzzCIDRs     = []string{"0.0.0.0/0", "10.0.0.0/30", "10.0.0.4/31", "10.0.0.0/29", "10.0.0.2/32", "10.0.0.5/32", "192.168.0.0/16"}
	fuzzActions   = []string{nodeproto.ActionAllow, nodeproto.ActionDeny, nodeproto.ActionLog}
	fuzzProtos    = []string{nodeproto.ProtocolTCP, nodeproto.ProtocolUDP, nodeproto.ProtocolICMP, nodeproto.ProtocolAnyProto}
	fuzzProjects  = []string{"p1", "p2"}
)

func decodeWorld(b []byte) world {
	r := &reader{b: b}
	w := world{mode: ModeDeny}
	if r.pick(2) == 1 {
		w.mode = ModeAllow
	}
	used := map[int]bool{}
	for i, n := 0, 1+r.pick(8); i < n; i++ {
		host := r.pick(8)
		if used[host] {
			continue
		}
		used[host] = true
		labels := map[string]string{"role": string(rune('a' + r.pick(3)))}
		if r.pick(2) == 1 {
			labels["env"] = "x"
		}
		w.nodes = append(w.nodes, Node{ID: fmt.Sprintf("n%d", host), Project: fuzzProjects[r.pick(2)], Labels: labels,
			MeshIP: netip.AddrFrom4([4]byte{10, 0, 0, byte(host)})})
	}
	for i, n := 0, r.pick(5); i < n; i++ {
		p := Policy{ID: fmt.Sprintf("pol%d", i), RevisionID: fmt.Sprintf("rev%d", r.next()),
			Source:      selector.MustParse(fuzzSelectors[r.pick(len(fuzzSelectors))]),
			Destination: selector.MustParse(fuzzSelectors[r.pick(len(fuzzSelectors))])}
		if r.pick(3) > 0 {
			p.Project = fuzzProjects[r.pick(2)]
		}
		for j, m := 0, 1+r.pick(4); j < m; j++ {
			rule := Rule{Action: fuzzActions[r.pick(3)], Protocol: fuzzProtos[r.pick(4)],
				Source: netip.MustParsePrefix(fuzzCIDRs[r.pick(len(fuzzCIDRs))]), Destination: netip.MustParsePrefix(fuzzCIDRs[r.pick(len(fuzzCIDRs))])}
			if rule.Protocol == nodeproto.ProtocolTCP || rule.Protocol == nodeproto.ProtocolUDP {
				from := 1 + r.pick(100)
				rule.Ports = &nodeproto.PortRange{From: from, To: from + r.pick(100)}
			}
			p.Rules = append(p.Rules, rule)
		}
		w.policies = append(w.policies, p)
	}
	return w
}

// reference decides a flow straight from the policies, independently of
// the compiler: the semantics of docs/design/0006-policy.md.
func (w world) reference(a, b Node, proto string, port int) bool {
	covered := false
	allow, deny := false, false
	for _, p := range w.policies {
		if !p.selects(p.Destination, &b) {
			continue
		}
		covered = true
		if !p.selects(p.Source, &a) {
			continue
		}
		for _, r := range p.Rules {
			if !r.Source.Contains(a.MeshIP) || !r.Destination.Contains(b.MeshIP) {
				continue
			}
			if r.Protocol != nodeproto.ProtocolAnyProto && r.Protocol != proto {
				continue
			}
			if r.Ports != nil && (port < r.Ports.From || port > r.Ports.To) {
				continue
			}
			if r.Action == nodeproto.ActionDeny {
				deny = true
			} else {
				allow = true
			}
		}
	}
	if !covered {
		return w.mode == ModeAllow
	}
	return allow && !deny
}

var probePorts = []int{1, 22, 50, 100, 150, 199, 65535}

type probe struct {
	proto string
	port  int
}

func probes() []probe {
	out := []probe{{nodeproto.ProtocolICMP, 0}, {nodeproto.ProtocolAnyProto, 0}}
	for _, p := range probePorts {
		out = append(out, probe{nodeproto.ProtocolTCP, p}, probe{nodeproto.ProtocolUDP, p})
	}
	return out
}

// checkWorld asserts that every compiled ruleset decides every probed flow
// between nodes as the reference does, that no compiled rule reaches an
// address outside the Domain's nodes, that level 1 allows nothing the
// reference denies, and that peers are exactly the pairs with some
// allowed traffic.
func checkWorld(t *testing.T, w world, x *Index) {
	t.Helper()
	byIP := map[netip.Addr]Node{}
	for _, n := range w.nodes {
		byIP[n.MeshIP] = n
	}
	for _, b := range w.nodes {
		c, ok := x.Compile(b.ID)
		if !ok {
			t.Fatalf("%s not compiled", b.ID)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: invalid ruleset: %v", b.ID, err)
		}
		rs, err := ParseRuleset(c.Rules)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range c.Rules {
			src, dst := netip.MustParsePrefix(r.SourceCIDR), netip.MustParsePrefix(r.DestinationCIDR)
			if r.Action != nodeproto.ActionDeny && dst != netip.PrefixFrom(b.MeshIP, 32) && x.Covered(b.ID) {
				t.Fatalf("%s: rule %+v allows traffic to another address", b.ID, r)
			}
			if x.Covered(b.ID) {
				for a := src.Masked().Addr(); src.Contains(a); a = a.Next() {
					if _, ok := byIP[a]; !ok {
						t.Fatalf("%s: rule %+v reaches %s, no node of the Domain", b.ID, r, a)
					}
				}
			}
		}
		peers := x.Peers(b.ID)
		for _, a := range w.nodes {
			if a.ID == b.ID {
				continue
			}
			some := false
			for _, pr := range probes() {
				want := w.reference(a, b, pr.proto, pr.port)
				got := rs.Decide(Flow{Src: a.MeshIP, Dst: b.MeshIP, Protocol: pr.proto, Port: pr.port})
				if got.Allow != want {
					t.Fatalf("%s→%s %s/%d: compiled %v, reference %v\nrules %+v", a.ID, b.ID, pr.proto, pr.port, got.Allow, want, c.Rules)
				}
				some = some || want || w.reference(b, a, pr.proto, pr.port)
			}
			if some && !slices.Contains(peers, a.ID) {
				t.Fatalf("%s does not see %s although traffic is allowed", b.ID, a.ID)
			}
		}
		checkLevel1(t, w, x, b, byIP)
	}
}

// checkLevel1: every flow a level-1 rule allows, the reference allows (X4).
func checkLevel1(t *testing.T, w world, x *Index, self Node, byIP map[netip.Addr]Node) {
	t.Helper()
	nodes := func(id string) []Node {
		if id == nodeproto.AnyNode {
			return w.nodes
		}
		for _, n := range w.nodes {
			if n.ID == id {
				return []Node{n}
			}
		}
		t.Fatalf("level-1 rule names unknown node %s", id)
		return nil
	}
	for _, pol := range x.Level1(self.ID) {
		if err := pol.Validate(); err != nil {
			t.Fatalf("%s: level-1 policy invalid: %v", self.ID, err)
		}
		for _, r := range pol.Rules {
			var flows []probe
			switch {
			case r.Protocol == nodeproto.ProtocolAny:
				flows = probes()
			case r.Port == 0:
				for _, p := range probePorts {
					flows = append(flows, probe{r.Protocol, p})
				}
			default:
				flows = []probe{{r.Protocol, r.Port}}
			}
			for _, a := range nodes(r.Src) {
				for _, b := range nodes(r.Dst) {
					if a.ID == b.ID {
						continue
					}
					for _, f := range flows {
						if !w.reference(a, b, f.proto, f.port) {
							t.Fatalf("%s: level-1 rule %+v allows %s→%s %s/%d, which policy denies", self.ID, r, a.ID, b.ID, f.proto, f.port)
						}
					}
				}
			}
		}
	}
}

// FuzzCompile: for random Domains, compiled rulesets decide exactly as the
// policies do, reach no address outside the Domain, level 1 never allows
// more, and an index built incrementally equals one built at once (and
// reports every node whose output changed as affected).
func FuzzCompile(f *testing.F) {
	f.Add([]byte{0, 3, 1, 0, 0, 2, 1, 1, 0, 3, 0, 1, 2, 0, 1, 1, 0, 0, 0, 0, 1})
	f.Add([]byte{1, 7, 0, 0, 1, 1, 1, 2, 2, 0, 3, 3, 1, 4, 4, 0, 0, 3, 1, 2, 3, 0, 1, 1, 2, 5, 6, 2, 2, 0, 0, 5, 5, 9, 9})
	f.Add([]byte("policy-fuzz-seed-with-many-bytes-0123456789abcdefghijklmnop"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w := decodeWorld(b)
		x := NewIndex(w.mode, w.policies, w.nodes)
		checkWorld(t, w, x)
		// Incremental: start empty, add policies then nodes, then relabel
		// the first node; compare against fresh indexes each step.
		inc := NewIndex(w.mode, nil, nil)
		for _, p := range w.policies {
			step(t, inc, func(x *Index) Affected { return x.SetPolicy(p) })
		}
		for _, n := range w.nodes {
			step(t, inc, func(x *Index) Affected { return x.SetNode(n) })
		}
		if len(w.nodes) > 0 {
			n := w.nodes[0]
			n.Labels = map[string]string{"role": "b", "env": "x"}
			step(t, inc, func(x *Index) Affected { return x.SetNode(n) })
			step(t, inc, func(x *Index) Affected { return x.RemoveNode(n.ID) })
		}
		if len(w.policies) > 0 {
			step(t, inc, func(x *Index) Affected { return x.RemovePolicy(w.policies[0].ID) })
		}
		step(t, inc, func(x *Index) Affected { return x.SetMode(ModeAllow) })
	})
}

// step applies one change to x and checks it against an index rebuilt
// from x's contents: same outputs for every node, and every node whose
// output changed is in the affected set.
func step(t *testing.T, x *Index, change func(*Index) Affected) {
	t.Helper()
	before := outputs(x)
	aff := change(x)
	fresh := NewIndex(x.mode, policiesOf(x), nodesOf(x))
	after, want := outputs(x), outputs(fresh)
	for id, o := range want {
		if after[id] != o {
			t.Fatalf("incremental index differs from a fresh one for %s:\n%s\n%s", id, after[id], o)
		}
		if _, ok := aff[id]; !ok && before[id] != o {
			t.Fatalf("%s changed but was not reported affected (affected %v):\n%s\n%s", id, aff.IDs(), before[id], o)
		}
	}
}

func outputs(x *Index) map[string]string {
	out := map[string]string{}
	for id := range x.nodes {
		c, _ := x.Compile(id)
		out[id] = fmt.Sprintf("%s %v %v", c.Fingerprint, x.Peers(id), x.Level1(id))
	}
	return out
}

func policiesOf(x *Index) []Policy {
	var out []Policy
	for _, id := range x.order {
		out = append(out, x.policies[id].Policy)
	}
	return out
}

func nodesOf(x *Index) []Node {
	var out []Node
	for _, id := range x.NodeIDs() {
		out = append(out, x.nodes[id].Node)
	}
	return out
}
