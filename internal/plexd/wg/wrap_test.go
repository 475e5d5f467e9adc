package wg

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// TestNetstackPolicyFilterInDataPath: with the userspace filter wrapped
// around b's TUN, a reaches b only where b's ruleset allows it, while
// b's own connections to a get their answers.
func TestNetstackPolicyFilterInDataPath(t *testing.T) {
	fw := firewall.NewUserspace(firewall.UserspaceOptions{})
	opts := fastOptions()
	opts.WrapTUN = fw.Wrap
	a := newNode(t, "node-a", "10.99.0.1", fastOptions())
	b := newNode(t, "node-b", "10.99.0.2", opts)
	link(t, a, b.peerOf(b.addr()), b, a.peerOf(""))
	err := fw.Set(context.Background(), &nodeproto.NodeStatePolicy{Fingerprint: "fp", Rules: []nodeproto.CompiledRule{
		{Action: "allow", Protocol: "tcp", SourceCIDR: "10.99.0.1/32", DestinationCIDR: "10.99.0.2/32", Ports: &nodeproto.PortRange{From: 80, To: 80}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	serveHTTP(t, b.eng.Net(), "10.99.0.2")
	serveHTTP(t, a.eng.Net(), "10.99.0.1")
	l, err := b.eng.Net().ListenTCPAddrPort(netip.MustParseAddrPort("10.99.0.2:22"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := get(t, a.eng.Net(), "http://10.99.0.2/"); !strings.Contains(got, "hello from 10.99.0.2") {
		t.Fatalf("a to b:80: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if c, err := a.eng.Net().DialContextTCPAddrPort(ctx, netip.MustParseAddrPort("10.99.0.2:22")); err == nil {
		c.Close()
		t.Fatal("a reached b:22, which b's ruleset does not allow")
	}
	if got := get(t, b.eng.Net(), "http://10.99.0.1/"); !strings.Contains(got, "hello from 10.99.0.1") {
		t.Fatalf("b's own connection to a: %q", got)
	}
	if s := fw.Stats(); s.Denied == 0 || !s.Enforcing {
		t.Fatalf("filter stats %+v", s)
	}
}
