package audit

import (
	"fmt"
	"testing"
	"time"
)

// Issue 7 row 10: a flood from more client networks than the table holds
// still adds a bounded number of entries per window.
func TestBurstIsBoundedAcrossManyNetworks(t *testing.T) {
	b := newBurst(time.Minute)
	now := time.Unix(1_000_000, 0)
	admitted := 0
	for i := range 3 * maxBurstKeys {
		for range 3 {
			e := Entry{ChainID: PlatformChain, Action: "node.register", Outcome: Denied, Reason: "unauthorized",
				IP: fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)}
			if b.admit(e, now) {
				admitted++
			}
		}
	}
	if admitted > maxBurstKeys+1 {
		t.Fatalf("%d entries admitted from %d networks", admitted, 3*maxBurstKeys)
	}
	if len(b.windows) > maxBurstKeys+1 {
		t.Fatalf("%d windows tracked", len(b.windows))
	}
	rolls := b.take(now.Add(2*time.Minute), true)
	var counted int64
	for _, r := range rolls {
		var n int64
		fmt.Sscan(r.ObjectID, &n)
		counted += n
	}
	if int(counted)+admitted != 9*maxBurstKeys {
		t.Fatalf("admitted %d + rolled up %d != %d events", admitted, counted, 9*maxBurstKeys)
	}
	if len(b.windows) != 0 {
		t.Fatalf("closed windows kept: %d", len(b.windows))
	}
}

// IPv6 clients are aggregated per /64, IPv4 per address.
func TestBurstNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7", "::ffff:192.0.2.7": "192.0.2.7", "2001:db8:1:2:3::9": "2001:db8:1:2::/64",
		"not-an-ip": "not-an-ip",
	} {
		if got := network(in); got != want {
			t.Errorf("network(%q) = %q, want %q", in, got, want)
		}
	}
}
