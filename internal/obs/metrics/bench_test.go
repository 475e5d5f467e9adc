package metrics

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/plexsphere/plexsphere/internal/events"
)

// benchService opens a TSDB whose node cache already holds nodes (so the
// benchmark measures decoding, validation and the TSDB, not the database).
func benchService(b *testing.B, nodes int) (*Service, []string) {
	b.Helper()
	s, err := open(Config{Dir: b.TempDir(), BatchesPerSecond: 1e9, BatchBurst: 1 << 30, MaxBatchRecords: DefaultMaxBatchRecords})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ids := make([]string, nodes)
	proj := uuid.NewString()
	for i := range ids {
		ids[i] = uuid.NewString()
		s.nodes[ids[i]] = &nodeState{info: nodeInfo{domainID: domA, projectID: proj, hostname: fmt.Sprintf("h%d", i)},
			fetched: time.Now().Add(time.Hour), keys: map[string]int{}}
	}
	return s, ids
}

// BenchmarkIngest: level-1 batches (100 MetricPoints: system, tunnel and
// latency groups, 13 samples per three points) from 100 nodes through
// Ingest. Reports samples/s.
func BenchmarkIngest(b *testing.B) {
	s, ids := benchService(b, 100)
	peer := uuid.NewString()
	start := time.Now().Add(-time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	before := s.Stats().Samples
	t0 := time.Now()
	for i := 0; b.Loop(); i++ {
		at := start.Add(time.Duration(i/len(ids)) * time.Second)
		body := []byte{'['}
		for j := range 33 {
			if j > 0 {
				body = append(body, ',')
			}
			p := level1(at.Add(time.Duration(j)*time.Millisecond), peer)
			body = append(body, p[1:len(p)-1]...)
		}
		body = append(body, ']')
		if _, err := s.Ingest(context.Background(), events.IngestBatch{NodeID: ids[i%len(ids)], Kind: "metrics",
			ContentType: "application/json", Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().Samples-before)/time.Since(t0).Seconds(), "samples/s")
}

func level1(at time.Time, peer string) []byte {
	ts := at.UTC().Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `[{"timestamp":%q,"group":"system","data":{"cpu_usage_percent":12.5,"memory_used_bytes":1024,
"memory_total_bytes":4096,"disk_used_bytes":1,"disk_total_bytes":2,"network_rx_bytes":3,"network_tx_bytes":4}},
{"timestamp":%q,"group":"tunnel","peer_id":%q,"data":{"peer_id":%q,"last_handshake_time":%q,"rx_bytes":10,"tx_bytes":20,
"handshake_succeeded":true,"handshake_stale":false}},
{"timestamp":%q,"group":"latency","data":{"peer_id":%q,"rtt_nano":1500000}}]`, ts, ts, peer, peer, ts, ts, peer)
}

// BenchmarkRangeQuery1000Nodes24h: a confined PromQL range query over
// 1,000 nodes' plexd_system_cpu_usage_percent sampled every 60 s for 24 h
// (1.44 M samples), step 5 m, the scope listing all 1,000 node ids.
func BenchmarkRangeQuery1000Nodes24h(b *testing.B) {
	s, ids := benchService(b, 1000)
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-24 * time.Hour)
	for _, id := range ids {
		lset := mustLabels(s.nodes[id].info, id)
		var out []sample
		for m := range 24 * 60 {
			out = append(out, sample{lset: lset, t: start.Add(time.Duration(m) * time.Minute).UnixMilli(), v: float64(m % 100)})
		}
		if err := s.append(context.Background(), out); err != nil {
			b.Fatal(err)
		}
	}
	sc := Scope{DomainID: domA, IDs: ids}
	for _, q := range []string{
		`avg_over_time(plexd_system_cpu_usage_percent[5m]) > 90`,
		`avg by (project_id)(rate(plexd_system_cpu_usage_percent[5m]))`,
	} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				expr, err := s.parser.ParseExpr(q)
				if err != nil {
					b.Fatal(err)
				}
				if st, raw := s.Run(context.Background(), expr, sc, Times{Start: start, End: end, Step: 5 * time.Minute}); st != 200 {
					b.Fatalf("%d %s", st, raw)
				}
			}
		})
	}
}

func mustLabels(info nodeInfo, id string) labels.Labels {
	got, err := decodeRecord(fmt.Appendf(nil, `{"timestamp":%q,"group":"system","data":{"cpu_usage_percent":1}}`,
		time.Now().Add(-time.Minute).Format(time.RFC3339)), id, info, time.Now())
	if err != nil {
		panic(err)
	}
	return got[0].lset
}

// BenchmarkIngestBurst2000Nodes: one level-1 batch (99 MetricPoints, 429
// samples) from each of 2,000 distinct nodes, all posted at once (2,000
// goroutines through Ingest), per iteration; each iteration is the next
// minute's batches. Reports B/op and allocs/op of a whole burst, the heap
// in use before the first burst (base-heap-MiB) and the highest heap in use
// sampled every 2 ms during the bursts (peak-heap-MiB).
func BenchmarkIngestBurst2000Nodes(b *testing.B) {
	const nodes = 2000
	s, ids := benchService(b, nodes)
	peer := uuid.NewString()
	start := time.Now().Add(-5 * time.Hour)
	// The batches are built before timing (a node's body is its own).
	bodies := func(at time.Time) [][]byte {
		out := make([][]byte, nodes)
		for n := range out {
			body := []byte{'['}
			for j := range 33 {
				if j > 0 {
					body = append(body, ',')
				}
				p := level1(at.Add(time.Duration(n)*time.Millisecond+time.Duration(j)*time.Second), peer)
				body = append(body, p[1:len(p)-1]...)
			}
			out[n] = append(body, ']')
		}
		return out
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	b.ReportAllocs()
	samples := s.Stats().Samples
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		batch := bodies(start.Add(time.Duration(i) * time.Minute))
		b.StartTimer()
		var wg sync.WaitGroup
		errs := make(chan error, nodes)
		for n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Ingest(context.Background(), events.IngestBatch{NodeID: ids[n], Kind: "metrics",
					ContentType: "application/json", Body: batch[n]}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	<-sampled
	if got := s.Stats().Samples - samples; got != int64(b.N)*nodes*429 {
		b.Fatalf("stored %d samples, want %d", got, int64(b.N)*nodes*429)
	}
	b.ReportMetric(float64(base)/(1<<20), "base-heap-MiB")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
