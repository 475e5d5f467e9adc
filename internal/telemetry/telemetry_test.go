package telemetry_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// scrape reads /metrics with token and parses it as Prometheus does.
func scrape(t *testing.T, e *apptest.Env, token string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, raw := e.Send(t, token, "GET", "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels include want (0 when none).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsExposition: /metrics parses with the Prometheus parser and
// counts what happened — requests per operation and status, an open node
// event stream, an event's fan-out to it, audit chain lengths, node
// metrics ingest with its resends — and is
// refused to callers without platform#auditor.
func TestMetricsExposition(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	for range 3 {
		e.Do(t, "GET", "/v1/domains", nil, nil)
	}
	e.Do(t, "GET", "/v1/domains/not-a-uuid", nil, nil)
	enr := e.NewEnrolment(t, "obs", "100.90.0.0/24", 3)
	n := e.RegisterNode(t, enr.Token.Token, "obs-1", 1)

	// A node's event stream stays open while we scrape.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/v1/nodes/"+n.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+n.NSK)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	// An event for the node now: a second node joins (peer_added).
	e.RegisterNode(t, enr.Token.Token, "obs-2", 1)
	deadline := time.Now().Add(10 * time.Second)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "event: ") {
		if time.Now().After(deadline) {
			t.Fatal("no event on the stream")
		}
	}

	// A metrics batch, and the existing agent's resend of it.
	batch := []map[string]any{{"timestamp": time.Now().UTC().Format(time.RFC3339), "group": "system",
		"data": map[string]any{"cpu_usage_percent": 12.5, "memory_used_bytes": 1 << 30}}}
	for range 2 {
		if resp, raw := e.NodeSend(t, n, "POST", "/v1/nodes/"+n.ID+"/metrics", batch, nil); resp.StatusCode != 202 {
			t.Fatalf("metrics batch: %d %s", resp.StatusCode, raw)
		}
	}

	fams := scrape(t, e, e.Token)
	if v, _ := value(fams, "plexsphere_ingest_batches_total", map[string]string{"kind": "metrics", "outcome": "stored"}); v != 1 {
		t.Errorf("%v metrics batches stored, want 1", v)
	}
	if v, _ := value(fams, "plexsphere_ingest_batches_total", map[string]string{"kind": "metrics", "outcome": "duplicate"}); v != 1 {
		t.Errorf("%v resends recognised, want 1", v)
	}
	if v, _ := value(fams, "plexsphere_ingest_samples_total", map[string]string{"outcome": "stored"}); v < 2 {
		t.Errorf("%v samples stored, want ≥ 2", v)
	}
	if v, _ := value(fams, "plexsphere_http_requests_total", map[string]string{"operation": "listDomains", "code": "200"}); v < 3 {
		t.Errorf("ListDomains 200 counted %v times, want ≥ 3", v)
	}
	if v, _ := value(fams, "plexsphere_http_requests_total", map[string]string{"operation": "getDomain", "code": "400"}); v != 1 {
		t.Errorf("GetDomain 400 counted %v times, want 1", v)
	}
	if v, ok := value(fams, "plexsphere_http_request_duration_seconds", map[string]string{"operation": "listDomains"}); !ok || v < 3 {
		t.Errorf("ListDomains latency histogram has %v samples", v)
	}
	if v, _ := value(fams, "plexsphere_sse_streams_open", nil); v != 1 {
		t.Errorf("%v streams open, want 1", v)
	}
	if v, _ := value(fams, "plexsphere_event_fanout_seconds", nil); v < 1 {
		t.Errorf("fan-out observed %v times, want ≥ 1", v)
	}
	if v, _ := value(fams, "plexsphere_audit_chain_length", map[string]string{"chain": enr.Domain.ID}); v < 1 {
		t.Errorf("the Domain's chain length is %v", v)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime series")
	}
	cancel()
	resp.Body.Close()
	time.Sleep(100 * time.Millisecond)
	if v, _ := value(scrape(t, e, e.Token), "plexsphere_sse_streams_open", nil); v != 0 {
		t.Errorf("%v streams open after the client left, want 0", v)
	}

	// Refusals: no credential, and a user without platform#auditor.
	if resp, raw := e.Send(t, "", "GET", "/metrics"); resp.StatusCode != 401 {
		t.Errorf("anonymous scrape: %d %s", resp.StatusCode, raw)
	}
	_, tok := e.NewUser(t, "nobody")
	if st, raw := e.DoAs(t, tok, "GET", "/metrics", nil, nil); st != 403 || !strings.Contains(string(raw), `"code":"permission_denied"`) {
		t.Errorf("a user without platform#auditor: %d %s", st, raw)
	}
}
