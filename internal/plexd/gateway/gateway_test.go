package gateway_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/gateway"
)

// Two pools on one control plane (two replicas) each enrol a gateway of
// kind gateway for the Project, with a mesh address from the reserved
// block at the top of the pool; both stay live; a closed pool starts no
// more gateways.
func TestGatewaysJoinAsPeersOfTheirOwn(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	enr := e.NewEnrolment(t, "gw", "100.82.0.0/24", 1)
	pools := make([]*gateway.Pool, 2)
	ips := make([]string, 2)
	for i := range pools {
		p, err := gateway.New(gateway.Options{Server: e.URL, Issue: e.Server.Enroll.IssueGatewayToken})
		if err != nil {
			t.Fatal(err)
		}
		pools[i] = p
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ips[i], err = p.Source(ctx, enr.Project.ID)
		cancel()
		if err != nil {
			t.Fatalf("pool %d: %v", i, err)
		}
		again, err := p.Source(context.Background(), enr.Project.ID)
		if err != nil || again != ips[i] {
			t.Fatalf("pool %d started twice: %s then %s (%v)", i, ips[i], again, err)
		}
	}
	block, _ := mesh.ReservedBlock(netip.MustParsePrefix("100.82.0.0/24"), 4)
	for i, ip := range ips {
		if a, err := netip.ParseAddr(ip); err != nil || !block.Contains(a) {
			t.Errorf("gateway %d has %s, not in the reserved block %s", i, ip, block)
		}
	}
	if ips[0] == ips[1] {
		t.Fatal("two gateways share a mesh address")
	}
	var live int
	if err := e.Server.DB.QueryRow(`SELECT COUNT(*) FROM nodes WHERE project_id = $1 AND kind = 'gateway' AND revoked_at IS NULL`,
		enr.Project.ID).Scan(&live); err != nil || live != 2 {
		t.Fatalf("live gateways: %d %v", live, err)
	}
	// Nothing listens on the node side here: a dial fails, it does not hang.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c, err := pools[0].Dial(ctx, enr.Project.ID, "100.82.0.1:7480"); err == nil {
		c.Close()
		t.Error("dialed an address no peer owns")
	}
	for _, p := range pools {
		p.Close()
	}
	if _, err := pools[0].Source(context.Background(), enr.Project.ID); err == nil {
		t.Error("a closed pool started a gateway")
	}
}
