package mesh

import (
	"database/sql"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

func TestFirstFree(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/29")
	used := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true, netip.MustParseAddr("10.0.0.2"): true}
	excl := []netip.Prefix{netip.MustParsePrefix("10.0.0.3/32"), netip.MustParsePrefix("10.0.0.4/31")}
	if a, ok := firstFree(p, used, excl); !ok || a.String() != "10.0.0.6" {
		t.Fatalf("got %v %v, want 10.0.0.6", a, ok)
	}
	used[netip.MustParseAddr("10.0.0.6")] = true
	if a, ok := firstFree(p, used, excl); ok {
		t.Fatalf("the broadcast address was handed out: %v", a)
	}
	if a, ok := firstFree(netip.MustParsePrefix("10.9.9.9/32"), nil, nil); !ok || a.String() != "10.9.9.9" {
		t.Fatalf("/32: %v %v", a, ok)
	}
	if a, ok := firstFree(netip.MustParsePrefix("10.9.9.8/31"), nil, nil); !ok || a.String() != "10.9.9.8" {
		t.Fatalf("/31: %v %v", a, ok)
	}
	if got := lastAddr(netip.MustParsePrefix("100.64.0.0/10")); got.String() != "100.127.255.255" {
		t.Fatalf("lastAddr: %v", got)
	}
}

func TestReservedBlock(t *testing.T) {
	for _, c := range []struct {
		pool string
		bits int
		want string
	}{
		{"100.64.0.0/16", 4, "100.64.255.240/28"},
		{"10.0.0.0/24", 4, "10.0.0.240/28"},
		{"10.0.0.0/26", 4, "10.0.0.48/28"},
		{"10.0.0.0/27", 4, ""}, // 5 host bits < 4+2: nothing reserved
		{"10.0.0.0/24", 0, ""},
		{"fd00::/64", 4, ""},
	} {
		got, ok := ReservedBlock(netip.MustParsePrefix(c.pool), c.bits)
		if (c.want == "") == ok || (ok && got.String() != c.want) {
			t.Errorf("ReservedBlock(%s, %d) = %v %v, want %q", c.pool, c.bits, got, ok, c.want)
		}
	}
}

func TestULA(t *testing.T) {
	a, b := ULAFor("d1"), ULAFor("d2")
	if a != ULAFor("d1") {
		t.Fatal("the ULA of a Domain is not deterministic")
	}
	if a == b || a.Bits() != 64 || a.Addr().As16()[0] != 0xfd || !netip.MustParsePrefix("fd00::/8").Contains(a.Addr()) {
		t.Fatalf("ULAs %v %v", a, b)
	}
	v6 := IPv6For(a, netip.MustParseAddr("100.64.1.2"))
	if !a.Contains(v6) || !strings.HasSuffix(v6.String(), ":6440:102") {
		t.Fatalf("IPv6For = %v", v6)
	}
}

// TestAllocate covers the allocator on both databases: lowest free first,
// the reserved block kept from ordinary nodes and used by bridges, the
// Project sub-ranges, IPv6 for level-2 nodes only, and the quarantine of
// released addresses.
func TestAllocate(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := newFixture(t, b, func(c *Config) { c.ReleaseHold = time.Hour })
			f.addDomain(t, "d1", "10.1.0.0/24")
			f.addProject(t, "p1", "d1", "")
			f.addProject(t, "p2", "d1", "10.1.0.64/27")
			a := f.join(t, "a", "d1", "p1", "node", 1)
			if a.IPv4.String() != "10.1.0.1" || a.IPv6.IsValid() {
				t.Fatalf("first node: %+v", a)
			}
			b2 := f.join(t, "b", "d1", "p1", "node", 2)
			if b2.IPv4.String() != "10.1.0.2" || !b2.IPv6.IsValid() || !ULAFor("d1").Contains(b2.IPv6) ||
				b2.IPv6 != IPv6For(ULAFor("d1"), b2.IPv4) {
				t.Fatalf("level-2 node: %+v", b2)
			}
			br := f.join(t, "br", "d1", "p1", KindBridge, 1)
			if br.IPv4.String() != "10.1.0.241" {
				t.Fatalf("bridge: %v, want the reserved block's first", br.IPv4)
			}
			sub := f.join(t, "s", "d1", "p2", "node", 1)
			if sub.IPv4.String() != "10.1.0.65" {
				t.Fatalf("sub-range node: %v", sub.IPv4)
			}
			// Released: quarantined for the hold, then handed out again.
			f.leave(t, "a")
			c := f.join(t, "c", "d1", "p1", "node", 1)
			if c.IPv4.String() != "10.1.0.3" {
				t.Fatalf("after release: %v, want 10.1.0.3 (10.1.0.1 is quarantined)", c.IPv4)
			}
			f.clock.Add(time.Hour + time.Second)
			d := f.join(t, "d", "d1", "p1", "node", 1)
			if d.IPv4.String() != "10.1.0.1" {
				t.Fatalf("after the hold: %v, want 10.1.0.1 again", d.IPv4)
			}
			var left int
			f.db.QueryRow(`SELECT COUNT(*) FROM mesh_ip_releases`).Scan(&left)
			if left != 0 {
				t.Fatalf("%d expired quarantine rows kept", left)
			}
		})
	}
}

// TestAllocateExhaustion: ordinary nodes never get the reserved block;
// when the rest is used up they get 503 pool_exhausted, bridges still get
// an address, and a bridge overflows into the ordinary range once the
// reserved block is full.
func TestAllocateExhaustion(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := newFixture(t, b, func(c *Config) { c.ReservedBits = 2; c.ReleaseHold = -1 })
			f.addDomain(t, "d1", "10.2.0.0/28") // ordinary .1–.11; reserved .12/30 gives bridges .13, .14
			f.addProject(t, "p1", "d1", "")
			for i := 1; i <= 11; i++ {
				a := f.join(t, nodeID(i), "d1", "p1", "node", 1)
				if a.IPv4.As4()[3] != byte(i) {
					t.Fatalf("node %d got %v", i, a.IPv4)
				}
			}
			err := f.db.Tx(t.Context(), func(tx *sql.Tx) error {
				_, err := f.svc.Allocate(t.Context(), tx, Request{DomainID: "d1", ProjectID: "p1", Kind: "node", Level: nodeproto.Level1})
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "No free mesh address") {
				t.Fatalf("ordinary node past the pool: %v", err)
			}
			for i, want := range []string{"10.2.0.13", "10.2.0.14"} {
				if a := f.join(t, "br"+nodeID(i), "d1", "p1", KindBridge, 1); a.IPv4.String() != want {
					t.Fatalf("bridge %d: %v, want %s", i, a.IPv4, want)
				}
			}
			f.leave(t, nodeID(5))
			if a := f.join(t, "br-x", "d1", "p1", KindBridge, 1); a.IPv4.String() != "10.2.0.5" {
				t.Fatalf("bridge overflow: %v", a.IPv4)
			}
		})
	}
}
