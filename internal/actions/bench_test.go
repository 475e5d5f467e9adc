package actions_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// BenchmarkDispatchFleet dispatches gather_info to 1,000 simulated nodes
// and measures until every result is in and the execution reads
// succeeded: the dispatch (resolution, per-target ReBAC, capability and
// drift checks, 1,000 target rows and action_request events in one
// transaction) and 1,000 level-1 results over HTTP from 8 concurrent
// senders, each a transaction that settles a target, audits it and
// continues the rollout. Reported: seconds per dispatch-to-last-result
// and results ingested per second. Registering the 1,000 nodes (through
// the real register endpoint) is set-up, not measured.
func BenchmarkDispatchFleet(b *testing.B) {
	const n = 1000
	for _, backend := range apptest.Backends(b) {
		b.Run(fmt.Sprintf("%s/N=%d", backend, n), func(b *testing.B) {
			e := apptest.Start(b, backend)
			enr := e.NewEnrolment(b, "bench", "100.84.0.0/16", n)
			nodes := make([]apptest.Node, n)
			var wg sync.WaitGroup
			var next atomic.Int64
			for range 2 { // registration is Argon2id-bound; SQLite takes one writer
				wg.Go(func() {
					for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
						nodes[i] = e.RegisterNode(b, enr.Token.Token, fmt.Sprintf("sim%d", i), 1)
					}
				})
			}
			wg.Wait()
			ids := make([]string, n)
			for i, nd := range nodes {
				ids[i] = nd.ID
			}
			var resultsTime time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				var ex apiv1.Execution
				if st, raw := e.Do(b, "POST", "/v1/projects/"+enr.Project.ID+"/executions:dispatch",
					apiv1.DispatchExecutionRequest{Action: "gather_info", NodeIDs: ids, TimeoutSeconds: 300}, &ex); st != 201 {
					b.Fatalf("dispatch: %d %s", st, raw)
				}
				r0 := time.Now()
				var sent atomic.Int64
				for range 8 {
					wg.Go(func() {
						for i := int(sent.Add(1) - 1); i < n; i = int(sent.Add(1) - 1) {
							nd := nodes[i]
							res := nodeproto.ExecutionResult{ExecutionID: ex.ID, Status: nodeproto.ResultSuccess, Stdout: `{"hostname":"sim"}`,
								Duration: "10ms", FinishedAt: time.Now().UTC()}
							if resp, raw := e.NodeSend(b, nd, "POST", "/v1/nodes/"+nd.ID+"/executions/"+ex.ID+"/result", res, nil); resp.StatusCode != 204 {
								b.Errorf("result: %d %s", resp.StatusCode, raw)
								return
							}
						}
					})
				}
				wg.Wait()
				resultsTime += time.Since(r0)
				var got apiv1.Execution
				if st, raw := e.Do(b, "GET", "/v1/projects/"+enr.Project.ID+"/executions/"+ex.ID, nil, &got); st != 200 || got.Status != "succeeded" {
					b.Fatalf("after the results: %d %.200s", st, raw)
				}
				b.ReportMetric(time.Since(t0).Seconds(), "s/dispatch-to-last-result")
			}
			b.ReportMetric(float64(n*b.N)/resultsTime.Seconds(), "results/s")
		})
	}
}
