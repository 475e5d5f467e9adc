package plexctl

import (
	"strings"
	"testing"
)

func TestMetricsQueryCommand(t *testing.T) {
	h := newHarness(t)
	body := `{"status":"success","data":{"resultType":"matrix","result":[` +
		`{"metric":{"__name__":"plexd_system_cpu_usage_percent","node_id":"n1","hostname":"web-1"},"values":[[1772366400,"12.5"],[1772366460,"13"]]}]}}`
	h.srv.JSON("GET /v1/domains/{id}/metrics/query", 200, map[string]any{"status_code": 200, "body": body})
	r := h.run("metrics", "query", `rate(plexd_tunnel_rx_bytes[5m])`, "--domain", "d1", "--start", "2026-03-01T00:00:00Z",
		"--end", "2026-03-02T00:00:00Z", "--step", "5m", "--node", "n1")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	q := h.srv.Last().Query
	if q.Get("query") != `rate(plexd_tunnel_rx_bytes[5m])` || q.Get("start") != "2026-03-01T00:00:00Z" ||
		q.Get("end") != "2026-03-02T00:00:00Z" || q.Get("step") != "5m" || q.Get("nodeId") != "n1" || q.Has("time") {
		t.Fatalf("query %v", q)
	}
	if strings.TrimSpace(r.stdout) != "{__name__=plexd_system_cpu_usage_percent, hostname=web-1, node_id=n1} 12.5 13" {
		t.Fatalf("table output %q", r.stdout)
	}
	// An instant query sends time only; -o json prints the Prometheus body.
	r = h.run("metrics", "query", "up", "--domain", "d1", "--time", "2026-03-01T00:00:00Z", "-o", "json")
	if q := h.srv.Last().Query; r.code != ExitOK || q.Get("time") != "2026-03-01T00:00:00Z" || q.Has("step") ||
		strings.TrimSpace(r.stdout) != body {
		t.Fatalf("instant: %d %v %q", r.code, q, r.stdout)
	}
	for _, args := range [][]string{
		{"--time", "2026-03-01T00:00:00Z", "--step", "1m"},
		{"--start", "2026-03-01T00:00:00Z"},
		{"--step", "1m", "--start", "2026-03-01T00:00:00Z", "--since", "1h"},
		{"--time", "yesterday"},
	} {
		if r := h.run(append([]string{"metrics", "query", "up", "--domain", "d1"}, args...)...); r.code == ExitOK {
			t.Fatalf("%v accepted", args)
		}
	}
}
