package firewall_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// The compliance suite: one table of flows with expected verdicts that
// every backend passes with real packets (userspace_test.go runs it on
// gVisor netstacks, nftables_linux_test.go in network namespaces).
// Node "db" enforces; "web" and "other" are its peers.

// Mesh addresses of the three nodes.
var (
	dbV4, webV4, otherV4 = netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.3")
	dbV6, webV6, otherV6 = netip.MustParseAddr("fd77::1"), netip.MustParseAddr("fd77::2"), netip.MustParseAddr("fd77::3")
)

// Ports the labs serve: TCP on db and on the clients, UDP echo on db.
var (
	dbTCPPorts    = []uint16{22, 5432, 8080}
	clientTCPPort = uint16(9000)
	dbUDPPort     = uint16(53)
)

// probeTimeout is how long a probe waits before it counts as dropped.
const probeTimeout = 400 * time.Millisecond

// compliancePolicy: web may reach db on tcp/5432 and ping it, the mesh
// /24 may reach tcp/8000-8100 (logged for web) and udp/53, other is
// denied everything (deny beats the /24 allows), web reaches tcp/5432
// over IPv6.
func compliancePolicy(fingerprint string, extra ...nodeproto.CompiledRule) *nodeproto.NodeStatePolicy {
	rules := []nodeproto.CompiledRule{
		{Action: "allow", Protocol: "tcp", SourceCIDR: "10.77.0.2/32", DestinationCIDR: "10.77.0.1/32", Ports: &nodeproto.PortRange{From: 5432, To: 5432}},
		{Action: "allow", Protocol: "tcp", SourceCIDR: "10.77.0.0/24", DestinationCIDR: "10.77.0.1/32", Ports: &nodeproto.PortRange{From: 8000, To: 8100}},
		{Action: "log", Protocol: "tcp", SourceCIDR: "10.77.0.2/32", DestinationCIDR: "10.77.0.0/24", Ports: &nodeproto.PortRange{From: 8080, To: 8081}},
		{Action: "deny", Protocol: "any", SourceCIDR: "10.77.0.3/32", DestinationCIDR: "0.0.0.0/0"},
		{Action: "allow", Protocol: "icmp", SourceCIDR: "10.77.0.2/32", DestinationCIDR: "10.77.0.1/32"},
		{Action: "allow", Protocol: "udp", SourceCIDR: "10.77.0.0/24", DestinationCIDR: "10.77.0.1/32", Ports: &nodeproto.PortRange{From: 53, To: 53}},
		{Action: "allow", Protocol: "tcp", SourceCIDR: "fd77::2/128", DestinationCIDR: "fd77::/64", Ports: &nodeproto.PortRange{From: 5432, To: 5432}},
	}
	return &nodeproto.NodeStatePolicy{RevisionID: "rev-" + fingerprint, Fingerprint: fingerprint, Rules: append(rules, extra...)}
}

// flowCase is one probe: from a node to another over a protocol.
type flowCase struct {
	name     string
	from     string // web, other or db (db: the node's own outgoing flow)
	proto    string // tcp, udp, icmp
	to       netip.Addr
	port     uint16
	want     bool
	isLogged bool
}

var complianceFlows = []flowCase{
	{name: "web to db tcp/5432 allowed", from: "web", proto: "tcp", to: dbV4, port: 5432, want: true},
	{name: "web to db tcp/22 not allowed", from: "web", proto: "tcp", to: dbV4, port: 22},
	{name: "other to db tcp/5432 not allowed", from: "other", proto: "tcp", to: dbV4, port: 5432},
	{name: "web to db tcp/8080 allowed and logged", from: "web", proto: "tcp", to: dbV4, port: 8080, want: true, isLogged: true},
	{name: "other to db tcp/8080 denied over an allow", from: "other", proto: "tcp", to: dbV4, port: 8080},
	{name: "web pings db", from: "web", proto: "icmp", to: dbV4, want: true},
	{name: "other cannot ping db", from: "other", proto: "icmp", to: dbV4},
	{name: "web to db udp/53 allowed", from: "web", proto: "udp", to: dbV4, port: 53, want: true},
	{name: "other to db udp/53 denied", from: "other", proto: "udp", to: dbV4, port: 53},
	{name: "web to db tcp/5432 over IPv6 allowed", from: "web", proto: "tcp", to: dbV6, port: 5432, want: true},
	{name: "web to db tcp/22 over IPv6 not allowed", from: "web", proto: "tcp", to: dbV6, port: 22},
	{name: "web cannot ping db over IPv6", from: "web", proto: "icmp", to: dbV6},
	{name: "db's own flow to web returns", from: "db", proto: "tcp", to: webV4, port: clientTCPPort, want: true},
	{name: "db's own flow to denied other returns", from: "db", proto: "tcp", to: otherV4, port: clientTCPPort, want: true},
	{name: "db's own ping to other returns", from: "db", proto: "icmp", to: otherV4, want: true},
}

