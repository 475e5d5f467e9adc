package compile

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/selector"
)

// benchPolicies is 100 policies of 10 rules (1,000 rules): team tK's web
// nodes reach its db nodes on a few services; ssh is denied, one range
// is logged.
func benchPolicies() []Policy {
	all := netip.MustParsePrefix("0.0.0.0/0")
	tcp := func(action string, from, to int) Rule {
		return Rule{Action: action, Protocol: nodeproto.ProtocolTCP, Source: all, Destination: all,
			Ports: &nodeproto.PortRange{From: from, To: to}}
	}
	var out []Policy
	for k := range 100 {
		out = append(out, Policy{ID: fmt.Sprintf("pol%03d", k), RevisionID: fmt.Sprintf("rev%03d", k),
			Source:      selector.MustParse(fmt.Sprintf("team=t%d,role=web", k)),
			Destination: selector.MustParse(fmt.Sprintf("team=t%d,role=db", k)),
			Rules: []Rule{tcp("allow", 5432, 5432), tcp("allow", 6379, 6379), tcp("allow", 8080, 8090),
				tcp("allow", 443, 443), tcp("deny", 22, 22), tcp("log", 9000, 9100), tcp("allow", 3000, 3000),
				{Action: "allow", Protocol: nodeproto.ProtocolUDP, Source: all, Destination: all, Ports: &nodeproto.PortRange{From: 53, To: 53}},
				{Action: "allow", Protocol: nodeproto.ProtocolICMP, Source: all, Destination: all},
				{Action: "allow", Protocol: nodeproto.ProtocolAnyProto, Source: netip.MustParsePrefix("100.64.0.0/16"), Destination: all},
			}})
	}
	return out
}

// benchNodes is n nodes with consecutive mesh addresses; the first
// teamed ones are in teams t0..t99 of teamed/100 nodes each (every
// fourth a db node), the rest in no policy's team.
func benchNodes(n, teamed int) []Node {
	out := make([]Node, n)
	per := max(teamed/100, 1)
	for i := range n {
		team, role := "none", "web"
		if i < teamed {
			team = fmt.Sprintf("t%d", i/per)
			if i%4 == 0 {
				role = "db"
			}
		}
		out[i] = Node{ID: fmt.Sprintf("node%06d", i), Labels: map[string]string{"team": team, "role": role},
			MeshIP: netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})}
	}
	return out
}

// BenchmarkCompileFull: 10,000 nodes (all in teams of 100) × 1,000
// rules, from scratch: index, then every node's ruleset.
func BenchmarkCompileFull(b *testing.B) {
	pols, nodes := benchPolicies(), benchNodes(10_000, 10_000)
	rules := 0
	for b.Loop() {
		x := NewIndex(ModeDeny, pols, nodes)
		rules = 0
		for _, c := range x.CompileAll() {
			rules += len(c.Rules)
		}
	}
	b.ReportMetric(float64(rules), "compiled-rules")
}

// BenchmarkIncrementalRelabel: one node of a team changes role (web ↔
// db) and every affected node is recompiled (ruleset, level 1, peers).
// The policies and teams are fixed (1,000 teamed nodes, 1,000 rules);
// the fleet grows with nodes no policy selects, so the cost should not.
func BenchmarkIncrementalRelabel(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 50_000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			x := NewIndex(ModeDeny, benchPolicies(), benchNodes(n, 1_000))
			subject, _ := x.Node("node000001")
			roles := []string{"db", "web"}
			affected := 0
			i := 0
			for b.Loop() {
				subject.Labels = map[string]string{"team": "t0", "role": roles[i%2]}
				i++
				aff := x.SetNode(subject)
				affected = len(aff)
				for id := range aff {
					x.Compile(id)
					x.Level1(id)
					x.Peers(id)
				}
			}
			b.ReportMetric(float64(affected), "affected-nodes")
		})
	}
}
