package tenancy_test

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// Issue 8, tenancy codes: on the contract's Project and Resource
// operations the answers carry the contract's closed taxonomy —
// parent_domain_missing (we sent 404 domain_not_found),
// invalid_domain_filter (invalid_domain_id), invalid_project for a
// sub-range that breaks the Project's invariants (invalid_sub_range_cidr,
// 422 sub_range_outside_mesh), sub_range_invalidates_allocation for a patch
// that contradicts itself (invalid_body), and invalid_resource_origin for a
// missing or unknown Resource origin (invalid_body).
func TestIssue8TenancyContractCodes(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			var d apiv1.Domain
			if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "100.64.0.0/16"}, &d); st != 201 {
				t.Fatalf("domain: %d %s", st, raw)
			}
			st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: "01900000-0000-7000-8000-000000000000", Name: "P", Slug: "p"}, nil)
			wantProblem(t, st, raw, 409, "parent_domain_missing")
			st, raw = e.Do(t, "GET", "/v1/projects?domain_id=nope", nil, nil)
			wantProblem(t, st, raw, 400, "invalid_domain_filter")
			st, raw = e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "P", Slug: "p", SubRangeCIDR: "10.0.0.0/24"}, nil)
			wantProblem(t, st, raw, 400, "invalid_project")
			st, raw = e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "P", Slug: "p", SubRangeCIDR: "100.64.1.1/24"}, nil)
			wantProblem(t, st, raw, 400, "invalid_project")
			var p apiv1.Project
			if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "P", Slug: "p", SubRangeCIDR: "100.64.1.0/24"}, &p); st != 201 {
				t.Fatalf("project: %d %s", st, raw)
			}
			st, raw = e.Do(t, "PATCH", "/v1/projects/"+p.ID, map[string]any{"release_sub_range": true, "sub_range_cidr": "100.64.2.0/24"}, nil)
			wantProblem(t, st, raw, 422, "sub_range_invalidates_allocation")
			for _, body := range []string{`{"kind":"vm"}`, `{"kind":"vm","origin":"stolen"}`} {
				st, raw = e.Do(t, "POST", "/v1/projects/"+p.ID+"/resources", body, nil)
				wantProblem(t, st, raw, 400, "invalid_resource_origin")
			}
			if st, raw := e.Do(t, "POST", "/v1/projects/"+p.ID+"/resources", apiv1.CreateResource{Origin: "adopted", Kind: "vm"}, nil); st != 201 {
				t.Fatalf("adopted resource: %d %s", st, raw)
			}
		})
	}
}
