package logs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/events"
)

// BenchmarkIngestLogLines: log lines/s through the store (validation,
// dedupe key, sequence numbers, batched inserts), in batches of 200 lines
// (the existing agent's largest), on each database.
func BenchmarkIngestLogLines(b *testing.B) {
	for _, be := range apptest.Backends(b) {
		b.Run(string(be), func(b *testing.B) {
			e := apptest.Start(b, be)
			f := e.NewEnrolment(b, "logb", "100.87.0.0/16", 5)
			n := e.RegisterNode(b, f.Token.Token, "web-1", 1)
			const per = 200
			batches := make([][]byte, b.N)
			for i := range b.N {
				lines := make([]map[string]any, per)
				for j := range per {
					lines[j] = logEntry(i*per+j, "app.service", "info", "web-1", fmt.Sprintf("request %d served in 12ms path=/api/v1/items", i*per+j))
				}
				batches[i], _ = json.Marshal(lines)
			}
			svc := e.Server.NodeLogs
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				// Through the Ingester (no HTTP, no per-node rate limit).
				if _, err := svc.StoreForBench(context.Background(), events.IngestBatch{NodeID: n.ID, Kind: "logs",
					ContentType: "application/json", Body: batches[i]}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*per)/time.Since(start).Seconds(), "lines/s")
		})
	}
}
