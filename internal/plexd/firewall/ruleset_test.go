package firewall_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

func TestDecide(t *testing.T) {
	rs, err := firewall.Build(compliancePolicy("fp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		f             firewall.Flow
		allow, logged bool
	}{
		{"allowed port", flow(6, webV4, dbV4, 5432), true, false},
		{"other port", flow(6, webV4, dbV4, 5433), false, false},
		{"udp is not tcp", flow(17, webV4, dbV4, 5432), false, false},
		{"logged", flow(6, webV4, dbV4, 8080), true, true},
		{"range edge", flow(6, webV4, dbV4, 8100), true, false},
		{"past range", flow(6, webV4, dbV4, 8101), false, false},
		{"deny beats allow", flow(6, otherV4, dbV4, 8080), false, false},
		{"icmp", flow(1, webV4, dbV4, 0), true, false},
		{"icmp denied for other", flow(1, otherV4, dbV4, 0), false, false},
		{"ipv6 allowed", flow(6, webV6, dbV6, 5432), true, false},
		{"mapped v4 is v4", flow(6, netip.AddrFrom16(webV4.As16()), dbV4, 5432), true, false},
		{"fragment has no port", firewall.Flow{Proto: 6, Src: webV4, Dst: dbV4, NoPorts: true}, false, false},
		{"other family", flow(6, webV6, dbV4, 5432), false, false},
	} {
		v := rs.Decide(c.f)
		if v.Allow != c.allow || v.Logged != c.logged {
			t.Errorf("%s: %+v, want allow %v logged %v", c.name, v, c.allow, c.logged)
		}
	}
	// Order means nothing: the same rules reversed decide the same.
	p := compliancePolicy("fp")
	for i, j := 0, len(p.Rules)-1; i < j; i, j = i+1, j-1 {
		p.Rules[i], p.Rules[j] = p.Rules[j], p.Rules[i]
	}
	rev, _ := firewall.Build(p)
	for _, f := range []firewall.Flow{flow(6, otherV4, dbV4, 8080), flow(6, webV4, dbV4, 8080), flow(6, webV4, dbV4, 22)} {
		if a, b := rs.Decide(f), rev.Decide(f); a.Allow != b.Allow || a.Logged != b.Logged {
			t.Errorf("order changed the verdict for %+v", f)
		}
	}
	var none *firewall.Ruleset
	if none.Decide(flow(6, webV4, dbV4, 5432)).Allow {
		t.Error("a nil ruleset allowed a flow")
	}
}

func flow(proto uint8, src, dst netip.Addr, port uint16) firewall.Flow {
	return firewall.Flow{Proto: proto, Src: src, Dst: dst, DstPort: port}
}

func TestBuildRefuses(t *testing.T) {
	ok := nodeproto.CompiledRule{Action: "allow", Protocol: "tcp", SourceCIDR: "10.0.0.0/8", DestinationCIDR: "10.0.0.1/32", Ports: &nodeproto.PortRange{From: 1, To: 2}}
	for name, mut := range map[string]func(*nodeproto.CompiledRule){
		"action":     func(r *nodeproto.CompiledRule) { r.Action = "reject" },
		"protocol":   func(r *nodeproto.CompiledRule) { r.Protocol = "sctp" },
		"cidr":       func(r *nodeproto.CompiledRule) { r.SourceCIDR = "10.0.0.0" },
		"family":     func(r *nodeproto.CompiledRule) { r.DestinationCIDR = "fd00::/8" },
		"ports":      func(r *nodeproto.CompiledRule) { r.Ports = &nodeproto.PortRange{From: 3, To: 2} },
		"no ports":   func(r *nodeproto.CompiledRule) { r.Ports = nil },
		"icmp ports": func(r *nodeproto.CompiledRule) { r.Protocol = "icmp" },
		"mapped": func(r *nodeproto.CompiledRule) {
			r.SourceCIDR, r.DestinationCIDR = "::ffff:10.0.0.0/104", "::ffff:10.0.0.1/128"
		},
	} {
		r := ok
		mut(&r)
		if _, err := firewall.Build(&nodeproto.NodeStatePolicy{Fingerprint: "f", Rules: []nodeproto.CompiledRule{ok, r}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := firewall.Build(&nodeproto.NodeStatePolicy{Rules: []nodeproto.CompiledRule{ok}}); err == nil {
		t.Error("accepted a block without a fingerprint")
	}
	if _, err := firewall.Build(bigPolicy(firewall.MaxRules + 1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized block: %v", err)
	}
	if rs, err := firewall.Build(&nodeproto.NodeStatePolicy{Fingerprint: "f"}); err != nil || rs.Decide(flow(6, webV4, dbV4, 1)).Allow {
		t.Errorf("an empty ruleset must deny everything: %v", err)
	}
}

// bigPolicy is n rules over distinct /32 sources, mixed actions and
// protocols, none matching the mesh of the compliance suite.
func bigPolicy(n int) *nodeproto.NodeStatePolicy {
	p := &nodeproto.NodeStatePolicy{RevisionID: "big", Fingerprint: "big"}
	actions := []string{"allow", "allow", "allow", "log", "deny"}
	for i := range n {
		r := nodeproto.CompiledRule{Action: actions[i%len(actions)], Protocol: "tcp",
			SourceCIDR: fmt.Sprintf("10.%d.%d.%d/32", 100+i/65536, i/256%256, i%256), DestinationCIDR: "10.200.0.0/16",
			Ports: &nodeproto.PortRange{From: 1000 + i%5000, To: 1000 + i%5000 + i%3}}
		if i%7 == 0 {
			r.Protocol, r.Ports = "any", nil
		}
		p.Rules = append(p.Rules, r)
	}
	return p
}

// BenchmarkDecide1000 decides a flow that no rule of 1,000 matches (the
// whole list is scanned), the userspace filter's worst case.
func BenchmarkDecide1000(b *testing.B) {
	rs, err := firewall.Build(bigPolicy(1000))
	if err != nil {
		b.Fatal(err)
	}
	f := flow(6, webV4, dbV4, 5432)
	for b.Loop() {
		if rs.Decide(f).Allow {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkInboundEstablished is the per-packet cost of a packet of a
// tracked flow through the userspace filter (parse + conntrack).
func BenchmarkInboundEstablished(b *testing.B) {
	u := firewall.NewUserspace(firewall.UserspaceOptions{})
	if err := u.Set(b.Context(), compliancePolicy("fp")); err != nil {
		b.Fatal(err)
	}
	pkt := tcpPacket(webV4, dbV4, 40000, 5432, 0x10)
	if !u.Inbound(tcpPacket(webV4, dbV4, 40000, 5432, 0x02)) {
		b.Fatal("SYN dropped")
	}
	for b.Loop() {
		if !u.Inbound(pkt) {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkInboundNew1000 is the per-packet cost of a new flow's first
// packet against 1,000 rules (parse + conntrack miss + Decide + drop).
func BenchmarkInboundNew1000(b *testing.B) {
	u := firewall.NewUserspace(firewall.UserspaceOptions{})
	if err := u.Set(b.Context(), bigPolicy(1000)); err != nil {
		b.Fatal(err)
	}
	pkt := tcpPacket(webV4, dbV4, 40000, 5432, 0x02)
	for b.Loop() {
		if u.Inbound(pkt) {
			b.Fatal("passed")
		}
	}
}
