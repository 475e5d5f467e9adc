package netnstest

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// observed sends one datagram from a socket bound in ns to each server
// and returns the source address every server saw.
func observed(t *testing.T, ns string, servers []net.PacketConn, addrs []string) []string {
	t.Helper()
	var c net.PacketConn
	if err := InNS(ns, func() error {
		var err error
		c, err = net.ListenPacket("udp4", ":40000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var seen []string
	for i, s := range servers {
		dst, _ := net.ResolveUDPAddr("udp4", addrs[i])
		if _, err := c.WriteTo([]byte("x"), dst); err != nil {
			t.Fatal(err)
		}
		s.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 16)
		_, from, err := s.ReadFrom(buf)
		if err != nil {
			t.Fatalf("server %s: %v", addrs[i], err)
		}
		seen = append(seen, from.String())
	}
	return seen
}

// TestLabNATs builds a segment with one public host and two NATed hosts
// and checks what each NAT does to a source port: the cone NAT keeps one
// mapping for two destinations, the symmetric NAT gives each its own.
func TestLabNATs(t *testing.T) {
	var names []string
	t.Run("lab", func(t *testing.T) {
		l := New(t)
		names = labNATs(t, l)
	})
	if len(names) == 0 {
		t.Fatal("the lab built no namespaces")
	}
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); err == nil {
			t.Errorf("namespace %s survived the lab", n)
		}
	}
}

func labNATs(t *testing.T, l *Lab) []string {
	sw := l.Switch("sw")
	pub := l.Host("pub")
	sw.Attach(pub, "eth0", "198.18.0.10/24")
	var servers []net.PacketConn
	addrs := []string{"198.18.0.10:3478", "198.18.0.10:3479"}
	for _, a := range addrs {
		var pc net.PacketConn
		if err := InNS(pub, func() error {
			var err error
			pc, err = net.ListenPacket("udp4", a)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		servers = append(servers, pc)
	}
	for _, tc := range []struct {
		name      string
		symmetric bool
		lan       string
	}{{"cone", false, "198.19.1"}, {"sym", true, "198.19.2"}} {
		rtr := l.Host(tc.name + "r")
		h := l.Host(tc.name + "h")
		sw.Attach(rtr, "wan", map[bool]string{false: "198.18.0.21/24", true: "198.18.0.22/24"}[tc.symmetric])
		l.Link(rtr, "lan", tc.lan+".1/24", h, "eth0", tc.lan+".2/24")
		l.Route(h, "default", tc.lan+".1")
		l.NAT(rtr, "wan", tc.symmetric)
		if out, err := l.Exec(context.Background(), h, "ping", "-c", "1", "-W", "2", "198.18.0.10"); err != nil {
			t.Fatalf("%s host cannot reach the segment: %v %s", tc.name, err, out)
		}
		seen := observed(t, h, servers, addrs)
		for _, s := range seen {
			if !strings.HasPrefix(s, map[bool]string{false: "198.18.0.21:", true: "198.18.0.22:"}[tc.symmetric]) {
				t.Errorf("%s: source %s is not the router's address", tc.name, s)
			}
		}
		if same := seen[0] == seen[1]; same == tc.symmetric {
			t.Errorf("%s NAT: mappings %v (want same=%v)", tc.name, seen, !tc.symmetric)
		}
	}
	return []string{l.Name("sw"), pub, l.Name("coneh"), l.Name("symr")}
}
