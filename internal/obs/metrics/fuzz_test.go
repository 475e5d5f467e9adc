package metrics

import (
	"testing"
	"time"
)

// FuzzMetricsBatch: any metrics body (a §12.7 array, MetricSample records
// or NDJSON) splits and decodes without panicking, and every sample it
// yields carries the sending node's labels from its row, never the body's.
func FuzzMetricsBatch(f *testing.F) {
	f.Add(`[{"timestamp":"2026-03-01T11:59:00Z","group":"system","data":{"cpu_usage_percent":1.5}}]`, false)
	f.Add(`[{"timestamp":"2026-03-01T11:59:00Z","group":"tunnel","peer_id":"`+node2+`","data":{"rx_bytes":1,"handshake_stale":false,"last_handshake_time":"2026-03-01T11:58:00Z"}}]`, false)
	f.Add(`{"group":"node_resources","name":"x","value":1,"labels":{"node_id":"`+node4+`","domain_id":"`+domB+`"},"timestamp":"2026-03-01T11:59:00Z"}`, true)
	f.Add(`null`, false)
	f.Add(`[1,"a",{},[]]`, false)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	info := nodeInfo{domainID: domA, projectID: projA1, hostname: "h"}
	f.Fuzz(func(t *testing.T, body string, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		records, err := splitRecords(ct, []byte(body), 100)
		if err != nil {
			return
		}
		for _, r := range records {
			samples, err := decodeRecord(r, node1, info, now)
			if err != nil {
				continue
			}
			for _, s := range samples {
				if s.lset.Get(LabelNodeID) != node1 || s.lset.Get(LabelDomainID) != domA ||
					s.lset.Get(LabelProjectID) != projA1 || s.lset.Get(LabelHostname) != "h" || s.lset.Len() > 6 {
					t.Fatalf("labels %s from %s", s.lset, r)
				}
			}
		}
	})
}
