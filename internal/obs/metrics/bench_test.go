package metrics

import (
	"context"
	"fmt"
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
