package tenancy_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// wantProblem asserts a problem+json body with the given status and code.
func wantProblem(t *testing.T, status int, raw []byte, wantStatus int, wantCode string) apiv1.Problem {
	t.Helper()
	var p apiv1.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("not a problem body: %s", raw)
	}
	if status != wantStatus || p.Code != wantCode || p.Status != wantStatus {
		t.Fatalf("got %d %q (%s), want %d %q", status, p.Code, raw, wantStatus, wantCode)
	}
	if p.Type != "https://plexsphere.com/errors/"+strings.ReplaceAll(wantCode, "_", "-") || p.Title == "" || p.Instance == "" {
		t.Fatalf("incomplete problem: %s", raw)
	}
	return p
}

func TestTenancyAPI(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testTenancy(t, apptest.Start(t, b))
		})
	}
}

func testTenancy(t *testing.T, e *apptest.Env) {
	st, raw := e.DoAs(t, "", "GET", "/v1/domains", nil, nil)
	wantProblem(t, st, raw, 401, "unauthenticated")
	st, raw = e.DoAs(t, "psk_prod_notarealtoken", "GET", "/v1/domains", nil, nil)
	wantProblem(t, st, raw, 401, "unauthenticated")

	var acme apiv1.Domain
	st, raw = e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "Acme", Slug: "acme", MeshCIDR: "100.64.0.0/16"}, &acme)
	if st != 201 || acme.ID == "" || acme.Reachability.HeartbeatInterval != "30s" {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	st, raw = e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "Again", Slug: "acme", MeshCIDR: "100.70.0.0/16"}, nil)
	// Issue 8 row "slug conflicts": the contract's code is
	// domain_slug_conflict (we sent slug_conflict).
	wantProblem(t, st, raw, 409, "domain_slug_conflict")
	st, raw = e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "Lap", Slug: "lap", MeshCIDR: "100.64.128.0/17"}, nil)
	wantProblem(t, st, raw, 409, "mesh_cidr_overlap")
	st, raw = e.Do(t, "POST", "/v1/domains", `{"name": "broken",`, nil)
	wantProblem(t, st, raw, 400, "invalid_body")
	st, raw = e.Do(t, "POST", "/v1/domains", `{"name":"`+strings.Repeat("x", 9000)+`"}`, nil)
	wantProblem(t, st, raw, 413, "request_body_too_large")
	st, raw = e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "Bad", Slug: "Bad_Slug", MeshCIDR: "100.80.0.0/16"}, nil)
	wantProblem(t, st, raw, 400, "invalid_body")
	st, raw = e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "H", Slug: "h", MeshCIDR: "100.80.0.1/16"}, nil)
	// Issue 8: the contract's code for a body breaking the Domain's
	// invariants is invalid_domain (we sent invalid_mesh_cidr).
	wantProblem(t, st, raw, 400, "invalid_domain")

	st, raw = e.Do(t, "GET", "/v1/domains/not-a-uuid", nil, nil)
	wantProblem(t, st, raw, 400, "invalid_domain_id")
	st, raw = e.Do(t, "GET", "/v1/domains/01900000-0000-7000-8000-000000000000", nil, nil)
	wantProblem(t, st, raw, 404, "domain_not_found")

	var got apiv1.Domain
	if st, raw = e.Do(t, "PATCH", "/v1/domains/"+acme.ID, map[string]any{"name": "Acme Corp"}, &got); st != 200 || got.Name != "Acme Corp" {
		t.Fatalf("patch: %d %s", st, raw)
	}
	st, raw = e.Do(t, "PATCH", "/v1/domains/"+acme.ID, map[string]any{"slug": "other"}, nil)
	wantProblem(t, st, raw, 400, "slug_immutable")
	st, raw = e.Do(t, "PATCH", "/v1/domains/"+acme.ID, map[string]any{}, nil)
	wantProblem(t, st, raw, 400, "empty_patch")

	var other apiv1.Domain
	e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "Other", Slug: "other", MeshCIDR: "fd00:1::/48"}, &other)
	var web apiv1.Project
	if st, raw = e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: acme.ID, Name: "Web", Slug: "web", SubRangeCIDR: "100.64.1.0/24"}, &web); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	st, raw = e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: acme.ID, Name: "Web2", Slug: "web"}, nil)
	// Issue 8 row "slug conflicts": the contract's code is
	// project_slug_conflict (we sent slug_conflict).
	wantProblem(t, st, raw, 409, "project_slug_conflict")
	st, raw = e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: acme.ID, Name: "DB", Slug: "db", SubRangeCIDR: "100.64.1.128/25"}, nil)
	wantProblem(t, st, raw, 409, "sub_range_overlap")
	if st, raw = e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: other.ID, Name: "Web", Slug: "web"}, nil); st != 201 {
		t.Fatalf("same slug in another domain: %d %s", st, raw)
	}
	st, raw = e.Do(t, "PATCH", "/v1/domains/"+acme.ID, map[string]any{"mesh_cidr": "100.65.0.0/16"}, nil)
	wantProblem(t, st, raw, 422, "mesh_cidr_invalidates_subrange")

	st, raw = e.Do(t, "DELETE", "/v1/domains/"+acme.ID, nil, nil)
	p := wantProblem(t, st, raw, 409, "domain_not_empty")
	if p.ChildCounts == nil || p.ChildCounts.Projects != 1 {
		t.Fatalf("child_counts: %s", raw)
	}

	var res apiv1.Resource
	if st, raw = e.Do(t, "POST", "/v1/projects/"+web.ID+"/resources", apiv1.CreateResource{Origin: "adopted", Kind: "vm", ExternalRef: "vm-1"}, &res); st != 201 || res.DomainID != acme.ID {
		t.Fatalf("create resource: %d %s", st, raw)
	}
	st, raw = e.Do(t, "POST", "/v1/projects/"+web.ID+"/resources", apiv1.CreateResource{Origin: "provisioned", Kind: "vm"}, nil)
	wantProblem(t, st, raw, 501, "provisioning_not_provisioned")
	var list apiv1.List[apiv1.Resource]
	if st, _ = e.Do(t, "GET", "/v1/projects/"+web.ID+"/resources", nil, &list); st != 200 || len(list.Items) != 1 || list.Items[0].ID != res.ID {
		t.Fatalf("list resources: %d %+v", st, list)
	}
	st, raw = e.Do(t, "DELETE", "/v1/projects/"+web.ID, nil, nil)
	if p := wantProblem(t, st, raw, 409, "project_not_empty"); p.ProjectCounts == nil || p.ProjectCounts.Resources != 1 {
		t.Fatalf("project_child_counts: %s", raw)
	}
	for _, path := range []string{"/v1/resources/" + res.ID, "/v1/projects/" + web.ID, "/v1/domains/" + acme.ID} {
		if st, raw = e.Do(t, "DELETE", path, nil, nil); st != 204 {
			t.Fatalf("DELETE %s: %d %s", path, st, raw)
		}
		st, raw = e.Do(t, "GET", path, nil, nil)
		if st != 404 {
			t.Fatalf("GET %s after delete: %d %s", path, st, raw)
		}
	}
}

