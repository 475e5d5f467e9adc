package firewall_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/netnstest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// nsLab is three network namespaces on one segment; db's end is named
// like the mesh interface and db's nftables backend enforces on it.
type nsLab struct {
	lab *netnstest.Lab
	ns  map[string]string
	nft *firewall.Nftables
	dir string
}

const labIface = "plexd0"

func newNSLab(t *testing.T) *nsLab {
	lab := netnstest.New(t)
	l := &nsLab{lab: lab, ns: map[string]string{}, dir: t.TempDir()}
	seg := lab.Switch("sw")
	addrs := map[string][2]netip.Addr{"db": {dbV4, dbV6}, "web": {webV4, webV6}, "other": {otherV4, otherV6}}
	for _, name := range []string{"db", "web", "other"} {
		ns := lab.Host(name)
		l.ns[name] = ns
		ifname := "eth0"
		if name == "db" {
			ifname = labIface
		}
		seg.Attach(ns, ifname, addrs[name][0].String()+"/24")
		lab.MustExec(ns, "ip", "addr", "add", addrs[name][1].String()+"/64", "dev", ifname, "nodad")
	}
	// The mesh is layer 3 (WireGuard has no neighbour discovery), so the
	// lab pins IPv6 neighbours instead of letting ND through the filter.
	macs := map[string]string{}
	for name, ns := range l.ns {
		ifname := "eth0"
		if name == "db" {
			ifname = labIface
		}
		out := lab.MustExec(ns, "cat", "/sys/class/net/"+ifname+"/address")
		macs[name] = strings.TrimSpace(out)
	}
	for name, ns := range l.ns {
		ifname := "eth0"
		if name == "db" {
			ifname = labIface
		}
		for peer := range l.ns {
			if peer != name {
				lab.MustExec(ns, "ip", "neigh", "replace", addrs[peer][1].String(), "lladdr", macs[peer], "dev", ifname, "nud", "permanent")
			}
		}
	}
	for _, port := range dbTCPPorts {
		ln, err := netnstest.Listen(l.ns["db"], "tcp", ":"+itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go serveTCP(ln)
	}
	var udp net.PacketConn
	if err := netnstest.InNS(l.ns["db"], func() (err error) { udp, err = net.ListenPacket("udp", ":"+itoa(dbUDPPort)); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	go serveUDPEcho(udp)
	for _, name := range []string{"web", "other"} {
		ln, err := netnstest.Listen(l.ns[name], "tcp", ":"+itoa(clientTCPPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go serveTCP(ln)
	}
	l.nft = l.newBackend(t)
	t.Cleanup(func() { l.nft.Close() })
	return l
}

// newBackend opens an Nftables backend working in db's namespace.
func (l *nsLab) newBackend(t testing.TB) *firewall.Nftables {
	f, err := os.Open("/run/netns/" + l.ns["db"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	nft, err := firewall.NewNftables(firewall.NftablesOptions{Interface: labIface, DataDir: l.dir, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	return nft
}

func itoa(p uint16) string {
	return strings.TrimPrefix(netip.AddrPortFrom(netip.IPv4Unspecified(), p).String(), "0.0.0.0:")
}

func (l *nsLab) backend() firewall.Backend { return l.nft }

func (l *nsLab) dialTCP(ctx context.Context, from string, to netip.AddrPort) (net.Conn, error) {
	return netnstest.Dial(ctx, l.ns[from], "tcp", to.String())
}

func (l *nsLab) udpEcho(ctx context.Context, from string, to netip.AddrPort) bool {
	c, err := netnstest.Dial(ctx, l.ns[from], "udp", to.String())
	if err != nil {
		return false
	}
	return echoOnce(ctx, c)
}

func (l *nsLab) ping(ctx context.Context, from string, to netip.Addr) bool {
	_, err := l.lab.Exec(ctx, l.ns[from], "ping", "-c", "1", "-W", "1", "-q", to.String())
	return err == nil
}

// nftList prints db's table ("" when it does not exist).
func (l *nsLab) nftList() string {
	out, err := l.lab.Exec(context.Background(), l.ns["db"], "nft", "list", "table", "inet", firewall.DefaultTable)
	if err != nil {
		return ""
	}
	return out
}

// TestNftablesCompliance runs the compliance suite against the kernel.
func TestNftablesCompliance(t *testing.T) {
	runCompliance(t, newNSLab(t))
}

// TestNftablesTable checks the table's shape, its removal on Close and
// the journal's cleanup after a crash.
func TestNftablesTable(t *testing.T) {
	l := newNSLab(t)
	ctx := context.Background()
	if err := l.nft.Set(ctx, compliancePolicy("fp1")); err != nil {
		t.Fatal(err)
	}
	out := l.nftList()
	for _, want := range []string{
		"hook input", "hook forward", `iifname != "plexd0" accept`, "ct state established,related accept", "jump mesh",
		"ip saddr 10.77.0.2 ip daddr 10.77.0.1 tcp dport 5432 counter", "tcp dport 8000-8100", "ip6 saddr fd77::2",
		`comment "default"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(l.dir, firewall.JournalFile)); err != nil {
		t.Fatalf("no journal while the table is installed: %v", err)
	}
	// A crashed agent leaves table and journal; the next start removes both.
	next := l.newBackend(t)
	if l.nftList() != "" {
		t.Fatal("a new backend did not remove the table its journal names")
	}
	if _, err := os.Stat(filepath.Join(l.dir, firewall.JournalFile)); !os.IsNotExist(err) {
		t.Fatalf("journal still there: %v", err)
	}
	if err := next.Set(ctx, compliancePolicy("fp1")); err != nil {
		t.Fatal(err)
	}
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	if l.nftList() != "" {
		t.Fatal("Close left the table")
	}
	// The largest block a node accepts fits one batch.
	if err := l.nft.Set(ctx, bigPolicy(firewall.MaxRules)); err != nil {
		t.Fatal(err)
	}
	if s := l.nft.Stats(); s.Rules != firewall.MaxRules || !s.Enforcing {
		t.Fatalf("stats %+v", s)
	}
	// Where nftables works, kernel and userspace engines get it.
	f, err := os.Open("/run/netns/" + l.ns["db"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, b := range []string{"kernel", "userspace"} {
		be, wrap, err := firewall.ForWireGuard(b, firewall.NftablesOptions{Interface: labIface, NetNS: int(f.Fd())})
		if _, ok := be.(*firewall.Nftables); !ok || wrap != nil || err != nil {
			t.Errorf("%s: %T %v", b, be, err)
		}
	}
	if _, err := os.Stat(filepath.Join(l.dir, firewall.JournalFile)); !os.IsNotExist(err) {
		t.Fatalf("Close left the journal: %v", err)
	}
}

// BenchmarkNftablesApply1000 replaces db's table with a ruleset of 1,000
// rules (a new fingerprint each time: one netlink batch).
func BenchmarkNftablesApply1000(b *testing.B) {
	lab := netnstest.New(b)
	ns := lab.Host("db")
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	nft, err := firewall.NewNftables(firewall.NftablesOptions{NetNS: int(f.Fd())})
	if err != nil {
		b.Fatal(err)
	}
	defer nft.Close()
	ctx := context.Background()
	p := bigPolicy(1000)
	i := 0
	for b.Loop() {
		i++
		p.Fingerprint = "fp" + itoa(uint16(i))
		if err := nft.Set(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNftablesForward: traffic db forwards from the mesh to a subnet
// behind it is filtered by the forward hook with the same rules; traffic
// arriving on another interface is not filtered, and its answers from the
// mesh pass as established.
func TestNftablesForward(t *testing.T) {
	l := newNSLab(t)
	lan := l.lab.Host("lan")
	l.lab.Link(l.ns["db"], "lan0", "10.78.0.1/24", lan, "eth0", "10.78.0.2/24")
	l.lab.Sysctl(l.ns["db"], "net.ipv4.ip_forward", "1")
	l.lab.Route(lan, "default", "10.78.0.1")
	for _, c := range []string{"web", "other"} {
		l.lab.Route(l.ns[c], "10.78.0.0/24", dbV4.String())
	}
	ln, err := netnstest.Listen(lan, "tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveTCP(ln)
	lanAddr := netip.MustParseAddrPort("10.78.0.2:9000")
	toLAN := nodeproto.CompiledRule{Action: "allow", Protocol: "tcp", SourceCIDR: "10.77.0.0/24", DestinationCIDR: "10.78.0.0/24",
		Ports: &nodeproto.PortRange{From: 9000, To: 9000}}
	if err := l.nft.Set(context.Background(), compliancePolicy("fwd", toLAN)); err != nil {
		t.Fatal(err)
	}
	try := func(from string, to netip.AddrPort) bool {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		c, err := netnstest.Dial(ctx, from, "tcp", to.String())
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	if !try(l.ns["web"], lanAddr) {
		t.Error("web → lan:9000 through db was dropped")
	}
	if try(l.ns["other"], lanAddr) {
		t.Error("other → lan:9000 through db passed (deny other beats the allow)")
	}
	if try(l.ns["web"], netip.MustParseAddrPort("10.78.0.2:9001")) {
		t.Error("web → lan:9001 passed without a rule")
	}
	// lan's own connection to web: not from the mesh, so not filtered;
	// web's answers come back through the mesh as established.
	if !try(lan, netip.AddrPortFrom(webV4, clientTCPPort)) {
		t.Error("lan → web: the answers from the mesh were dropped")
	}
}
