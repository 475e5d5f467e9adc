package dashboard_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

// TestBrowserPageLoad measures fresh page loads (navigation to the first
// rows rendered, performance.now() in the browser) with 1,000 Projects in
// one Domain, and fails when even the best of 7 loads exceeds the limit
// (the 300 ms with PLEXSPHERE_PERF_STRICT=1, else three times that;
// not enforced under the race detector). The numbers are
// logged (go test -v) and reported in docs/benchmarks.md.
func TestBrowserPageLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 Projects")
	}
	env := browsertest.Get(t)
	// 1,000 Projects in a Domain of their own, through the API.
	var d apiv1.Domain
	if st := post(t, env, "/v1/domains", apiv1.CreateDomain{Name: "Page load", Slug: "pageload-1000", MeshCIDR: "100.90.0.0/16"}, &d); st != 201 {
		t.Fatalf("domain: %d", st)
	}
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if st := post(t, env, "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: fmt.Sprintf("p%04d", i), Slug: fmt.Sprintf("p%04d", i)}, nil); st != 201 {
					errs <- fmt.Errorf("project %d: %d", i, st)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")
	// The budget is 300 ms. It is enforced as such with
	// PLEXSPHERE_PERF_STRICT=1 on a quiet machine (how docs/benchmarks.md
	// is measured); otherwise a 3x ceiling catches gross regressions (a
	// request waterfall, a page that loads every row) without failing
	// when other packages' tests load the CPU.
	limit := 3 * 300 * time.Millisecond
	if os.Getenv("PLEXSPHERE_PERF_STRICT") == "1" {
		limit = 300 * time.Millisecond
	}
	for _, c := range []struct{ name, route, ready string }{
		{"domains", "#/domains", "domains-row"},
		{"projects-of-1000", "#/projects?domain_id=" + d.ID, "projects-row"},
		{"domain", "#/domains/" + d.ID, "domain-detail"},
		{"audit-of-1000", "#/domains/" + d.ID + "/audit", "audit-row"},
		{"design", "#/design", "design-kv"},
	} {
		p.LoadTime(c.route, c.ready) // warm: the module cache revalidates by ETag
		var runs []time.Duration
		for range 7 {
			runs = append(runs, p.LoadTime(c.route, c.ready))
		}
		slices.Sort(runs)
		median := runs[len(runs)/2]
		t.Logf("page load %-18s median of 7: %v (best %v, worst %v)", c.name, median.Round(time.Millisecond),
			runs[0].Round(time.Millisecond), runs[len(runs)-1].Round(time.Millisecond))
		// The best of 7 against the limit: the machine is shared (go test
		// runs packages at once), and a descheduled run says nothing about
		// the page; the median is logged for docs/benchmarks.md.
		if runs[0] > limit && !raceDetector {
			t.Errorf("%s loads in %v at best (median %v), limit %v", c.name, runs[0], median, limit)
		}
	}
	p.Shot("projects-of-1000")
}
