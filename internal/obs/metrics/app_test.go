package metrics_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/obs/metrics"
)

// level1Batch is a §12.7 metrics batch as the existing agent sends it.
func level1Batch(at time.Time, peer string, cpu float64) []byte {
	ts := at.UTC().Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `[{"timestamp":%q,"group":"system","data":{"cpu_usage_percent":%v,"memory_used_bytes":1024,
"memory_total_bytes":4096,"disk_used_bytes":1,"disk_total_bytes":2,"network_rx_bytes":3,"network_tx_bytes":4}},
{"timestamp":%q,"group":"tunnel","peer_id":%q,"data":{"peer_id":%q,"last_handshake_time":%q,"rx_bytes":10,"tx_bytes":20,
"handshake_succeeded":true,"handshake_stale":false}},
{"timestamp":%q,"group":"latency","data":{"peer_id":%q,"rtt_nano":1500000}}]`, ts, cpu, ts, peer, peer, ts, ts, peer)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func post(t *testing.T, e *apptest.Env, as apptest.Node, node string, body []byte, h http.Header) (int, int, []byte) {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "plexd/v0.1")
	resp, raw := e.NodeSendRaw(t, as, http.MethodPost, "/v1/nodes/"+node+"/metrics", body, h)
	var r struct {
		Records int    `json:"records"`
		Code    string `json:"code"`
	}
	json.Unmarshal(raw, &r)
	return resp.StatusCode, r.Records, raw
}

type promBody struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func query(t *testing.T, e *apptest.Env, token, domain string, v url.Values) (int, int32, promBody, []byte) {
	t.Helper()
	resp, raw := e.Send(t, token, http.MethodGet, "/v1/domains/"+domain+"/metrics/query?"+v.Encode())
	var r struct {
		StatusCode *int32  `json:"status_code"`
		Body       *string `json:"body"`
	}
	var b promBody
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, &r); err != nil || r.StatusCode == nil || r.Body == nil {
			t.Fatalf("not a MetricsQueryResult: %s", raw)
		}
		if err := json.Unmarshal([]byte(*r.Body), &b); err != nil {
			t.Fatalf("body is not Prometheus JSON: %s", *r.Body)
		}
		return resp.StatusCode, *r.StatusCode, b, raw
	}
	return resp.StatusCode, 0, b, raw
}

func grant(t *testing.T, e *apptest.Env, subject, relation, resource string) {
	t.Helper()
	path := "/v1/authz/relation-tuples"
	if id, ok := strings.CutPrefix(resource, "project:"); ok {
		path += "?project_id=" + id
	}
	if st, raw := e.Do(t, "POST", path, apiv1.WriteRelationTuple{Subject: subject, Relation: relation, Resource: resource}, nil); st != 201 {
		t.Fatalf("grant: %d %s", st, raw)
	}
}