func TestConcurrentSlugCreate(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			const n = 12
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				statuses = map[int]int{}
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, _ := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{
						Name: "Race", Slug: "race", MeshCIDR: fmt.Sprintf("10.%d.0.0/16", i)}, nil)
					mu.Lock()
					statuses[st]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if statuses[201] != 1 || statuses[409] != n-1 {
				t.Fatalf("statuses = %v, want exactly one 201 and %d 409", statuses, n-1)
			}
		})
	}
}

func TestProjectPaging(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			var d apiv1.Domain
			e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "P", Slug: "p", MeshCIDR: "100.64.0.0/10"}, &d)
			const total = 230
			for i := range total {
				if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "p", Slug: fmt.Sprintf("p%03d", i)}, nil); st != 201 {
					t.Fatalf("create: %d %s", st, raw)
				}
			}
			seen, cursor, pages := []string{}, "", 0
			for {
				var page apiv1.List[apiv1.Project]
				st, raw := e.Do(t, "GET", "/v1/projects?limit=100&domain_id="+d.ID+"&cursor="+cursor, nil, &page)
				if st != 200 {
					t.Fatalf("page: %d %s", st, raw)
				}
				pages++
				for _, p := range page.Items {
					seen = append(seen, p.Slug)
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if len(seen) != total || pages != 3 {
				t.Fatalf("saw %d projects in %d pages", len(seen), pages)
			}
			for i := range seen {
				if seen[i] != fmt.Sprintf("p%03d", i) {
					t.Fatalf("order broken at %d: %s", i, seen[i])
				}
			}
			st, raw := e.Do(t, "GET", "/v1/projects?domain_id="+d.ID+"&cursor="+cursor[:len(cursor)-2]+"zz", nil, nil)
			wantProblem(t, st, raw, 400, "invalid_cursor")
			st, raw = e.Do(t, "GET", "/v1/projects?cursor="+cursor, nil, nil)
			wantProblem(t, st, raw, 400, "invalid_cursor") // minted for another filter
			st, raw = e.Do(t, "GET", "/v1/projects?limit=abc", nil, nil)
			wantProblem(t, st, raw, 400, "invalid_limit")
		})
	}
}

// TestPermissionDeniedShape checks the PermissionDenied problem of a caller
// with no grant: reason, an always-present relation_path and the correlation
// id of the audit row that recorded the denial.
func TestPermissionDeniedShape(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var d apiv1.Domain
	e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "10.1.0.0/16"}, &d)
	_, tok := e.NewUser(t, "outsider")
	st, raw := e.DoAs(t, tok, "GET", "/v1/domains/"+d.ID, nil, nil)
	p := wantProblem(t, st, raw, 403, "permission_denied")
	if p.Reason == "" || p.CorrelationID == "" || !strings.Contains(string(raw), `"relation_path":[`) {
		t.Fatalf("PermissionDenied shape: %s", raw)
	}
	var entries apiv1.AuditList
	e.Do(t, "GET", "/v1/domains/"+d.ID+"/audit/entries?correlation_id="+p.CorrelationID, nil, &entries)
	if len(entries.Items) != 1 || entries.Items[0].Outcome != "denied" {
		t.Fatalf("denial audit row: %+v", entries.Items)
	}
}
