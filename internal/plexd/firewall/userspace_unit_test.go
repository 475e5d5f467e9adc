package firewall_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// tcpPacket is an IPv4 or IPv6 TCP header with the given flags.
func tcpPacket(src, dst netip.Addr, sport, dport uint16, flags byte) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, flags
	if src.Is4() {
		h := make([]byte, 20)
		h[0], h[8], h[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(h[2:], 40)
		copy(h[12:], src.AsSlice())
		copy(h[16:], dst.AsSlice())
		return append(h, tcp...)
	}
	h := make([]byte, 40)
	h[0], h[6], h[7] = 0x60, 6, 64
	binary.BigEndian.PutUint16(h[4:], 20)
	copy(h[8:], src.AsSlice())
	copy(h[24:], dst.AsSlice())
	return append(h, tcp...)
}

func TestConntrackTimeoutAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	u := firewall.NewUserspace(firewall.UserspaceOptions{ConntrackSize: 16, Now: func() time.Time { return now }})
	if err := u.Set(t.Context(), compliancePolicy("fp")); err != nil {
		t.Fatal(err)
	}
	// db's own flow to other: the reply passes while tracked...
	u.Outbound(tcpPacket(dbV4, otherV4, 50000, 9000, 0x02))
	reply := tcpPacket(otherV4, dbV4, 9000, 50000, 0x12)
	if !u.Inbound(reply) {
		t.Fatal("the reply of db's own flow was dropped")
	}
	// ...and not after the idle timeout.
	now = now.Add(6 * time.Minute)
	if u.Inbound(reply) {
		t.Fatal("a reply passed after the flow expired")
	}
	// A FIN ends a flow 10 s later, whatever follows it.
	u.Outbound(tcpPacket(dbV4, otherV4, 50001, 9000, 0x02))
	u.Outbound(tcpPacket(dbV4, otherV4, 50001, 9000, 0x11)) // FIN+ACK
	if !u.Inbound(tcpPacket(otherV4, dbV4, 9000, 50001, 0x10)) {
		t.Fatal("the ACK of a closing flow was dropped")
	}
	now = now.Add(11 * time.Second)
	if u.Inbound(tcpPacket(otherV4, dbV4, 9000, 50001, 0x10)) {
		t.Fatal("a closed flow passed 11 s after its FIN")
	}
	// A flood of new flows never grows the table past its bound, and
	// drops count.
	for i := range 1000 {
		u.Outbound(tcpPacket(dbV4, otherV4, uint16(1000+i), 9000, 0x02))
	}
	if s := u.Stats(); s.Denied != 2 {
		t.Fatalf("denied %d, want 2", s.Denied)
	}
	// The newest flow is tracked; the table stayed bounded (an evicted
	// early flow's reply is dropped again).
	if !u.Inbound(tcpPacket(otherV4, dbV4, 9000, 1999, 0x12)) {
		t.Fatal("the newest flow was evicted")
	}
	if u.Inbound(tcpPacket(otherV4, dbV4, 9000, 1000, 0x12)) {
		t.Fatal("1000 flows fit in a table of 16")
	}
	// Garbage from the mesh is dropped and counted under a policy.
	if u.Inbound([]byte{0x45, 0, 0}) {
		t.Fatal("a truncated packet passed")
	}
}

func TestParsePacket(t *testing.T) {
	p, err := firewall.ParsePacket(tcpPacket(webV6, dbV6, 1, 22, 0x02))
	if err != nil || p.Proto != 6 || p.Src != webV6 || p.DstPort != 22 || p.TCPFlags != 0x02 {
		t.Fatalf("%+v %v", p, err)
	}
	// An ICMP port unreachable quoting db's UDP datagram to other.
	udp := make([]byte, 28)
	udp[0], udp[9] = 0x45, 17
	binary.BigEndian.PutUint16(udp[2:], 28)
	copy(udp[12:], dbV4.AsSlice())
	copy(udp[16:], otherV4.AsSlice())
	binary.BigEndian.PutUint16(udp[20:], 5555)
	binary.BigEndian.PutUint16(udp[22:], 53)
	icmp := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, udp...)
	p, err = firewall.ParsePacket(ipPacket(otherV4, dbV4, icmp))
	if err != nil || p.Inner == nil || p.Inner.DstPort != 53 || p.Inner.Src != dbV4 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range [][]byte{nil, {0x45}, {0x50, 0, 0, 0}, make([]byte, 39)} {
		if _, err := firewall.ParsePacket(bad); err == nil {
			t.Errorf("parsed %x", bad)
		}
	}
	// A related ICMP error for a tracked flow passes the filter.
	u := firewall.NewUserspace(firewall.UserspaceOptions{})
	u.Set(t.Context(), compliancePolicy("fp"))
	unreach := ipPacket(otherV4, dbV4, icmp)
	if u.Inbound(unreach) {
		t.Fatal("an unrelated ICMP error from other passed")
	}
	u.Outbound(udp)
	if !u.Inbound(unreach) {
		t.Fatal("the ICMP error of db's own flow was dropped")
	}
}

// fragment is an IPv4 UDP fragment: the first (offset 0, with the UDP
// header) or a later one (offset 8 bytes).
func fragment(src, dst netip.Addr, id uint16, first bool, dport uint16) []byte {
	b := make([]byte, 36)
	b[0], b[8], b[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(b[2:], 36)
	binary.BigEndian.PutUint16(b[4:], id)
	if first {
		binary.BigEndian.PutUint16(b[6:], 0x2000) // MF, offset 0
		binary.BigEndian.PutUint16(b[20:], 5555)
		binary.BigEndian.PutUint16(b[22:], dport)
	} else {
		binary.BigEndian.PutUint16(b[6:], 1) // offset 8 bytes, last
	}
	copy(b[12:], src.AsSlice())
	copy(b[16:], dst.AsSlice())
	return b
}

// TestFragmentsFollowTheirFirst: later fragments carry no ports; they
// pass exactly when their datagram's first fragment passed (as after the
// kernel's reassembly in the nftables backend).
func TestFragmentsFollowTheirFirst(t *testing.T) {
	u := firewall.NewUserspace(firewall.UserspaceOptions{})
	if err := u.Set(t.Context(), compliancePolicy("fp")); err != nil {
		t.Fatal(err)
	}
	if !u.Inbound(fragment(webV4, dbV4, 7, true, 53)) || !u.Inbound(fragment(webV4, dbV4, 7, false, 0)) {
		t.Fatal("an allowed fragmented datagram was dropped")
	}
	if u.Inbound(fragment(webV4, dbV4, 8, true, 54)) || u.Inbound(fragment(webV4, dbV4, 8, false, 0)) {
		t.Fatal("a fragmented datagram to a port no rule allows passed")
	}
	if u.Inbound(fragment(webV4, dbV4, 9, false, 0)) {
		t.Fatal("a later fragment without its first passed")
	}
	if s := u.Stats(); s.Denied != 3 {
		t.Fatalf("denied %d, want 3", s.Denied)
	}
}