// Issue 15: the existing agent's metrics batches (raw HTTP, gzip and not,
// resends) are stored once, labelled from the node's row; a node cannot
// post for another; a reader of one Project cannot see another Project's
// nodes, nor another Domain's, through any expression.
func TestNodeMetricsIngestAndConfinedQuery(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			fx := e.NewEnrolment(t, "obsm", "10.131.0.0/16", 5)
			n1 := e.RegisterNode(t, fx.Token.Token, "alpha", 1)
			n2 := e.RegisterNode(t, fx.Token.Token, "beta", 1)
			var p2 apiv1.Project
			if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: fx.Domain.ID, Name: "p2", Slug: "p2"}, &p2); st != 201 {
				t.Fatalf("project: %d %s", st, raw)
			}
			var tok2 apiv1.IssuedBootstrapToken
			if st, raw := e.Do(t, "POST", "/v1/projects/"+p2.ID+"/bootstrap-tokens",
				apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test", MaxUses: 1}, &tok2); st != 201 {
				t.Fatalf("token: %d %s", st, raw)
			}
			n3 := e.RegisterNode(t, tok2.Token, "gamma", 1)
			other := e.NewEnrolment(t, "obsm2", "10.132.0.0/16", 1)
			n4 := e.RegisterNode(t, other.Token.Token, "delta", 1)
			svc := e.Server.NodeMetrics

			now := time.Now().Add(-time.Minute)
			batch := level1Batch(now, n2.ID, 42)
			if st, n, raw := post(t, e, n1, n1.ID, batch, nil); st != 202 || n != 3 {
				t.Fatalf("plain batch: %d %s", st, raw)
			}
			stored := svc.Stats().Samples
			if stored != 7+5+1 {
				t.Fatalf("stored %d samples, want 13", stored)
			}
			// The existing agent's resend: same bytes, gzipped this time.
			if st, n, raw := post(t, e, n1, n1.ID, gz(batch), http.Header{"Content-Encoding": {"gzip"}}); st != 202 || n != 3 {
				t.Fatalf("resend: %d %s", st, raw)
			}
			if s := svc.Stats(); s.Duplicates != 1 || s.Samples != stored {
				t.Fatalf("resend stored again: %+v", s)
			}
			// Our plexd's batch with an Idempotency-Key, sent twice.
			kb := level1Batch(now, n1.ID, 95)
			for range 2 {
				if st, _, raw := post(t, e, n2, n2.ID, gz(kb), http.Header{"Content-Encoding": {"gzip"}, "Idempotency-Key": {"k-1"}}); st != 202 {
					t.Fatalf("keyed batch: %d %s", st, raw)
				}
			}
			if s := svc.Stats(); s.Duplicates != 2 || s.Samples != 2*stored {
				t.Fatalf("keyed resend: %+v", s)
			}
			if st, _, raw := post(t, e, n3, n3.ID, level1Batch(now, n1.ID, 7), nil); st != 202 {
				t.Fatalf("n3: %d %s", st, raw)
			}
			if st, _, raw := post(t, e, n4, n4.ID, level1Batch(now, n4.ID, 8), nil); st != 202 {
				t.Fatalf("n4: %d %s", st, raw)
			}
			// A node posting for another node is refused by the NSK check.
			if st, _, raw := post(t, e, n1, n3.ID, level1Batch(now, n1.ID, 1), nil); st != 403 || !strings.Contains(string(raw), "node_id_mismatch") {
				t.Fatalf("cross-node post: %d %s", st, raw)
			}
			// Bad records are counted and skipped; labels a node sends are dropped.
			bad := svc.Stats().BadRecords
			mixed := fmt.Appendf(nil, `[{"group":"system"},{"group":"node_resources","name":"agent_up","value":1,"timestamp":%q,
				"labels":{"node_id":%q,"domain_id":%q}},"x"]`, now.Format(time.RFC3339), n4.ID, other.Domain.ID)
			if st, n, raw := post(t, e, n1, n1.ID, mixed, nil); st != 202 || n != 1 {
				t.Fatalf("mixed batch: %d %s", st, raw)
			}
			if got := svc.Stats().BadRecords - bad; got != 2 {
				t.Fatalf("bad records counted %d, want 2", got)
			}

			at := url.Values{"time": {time.Now().UTC().Format(time.RFC3339)}}
			with := func(q string) url.Values {
				v := url.Values{"query": {q}}
				for k, vs := range at {
					v[k] = vs
				}
				return v
			}
			// The admin reads the Domain's three nodes, labelled from their rows.
			st, code, body, raw := query(t, e, e.Token, fx.Domain.ID, with(`plexd_system_cpu_usage_percent`))
			if st != 200 || code != 200 || body.Status != "success" || len(body.Data.Result) != 3 {
				t.Fatalf("admin query: %d %s", st, raw)
			}
			for _, r := range body.Data.Result {
				if r.Metric["node_id"] == n1.ID && (r.Metric["hostname"] != "alpha" || r.Metric["project_id"] != fx.Project.ID ||
					r.Metric["domain_id"] != fx.Domain.ID || r.Value[1] != "42") {
					t.Fatalf("n1 series: %v %v", r.Metric, r.Value)
				}
			}
			if st, _, body, raw := query(t, e, e.Token, fx.Domain.ID, with(`plexd_system_agent_up`)); st != 200 ||
				len(body.Data.Result) != 1 || body.Data.Result[0].Metric["node_id"] != n1.ID ||
				body.Data.Result[0].Metric["domain_id"] != fx.Domain.ID {
				t.Fatalf("node-sent labels: %s", raw)
			}
			// A range query.
			rv := url.Values{"query": {`plexd_latency_rtt_nano`}, "start": {now.Add(-time.Minute).UTC().Format(time.RFC3339)},
				"end": {time.Now().UTC().Format(time.RFC3339)}, "step": {"15s"}}
			if st, _, body, raw := query(t, e, e.Token, fx.Domain.ID, rv); st != 200 || body.Data.ResultType != "matrix" ||
				len(body.Data.Result) != 3 || body.Data.Result[0].Metric["peer_id"] == "" {
				t.Fatalf("range: %s", raw)
			}

			// A viewer of Project p (n1, n2) only.
			uid, utok := e.NewUser(t, "viewer")
			grant(t, e, "user:"+uid, "viewer", "project:"+fx.Project.ID)
			for _, q := range []string{
				`{__name__=~".+"}`,
				`count by (node_id)({__name__=~".+"})`,
				`max_over_time(plexd_system_cpu_usage_percent[10m:1m])`,
				`plexd_system_cpu_usage_percent or {node_id="` + n3.ID + `"}`,
				`{node_id="` + n4.ID + `"} or {project_id="` + p2.ID + `"}`,
				`label_replace({hostname="gamma"}, "x", "y", "", "")`,
			} {
				st, code, body, raw := query(t, e, utok, fx.Domain.ID, with(q))
				if st != 200 || code != 200 {
					t.Fatalf("%s: %d %s", q, st, raw)
				}
				seen := map[string]bool{}
				for _, r := range body.Data.Result {
					n := r.Metric["node_id"]
					if n == n3.ID || n == n4.ID || r.Metric["project_id"] == p2.ID || r.Metric["hostname"] == "gamma" {
						t.Fatalf("%s leaked %v", q, r.Metric)
					}
					seen[n] = true
				}
				if strings.HasPrefix(q, "{__name__") && (!seen[n1.ID] || !seen[n2.ID]) {
					t.Fatalf("%s: own nodes missing: %s", q, raw)
				}
			}
			if _, _, body, raw := query(t, e, utok, fx.Domain.ID, with(`count(count by (node_id)({__name__=~".+"}))`)); len(body.Data.Result) != 1 || body.Data.Result[0].Value[1] != "2" {
				t.Fatalf("viewer count: %s", raw)
			}
			// nodeId of another Project's node: 404; of its own: that node only.
			if st, _, _, raw := query(t, e, utok, fx.Domain.ID, url.Values{"query": {"up"}, "time": at["time"], "nodeId": {n3.ID}}); st != 404 {
				t.Fatalf("foreign nodeId: %d %s", st, raw)
			}
			v := with(`{__name__=~".+"}`)
			v.Set("nodeId", n2.ID)
			if _, _, body, raw := query(t, e, utok, fx.Domain.ID, v); len(body.Data.Result) == 0 || body.Data.Result[0].Metric["node_id"] != n2.ID {
				t.Fatalf("own nodeId: %s", raw)
			}
			// The other Domain: not found; a caller without grants: not found.
			if st, _, _, raw := query(t, e, utok, other.Domain.ID, with(`up`)); st != 404 {
				t.Fatalf("other Domain: %d %s", st, raw)
			}
			_, nobody := e.NewUser(t, "nobody")
			if st, _, _, raw := query(t, e, nobody, fx.Domain.ID, with(`up`)); st != 404 {
				t.Fatalf("no grants: %d %s", st, raw)
			}
			// Bad input: 400 problems.
			for _, v := range []url.Values{
				{"query": {"sum("}, "time": at["time"]},
				{"query": {"up"}},
				{"query": {"up"}, "start": at["time"], "end": at["time"], "step": {"1m"}},
				{"query": {"up"}, "start": {"2026-01-01T00:00:00Z"}, "end": {"2026-03-01T00:00:00Z"}, "step": {"1h"}},
				{"query": {"up"}, "start": {"2026-01-01T00:00:00Z"}, "end": {"2026-01-02T00:00:00Z"}, "step": {"1s"}},
			} {
				if st, _, _, raw := query(t, e, e.Token, fx.Domain.ID, v); st != 400 {
					t.Errorf("%v: %d %s", v, st, raw)
				}
			}
		})
	}
}

