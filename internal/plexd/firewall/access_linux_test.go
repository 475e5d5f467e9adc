package firewall_test

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/netnstest"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
)

// TestAccessGuard: with the guard installed the access port on the mesh
// IP answers through the mesh interface only; a LAN host routing to the
// mesh IP through another interface is dropped, until the guard closes.
func TestAccessGuard(t *testing.T) {
	netnstest.Require(t)
	lab := netnstest.New(t)
	node, mesh, lan := lab.Host("node"), lab.Host("mesh"), lab.Host("lan")
	lab.Link(node, labIface, "10.99.0.1/24", mesh, "eth0", "10.99.0.2/24")
	lab.Link(node, "eth0", "192.0.2.1/24", lan, "eth0", "192.0.2.2/24")
	lab.Route(lan, "10.99.0.1/32", "192.0.2.1")
	ln, err := netnstest.Listen(node, "tcp", "10.99.0.1:7480")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveTCP(ln)
	reach := func(from string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c, err := netnstest.Dial(ctx, from, "tcp", "10.99.0.1:7480")
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	if !reach(lan) || !reach(mesh) {
		t.Fatal("the lab does not reach the listener without the guard")
	}
	f, err := os.Open("/run/netns/" + node)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := firewall.NewAccessGuard(firewall.AccessGuardOptions{Interface: labIface, NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Set(netip.MustParseAddr("10.99.0.1"), 7480); err != nil {
		t.Fatal(err)
	}
	if err := g.Set(netip.MustParseAddr("10.99.0.1"), 7480); err != nil { // idempotent
		t.Fatal(err)
	}
	if reach(lan) {
		t.Error("the access port is reachable from another interface")
	}
	if !reach(mesh) {
		t.Error("the access port is not reachable through the mesh interface")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if !reach(lan) {
		t.Error("the guard's table outlived Close")
	}
}
