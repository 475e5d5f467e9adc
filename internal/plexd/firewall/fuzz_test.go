package firewall_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// FuzzParsePacket: no input panics, and a parsed packet's addresses are
// of the header's family.
func FuzzParsePacket(f *testing.F) {
	f.Add(tcpPacket(webV4, dbV4, 1, 2, 2))
	f.Add(tcpPacket(webV6, dbV6, 1, 2, 2))
	f.Add(ipPacket(webV4, dbV4, icmpEcho(false, 1, 1)))
	f.Add(ipPacket(webV6, dbV6, icmpEcho(true, 1, 1)))
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := firewall.ParsePacket(b)
		if err != nil {
			return
		}
		if p.Src.Is4() != (b[0]>>4 == 4) || p.Src.Is4() != p.Dst.Is4() {
			t.Fatalf("family mismatch: %+v", p)
		}
		if p.Inner != nil && p.Inner.Inner != nil {
			t.Fatal("nested quoted packets")
		}
		u := firewall.NewUserspace(firewall.UserspaceOptions{ConntrackSize: 4})
		u.Outbound(b)
		u.Inbound(b)
	})
}

// FuzzBuild: any JSON policy either is refused or builds a ruleset whose
// every allow verdict is backed by an allow or log rule of the input
// covering the flow (never more than its source), and no deny rule
// covering it.
func FuzzBuild(f *testing.F) {
	seed, _ := json.Marshal(compliancePolicy("fp"))
	f.Add(seed, []byte{10, 77, 0, 2}, []byte{10, 77, 0, 1}, uint8(6), uint16(5432))
	f.Add([]byte(`{"fingerprint":"x","rules":[{"action":"allow","protocol":"any","source_cidr":"::/0","destination_cidr":"::/0"}]}`),
		make([]byte, 16), make([]byte, 16), uint8(17), uint16(53))
	f.Fuzz(func(t *testing.T, raw, src, dst []byte, proto uint8, port uint16) {
		var p nodeproto.NodeStatePolicy
		if json.Unmarshal(raw, &p) != nil {
			return
		}
		rs, err := firewall.Build(&p)
		if err != nil {
			return
		}
		s, ok1 := netip.AddrFromSlice(src)
		d, ok2 := netip.AddrFromSlice(dst)
		if !ok1 || !ok2 {
			return
		}
		fl := firewall.Flow{Proto: proto, Src: s, Dst: d, DstPort: port}
		v := rs.Decide(fl)
		var allowed, denied bool
		for _, r := range p.Rules {
			if covers(r, fl) {
				if r.Action == "deny" {
					denied = true
				} else {
					allowed = true
				}
			}
		}
		if v.Allow != (allowed && !denied) {
			t.Fatalf("verdict %+v for %+v; input allows %v denies %v", v, fl, allowed, denied)
		}
	})
}

// covers is an independent reading of a compiled rule's match.
func covers(r nodeproto.CompiledRule, f firewall.Flow) bool {
	sp, err1 := netip.ParsePrefix(r.SourceCIDR)
	dp, err2 := netip.ParsePrefix(r.DestinationCIDR)
	if err1 != nil || err2 != nil || !sp.Contains(f.Src.Unmap()) || !dp.Contains(f.Dst.Unmap()) {
		return false
	}
	switch r.Protocol {
	case "any":
		return true
	case "icmp":
		return f.Proto == 1 && sp.Addr().Is4() || f.Proto == 58 && sp.Addr().Is6()
	case "tcp", "udp":
		want := uint8(6)
		if r.Protocol == "udp" {
			want = 17
		}
		return f.Proto == want && r.Ports != nil && int(f.DstPort) >= r.Ports.From && int(f.DstPort) <= r.Ports.To
	}
	return false
}
