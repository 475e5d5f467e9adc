package enroll_test

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestAllocationOrder pins the mesh IP allocator's choices, one enrolment
// at a time so that it is deterministic on both databases: a Project's
// nodes get the lowest free addresses of its own sub-range (never its
// network address), and a Project without one gets the lowest free
// addresses of the Domain's pool outside every sibling's sub-range,
// skipping addresses nodes hold.
//
// Mutations (issue 17) in the allocator (internal/mesh/ipam.go): hand out
// used addresses, read the used set for the wrong scope, ignore sibling
// sub-ranges, ignore the Project's own sub-range, or hand out the network
// address → an address below differs (or the enrolment fails) and this
// test fails.
func TestAllocationOrder(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			// Project a owns the start of the pool; b has no sub-range; c
			// owns a range further in.
			f := e.fixture(t, "alloc-order", "100.86.0.0/16", "100.86.0.0/24")
			project := func(slug, subRange string) string {
				var p apiv1.Project
				if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: f.domain.ID, Name: slug, Slug: slug,
					SubRangeCIDR: subRange}, &p); st != 201 {
					t.Fatalf("create project %s: %d %s", slug, st, raw)
				}
				return p.ID
			}
			tokens := map[string]string{"a": f.project.ID, "b": project("plain", ""), "c": project("ranged", "100.86.9.0/24")}
			for name, pid := range tokens {
				tokens[name] = e.issue(t, pid, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).Token
			}
			for i, step := range []struct{ project, want string }{
				{"b", "100.86.1.0"}, // the pool's first address outside a's range
				{"a", "100.86.0.1"}, // a's range, past its network address
				{"b", "100.86.1.1"}, // 100.86.1.0 is held
				{"c", "100.86.9.1"}, // c's own range, not the pool
				{"a", "100.86.0.2"},
			} {
				resp, raw := e.registerAgent(t, tokens[step.project], newKey(), "host")
				if resp.StatusCode != 200 {
					t.Fatalf("enrolment %d in %s: %d %s", i, step.project, resp.StatusCode, raw)
				}
				if got := decodeRegistered(t, raw).MeshIP; got != step.want {
					t.Fatalf("enrolment %d in %s got %s, want %s", i, step.project, got, step.want)
				}
			}
		})
	}
}