// complianceLab is what a backend's test harness provides: the backend
// enforcing on db, and real traffic between the nodes.
type complianceLab interface {
	backend() firewall.Backend
	dialTCP(ctx context.Context, from string, to netip.AddrPort) (net.Conn, error)
	udpEcho(ctx context.Context, from string, to netip.AddrPort) bool
	ping(ctx context.Context, from string, to netip.Addr) bool
}

// probe reports whether f got through (for tcp: the connection opened).
func probe(t *testing.T, lab complianceLab, f flowCase) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	switch f.proto {
	case "tcp":
		c, err := lab.dialTCP(ctx, f.from, netip.AddrPortFrom(f.to, f.port))
		if err != nil {
			return false
		}
		c.Close()
		return true
	case "udp":
		return lab.udpEcho(ctx, f.from, netip.AddrPortFrom(f.to, f.port))
	}
	return lab.ping(ctx, f.from, f.to)
}

// runCompliance drives lab through the suite.
func runCompliance(t *testing.T, lab complianceLab) {
	be := lab.backend()
	ctx := context.Background()
	// Not under policy control: nothing is filtered.
	for _, f := range complianceFlows {
		if f.from != "db" && !probe(t, lab, f) {
			t.Fatalf("without a policy %q was dropped", f.name)
		}
	}
	if s := be.Stats(); s.Enforcing || s.Denied != 0 {
		t.Fatalf("stats without a policy: %+v", s)
	}
	if err := be.Set(ctx, compliancePolicy("fp1")); err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, f := range complianceFlows {
		if got := probe(t, lab, f); got != f.want {
			t.Errorf("%s: got through %v, want %v", f.name, got, f.want)
		}
		if !f.want {
			denied++
		}
	}
	s := be.Stats()
	if !s.Enforcing || s.Fingerprint != "fp1" || s.RevisionID != "rev-fp1" || s.Rules != 7 {
		t.Errorf("stats %+v", s)
	}
	if s.Logged != 1 || s.Denied < uint64(denied) {
		t.Errorf("counters logged %d (want 1) denied %d (want >= %d)", s.Logged, s.Denied, denied)
	}
	// The same fingerprint is a no-op, a new one re-targets enforcement
	// and keeps the counters.
	if err := be.Set(ctx, compliancePolicy("fp1")); err != nil {
		t.Fatal(err)
	}
	open22 := nodeproto.CompiledRule{Action: "allow", Protocol: "tcp", SourceCIDR: "10.77.0.2/32", DestinationCIDR: "10.77.0.1/32", Ports: &nodeproto.PortRange{From: 20, To: 23}}
	if err := be.Set(ctx, compliancePolicy("fp2", open22)); err != nil {
		t.Fatal(err)
	}
	web22 := flowCase{name: "web to db tcp/22 after the allow", from: "web", proto: "tcp", to: dbV4, port: 22, want: true}
	other5432 := complianceFlows[2]
	if !probe(t, lab, web22) || probe(t, lab, other5432) {
		t.Fatalf("after fp2: web tcp/22 must pass, other tcp/5432 must not")
	}
	if s2 := be.Stats(); s2.Fingerprint != "fp2" || s2.Denied <= s.Denied || s2.Logged != s.Logged {
		t.Errorf("stats after fp2: %+v (before %+v)", s2, s)
	}
	// A block that cannot be enforced is refused whole; fp2 stays.
	bad := compliancePolicy("fp3")
	bad.Rules = append(bad.Rules, nodeproto.CompiledRule{Action: "allow", Protocol: "sctp", SourceCIDR: "10.77.0.3/32", DestinationCIDR: "10.77.0.1/32"})
	if err := be.Set(ctx, bad); err == nil {
		t.Fatal("a rule with protocol sctp was accepted")
	}
	if be.Stats().Fingerprint != "fp2" || !probe(t, lab, web22) || probe(t, lab, other5432) {
		t.Fatal("a refused block changed enforcement")
	}
	// Leaving policy control filters nothing again.
	if err := be.Set(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !probe(t, lab, other5432) || be.Stats().Enforcing {
		t.Fatal("without a policy other tcp/5432 is still dropped")
	}
}

// icmpEcho is an ICMP (v6: ICMPv6) echo request with its checksum
// (ICMPv6's is left to the sender's stack).
func icmpEcho(v6 bool, id, seq uint16) []byte {
	typ := byte(8)
	if v6 {
		typ = 128
	}
	b := []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), 'p', 'x'}
	if !v6 {
		var sum uint32
		for i := 0; i < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		c := ^uint16(sum)
		b[2], b[3] = byte(c>>8), byte(c)
	}
	return b
}

// serveTCP accepts and closes connections until l closes.
func serveTCP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// serveUDPEcho echoes datagrams until c closes.
func serveUDPEcho(c net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		c.WriteTo(buf[:n], from)
	}
}

// echoOnce writes one datagram on c and waits for its echo.
func echoOnce(ctx context.Context, c net.Conn) bool {
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	msg := []byte(fmt.Sprintf("echo-%d", time.Now().UnixNano()))
	if _, err := c.Write(msg); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return err == nil && string(buf[:n]) == string(msg)
}
