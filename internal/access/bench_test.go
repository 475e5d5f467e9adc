package access_test

import (
	"sort"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
)

// BenchmarkIssueSession measures session issuance over HTTP on the real
// control plane (ReBAC check, target checks, caps, one Ed25519 signature,
// the session row, session_setup to the node and the audit entry in one
// transaction): latency quantiles of sequential issuances, and
// issuances per second with parallel clients (docs/benchmarks.md).
func BenchmarkIssueSession(b *testing.B) {
	for _, backend := range apptest.Backends(b) {
		b.Run(string(backend)+"/sequential", func(b *testing.B) {
			w := benchWorld(b, backend)
			req := w.sshRequest(b, "")
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if st, raw := w.e.Do(b, "POST", w.path(), req, nil); st != 201 {
					b.Fatalf("issue: %d %s", st, raw)
				}
				took = append(took, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			q := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
			}
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
		b.Run(string(backend)+"/parallel", func(b *testing.B) {
			w := benchWorld(b, backend)
			req := w.sshRequest(b, "")
			b.SetParallelism(4)
			t0 := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if st, raw := w.e.Do(b, "POST", w.path(), req, nil); st != 201 {
						b.Errorf("issue: %d %s", st, raw)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "issuances/s")
		})
	}
}

// benchWorld is a world without the Domain caps in the way, its gateway
// already up.
func benchWorld(b *testing.B, backend apptest.Backend) *world {
	w := newWorld(b, backend, func(c *config.Config) { c.SessionMaxLive, c.SessionIssueRate = 1<<30, 1<<30 })
	if st, raw := w.e.Do(b, "POST", w.path(), w.sshRequest(b, ""), &apiv1.IssuedSession{}); st != 201 {
		b.Fatalf("warm-up: %d %s", st, raw)
	}
	return w
}