// Per-node limits: a batch above the record ceiling is 413, a node
// exceeding its batch rate gets 429 with Retry-After.
func TestNodeMetricsLimits(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	fx := e.NewEnrolment(t, "obsl", "10.133.0.0/16", 1)
	n := e.RegisterNode(t, fx.Token.Token, "alpha", 1)
	big := bytes.Repeat([]byte(`{"group":"system","timestamp":"2026-01-01T00:00:00Z","data":{"a":1}},`), metrics.DefaultMaxBatchRecords+1)
	big = append(append([]byte("["), big[:len(big)-1]...), ']')
	if st, _, raw := post(t, e, n, n.ID, gz(big), http.Header{"Content-Encoding": {"gzip"}}); st != 413 || !strings.Contains(string(raw), metrics.CodeBatchTooLarge) {
		t.Fatalf("big batch: %d %.200s", st, raw)
	}
	limited := false
	for i := range metrics.DefaultBatchBurst + 2 {
		resp, raw := e.NodeSendRaw(t, n, http.MethodPost, "/v1/nodes/"+n.ID+"/metrics",
			level1Batch(time.Now().Add(-time.Duration(i)*time.Second), n.ID, float64(i)), http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode == 429 {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), metrics.CodeRateLimited) {
				t.Fatalf("429 without Retry-After: %v %s", resp.Header, raw)
			}
			limited = true
			break
		}
		if resp.StatusCode != 202 {
			t.Fatalf("batch %d: %d %s", i, resp.StatusCode, raw)
		}
	}
	if !limited {
		t.Fatal("never rate limited")
	}
}
