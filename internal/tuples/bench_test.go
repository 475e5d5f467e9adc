package tuples_test

import (
	"slices"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// BenchmarkHTTPCheck measures authorization end to end over loopback HTTP,
// one request at a time, as a project viewer: POST /v1/authz/check (bearer
// authentication, the engine's check, the audit entry committed for it,
// JSON) and GET /v1/projects/{id} (authentication, the guard's check before
// the read, the read). It reports per-request percentiles.
func BenchmarkHTTPCheck(b *testing.B) {
	for _, backend := range apptest.Backends(b) {
		b.Run(string(backend), func(b *testing.B) {
			e := apptest.Start(b, backend)
			var d apiv1.Domain
			if st, raw := e.Do(b, "POST", "/v1/domains", apiv1.CreateDomain{Name: "B", Slug: "b", MeshCIDR: "10.9.0.0/16"}, &d); st != 201 {
				b.Fatalf("domain: %d %s", st, raw)
			}
			var p apiv1.Project
			if st, raw := e.Do(b, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "P", Slug: "p"}, &p); st != 201 {
				b.Fatalf("project: %d %s", st, raw)
			}
			uid, tok := e.NewUser(b, "viewer")
			if st, raw := e.Do(b, "POST", "/v1/authz/relation-tuples?project_id="+p.ID,
				apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "viewer", Resource: "project:" + p.ID}, nil); st != 201 {
				b.Fatalf("grant: %d %s", st, raw)
			}
			check := apiv1.AuthzCheck{Subject: "user:" + uid, Relation: "read", Resource: "project:" + p.ID}
			b.Run("check", func(b *testing.B) {
				measure(b, func() int { st, _ := e.DoAs(b, tok, "POST", "/v1/authz/check", check, nil); return st })
			})
			b.Run("guarded-read", func(b *testing.B) {
				measure(b, func() int { st, _ := e.DoAs(b, tok, "GET", "/v1/projects/"+p.ID, nil, nil); return st })
			})
		})
	}
}

func measure(b *testing.B, do func() int) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if st := do(); st != 200 {
			b.Fatalf("status %d", st)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
