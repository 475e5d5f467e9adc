package tenancy_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/store"
)

// BenchmarkListProjects pages through 10,000 Projects at 200 per page over
// HTTP (authentication, cursor checks, authorization filter and JSON
// included) and reports the per-page p50/p99 latency on each database.
func BenchmarkListProjects(b *testing.B) {
	for _, backend := range apptest.Backends(b) {
		b.Run(string(backend), func(b *testing.B) {
			e := apptest.Start(b, backend)
			var d apiv1.Domain
			e.Do(b, "POST", "/v1/domains", apiv1.CreateDomain{Name: "B", Slug: "bench", MeshCIDR: "10.0.0.0/8"}, &d)
			seedProjects(b, e.Server.DB, d.ID, 10_000)
			var lat []time.Duration
			for b.Loop() {
				cursor := ""
				for {
					start := time.Now()
					var page apiv1.List[apiv1.Project]
					if st, raw := e.Do(b, http.MethodGet, "/v1/projects?limit=200&domain_id="+d.ID+"&cursor="+cursor, nil, &page); st != 200 {
						b.Fatalf("%d %s", st, raw)
					}
					lat = append(lat, time.Since(start))
					if cursor = page.NextCursor; cursor == "" {
						break
					}
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms/page")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms/page")
		})
	}
}

func seedProjects(b *testing.B, db *store.DB, domainID string, n int) {
	ctx := context.Background()
	now := store.Micros(time.Now())
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			if _, err := tx.ExecContext(ctx, `INSERT INTO projects (id, domain_id, slug, name, description, sub_range_cidr, created_at, updated_at)
				VALUES ($1, $2, $3, $4, '', '', $5, $5)`, uuid.Must(uuid.NewV7()).String(), domainID, fmt.Sprintf("p%05d", i), "p", now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
