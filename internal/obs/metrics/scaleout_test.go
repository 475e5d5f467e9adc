package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/obs/metrics"
)

// twoProjects is a Domain with Project p (nodes alpha, beta) and p2
// (gamma), plus another Domain's node delta, each having posted one
// level-1 batch a minute ago.
type twoProjects struct {
	e                  *apptest.Env
	fx, other          apptest.Enrolment
	p2                 apiv1.Project
	n1, n2, n3, n4     apptest.Node
	viewer, viewerName string
}

func setupTwoProjects(t *testing.T, e *apptest.Env) twoProjects {
	t.Helper()
	var s twoProjects
	s.e = e
	s.fx = e.NewEnrolment(t, "fedm", "10.141.0.0/16", 5)
	s.n1 = e.RegisterNode(t, s.fx.Token.Token, "alpha", 1)
	s.n2 = e.RegisterNode(t, s.fx.Token.Token, "beta", 1)
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: s.fx.Domain.ID, Name: "p2", Slug: "p2"}, &s.p2); st != 201 {
		t.Fatalf("project: %d %s", st, raw)
	}
	var tok2 apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+s.p2.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test", MaxUses: 1}, &tok2); st != 201 {
		t.Fatalf("token: %d %s", st, raw)
	}
	s.n3 = e.RegisterNode(t, tok2.Token, "gamma", 1)
	s.other = e.NewEnrolment(t, "fedm2", "10.142.0.0/16", 1)
	s.n4 = e.RegisterNode(t, s.other.Token.Token, "delta", 1)
	now := time.Now().Add(-time.Minute)
	for i, n := range []apptest.Node{s.n1, s.n2, s.n3, s.n4} {
		if st, _, raw := post(t, e, n, n.ID, level1Batch(now, s.n1.ID, float64(10+i)), nil); st != 202 {
			t.Fatalf("batch %d: %d %s", i, st, raw)
		}
	}
	uid, utok := e.NewUser(t, "viewer")
	grant(t, e, "user:"+uid, "viewer", "project:"+s.fx.Project.ID)
	s.viewer = utok
	return s
}

// nodesOf parses a text exposition and answers family → node ids.
func nodesOf(t *testing.T, raw []byte) map[string]map[string]*dto.Metric {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the federation answer does not parse: %v\n%s", err, raw)
	}
	out := map[string]map[string]*dto.Metric{}
	for name, f := range fams {
		out[name] = map[string]*dto.Metric{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "node_id" {
					out[name][l.GetValue()] = m
				}
			}
		}
	}
	return out
}

// Issue 15: the federation endpoint answers the latest sample of each
// matching series in the Prometheus text exposition (expfmt parses it),
// confined like queries: a viewer of one Project sees its nodes only, no
// selector reaches another Project's or Domain's nodes; OpenMetrics when
// asked; bad selectors are 400.
func TestFederation(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	s := setupTwoProjects(t, e)
	fed := func(token string, accept string, match ...string) (*http.Response, []byte) {
		v := url.Values{"match[]": match}
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/v1/domains/"+s.fx.Domain.ID+"/metrics/federate?"+v.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, raw
	}
	// The admin: the Domain's three nodes, not delta.
	resp, raw := fed(e.Token, "", `{__name__=~"plexd_system_.*"}`, `plexd_latency_rtt_nano`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("admin: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	got := nodesOf(t, raw)
	cpu := got["plexd_system_cpu_usage_percent"]
	if len(cpu) != 3 || cpu[s.n1.ID] == nil || cpu[s.n3.ID] == nil || cpu[s.n4.ID] != nil || len(got["plexd_latency_rtt_nano"]) != 3 {
		t.Fatalf("admin federation: %s", raw)
	}
	if m := cpu[s.n1.ID]; m.GetUntyped().GetValue() != 10 || m.GetTimestampMs() < time.Now().Add(-2*time.Minute).UnixMilli() {
		t.Fatalf("n1 sample: %v", m)
	}
	if _, ok := got["plexd_tunnel_rx_bytes"]; ok {
		t.Fatalf("an unmatched family was answered: %s", raw)
	}
	// The viewer of Project p: alpha and beta only, whatever it asks for.
	for _, m := range [][]string{
		{`{__name__=~".+"}`},
		{`{node_id="` + s.n3.ID + `"}`, `{project_id="` + s.p2.ID + `"}`, `{domain_id="` + s.other.Domain.ID + `"}`},
		{`{hostname="gamma"}`, `plexd_system_cpu_usage_percent`},
	} {
		resp, raw := fed(s.viewer, "", m...)
		if resp.StatusCode != 200 {
			t.Fatalf("%v: %d %s", m, resp.StatusCode, raw)
		}
		for name, nodes := range nodesOf(t, raw) {
			if nodes[s.n3.ID] != nil || nodes[s.n4.ID] != nil {
				t.Fatalf("%v leaked %s: %s", m, name, raw)
			}
		}
		if strings.Contains(string(raw), s.n3.ID) || strings.Contains(string(raw), s.p2.ID) || strings.Contains(string(raw), "gamma") {
			t.Fatalf("%v leaked: %s", m, raw)
		}
		if m[0] == `{__name__=~".+"}` {
			if cpu := nodesOf(t, raw)["plexd_system_cpu_usage_percent"]; len(cpu) != 2 || cpu[s.n1.ID] == nil || cpu[s.n2.ID] == nil {
				t.Fatalf("own nodes missing: %s", raw)
			}
		}
	}
	// OpenMetrics when asked.
	resp, raw = fed(e.Token, "application/openmetrics-text;version=1.0.0", `plexd_system_cpu_usage_percent`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") ||
		!strings.HasSuffix(string(raw), "# EOF\n") || !strings.Contains(string(raw), s.n2.ID) {
		t.Fatalf("openmetrics: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	// No selector, a bad one, no grants, another Domain.
	for _, c := range []struct {
		token string
		match []string
		want  int
	}{
		{e.Token, nil, 400},
		{e.Token, []string{`sum(up)`}, 400},
		{e.Token, []string{`{`}, 400},
	} {
		if resp, raw := fed(c.token, "", c.match...); resp.StatusCode != c.want || !strings.Contains(string(raw), "invalid_match") {
			t.Errorf("%v: %d %s", c.match, resp.StatusCode, raw)
		}
	}
	_, nobody := e.NewUser(t, "nobody")
	if resp, raw := fed(nobody, "", `up`); resp.StatusCode != 404 {
		t.Fatalf("no grants: %d %s", resp.StatusCode, raw)
	}
	// Unauthenticated: 401.
	if resp, _ := fed("", "", `up`); resp.StatusCode != 401 {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
}

// promAPI is a stand-in for a Prometheus HTTP API: it records the queries
// it receives and answers a canned body.
type promAPI struct {
	mu     sync.Mutex
	forms  []url.Values
	paths  []string
	auth   []string
	status int
	body   string
}

func (p *promAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	p.mu.Lock()
	p.forms = append(p.forms, r.PostForm)
	p.paths = append(p.paths, r.Method+" "+r.URL.Path)
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	st, body := p.status, p.body
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	io.WriteString(w, body)
}

// rwReceiver is a remote-write receiver decoding snappy + protobuf.
type rwReceiver struct {
	mu      sync.Mutex
	series  []prompb.TimeSeries
	headers []http.Header
	bad     []string
}

func (rw *rwReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.headers = append(rw.headers, r.Header.Clone())
	dec, err := snappy.Decode(nil, raw)
	if err != nil {
		rw.bad = append(rw.bad, "snappy: "+err.Error())
		http.Error(w, err.Error(), 400)
		return
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(dec); err != nil {
		rw.bad = append(rw.bad, "protobuf: "+err.Error())
		http.Error(w, err.Error(), 400)
		return
	}
	rw.series = append(rw.series, req.Timeseries...)
	w.WriteHeader(http.StatusNoContent)
}

func (rw *rwReceiver) snapshot() ([]prompb.TimeSeries, []http.Header, []string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return append([]prompb.TimeSeries(nil), rw.series...), append([]http.Header(nil), rw.headers...), append([]string(nil), rw.bad...)
}

func labelMap(ls []prompb.Label) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// Issue 15 scale-out: ingested samples are remote-written (snappy
// protobuf, version header, bearer token from the file) to a real
// receiver, which decodes the series with their server-side labels; and
// queries go, confined, to a Prometheus HTTP API whose body comes back
// verbatim in {status_code, body}. The push counters are on /metrics.
func TestRemoteWriteAndQueryProxy(t *testing.T) {
	rw := &rwReceiver{}
	rwSrv := httptest.NewServer(rw)
	defer rwSrv.Close()
	canned := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"node_id":"canned"},"value":[1772366400,"7"]}]}}`
	api := &promAPI{status: 200, body: canned}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	tok := filepath.Join(t.TempDir(), "remote-token")
	if err := os.WriteFile(tok, []byte("rw-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := apptest.StartConfig(t, apptest.SQLite, func(c *config.Config) {
		c.MetricsRemoteWriteURL = rwSrv.URL + "/api/v1/write"
		c.MetricsQueryURL = apiSrv.URL + "/prom/"
		c.MetricsRemoteBearerTokenFile = tok
	})
	s := setupTwoProjects(t, e)

	// Remote-write: 4 nodes × 13 samples arrive with their labels.
	var series []prompb.TimeSeries
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if series, _, _ = rw.snapshot(); len(series) >= 4*13 {
			break
		}
	}
	series, headers, bad := rw.snapshot()
	if len(bad) > 0 || len(series) != 4*13 {
		t.Fatalf("remote-write: %d series, bad %v", len(series), bad)
	}
	for _, h := range headers {
		if h.Get("Content-Encoding") != "snappy" || h.Get("Content-Type") != "application/x-protobuf" ||
			h.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" || h.Get("Authorization") != "Bearer rw-token" {
			t.Fatalf("remote-write headers: %v", h)
		}
	}
	found := 0
	for _, ts := range series {
		l := labelMap(ts.Labels)
		if l["__name__"] == "plexd_system_cpu_usage_percent" && l["node_id"] == s.n3.ID {
			found++
			if l["hostname"] != "gamma" || l["project_id"] != s.p2.ID || l["domain_id"] != s.fx.Domain.ID ||
				len(ts.Samples) != 1 || ts.Samples[0].Value != 12 || ts.Samples[0].Timestamp > time.Now().UnixMilli() {
				t.Fatalf("gamma's cpu series: %v %v", l, ts.Samples)
			}
		}
		if l["__name__"] == "plexd_tunnel_rx_bytes" && l["peer_id"] != s.n1.ID {
			t.Fatalf("tunnel series without its peer: %v", l)
		}
	}
	if found != 1 {
		t.Fatalf("gamma's cpu series found %d times", found)
	}
	// The local TSDB still has them (mode both).
	if st, _, _, raw := query(t, e, e.Token, s.fx.Domain.ID, url.Values{"query": {"up"}, "time": {time.Now().UTC().Format(time.RFC3339)}}); st != 200 {
		t.Fatalf("query: %d %s", st, raw)
	}

	// Query proxy: the viewer's expression reaches the backend confined.
	api.mu.Lock()
	api.forms, api.paths = nil, nil
	api.mu.Unlock()
	resp, raw := e.Send(t, s.viewer, http.MethodGet, "/v1/domains/"+s.fx.Domain.ID+"/metrics/query?"+url.Values{
		"query": {`sum by (node_id)(rate(plexd_tunnel_rx_bytes{node_id!=""}[5m])) or up`},
		"time":  {"2026-03-01T00:00:00Z"}}.Encode())
	var r struct {
		StatusCode int32  `json:"status_code"`
		Body       string `json:"body"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &r) != nil || r.StatusCode != 200 || r.Body != canned {
		t.Fatalf("proxied instant query: %d %s", resp.StatusCode, raw)
	}
	api.mu.Lock()
	form, path, auth := api.forms[0], api.paths[0], api.auth[0]
	api.mu.Unlock()
	q := form.Get("query")
	if path != "POST /prom/api/v1/query" || form.Get("time") != "1772323200" || auth != "Bearer rw-token" {
		t.Fatalf("proxied request: %s %v %q", path, form, auth)
	}
	// Every selector carries the Domain and the readable Project.
	wantDomain := fmt.Sprintf(`domain_id="%s"`, s.fx.Domain.ID)
	wantProject := fmt.Sprintf(`project_id="%s"`, s.fx.Project.ID)
	if strings.Count(q, wantDomain) != 2 || strings.Count(q, wantProject) != 2 || !strings.Contains(q, `node_id!=""`) ||
		strings.Contains(q, s.p2.ID) {
		t.Fatalf("proxied expression not confined: %s", q)
	}
	// A range query goes to query_range; the backend's error status and
	// body come back verbatim.
	api.mu.Lock()
	api.status, api.body = 422, `{"status":"error","errorType":"execution","error":"canned failure"}`
	api.mu.Unlock()
	resp, raw = e.Send(t, s.viewer, http.MethodGet, "/v1/domains/"+s.fx.Domain.ID+"/metrics/query?"+url.Values{
		"query": {`plexd_system_cpu_usage_percent`}, "start": {"2026-03-01T00:00:00Z"}, "end": {"2026-03-01T01:00:00Z"},
		"step": {"5m"}}.Encode())
	if resp.StatusCode != 200 || json.Unmarshal(raw, &r) != nil || r.StatusCode != 422 || !strings.Contains(r.Body, "canned failure") {
		t.Fatalf("proxied range query: %d %s", resp.StatusCode, raw)
	}
	api.mu.Lock()
	form, path = api.forms[1], api.paths[1]
	api.mu.Unlock()
	if path != "POST /prom/api/v1/query_range" || form.Get("start") != "1772323200" || form.Get("end") != "1772326800" ||
		form.Get("step") != "300" || !strings.Contains(form.Get("query"), wantDomain) {
		t.Fatalf("proxied range request: %s %v", path, form)
	}

	// The push counters on /metrics parse and count the sent samples.
	mresp, mraw := e.Send(t, e.Token, http.MethodGet, "/metrics")
	if mresp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", mresp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(mraw)))
	if err != nil {
		t.Fatal(err)
	}
	sent := -1.0
	for _, m := range fams["plexsphere_telemetry_push_items_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["target"] == "remote_write" && l["outcome"] == "sent" {
			sent = m.GetCounter().GetValue()
		}
	}
	if sent != 4*13 {
		t.Fatalf("remote_write sent counter %v", sent)
	}
}

// Remote mode: samples go to the receiver only (the embedded TSDB stays
// empty), federation says so, and the configuration demands a query URL.
func TestRemoteOnlyMode(t *testing.T) {
	rw := &rwReceiver{}
	rwSrv := httptest.NewServer(rw)
	defer rwSrv.Close()
	api := &promAPI{status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	e := apptest.StartConfig(t, apptest.SQLite, func(c *config.Config) {
		c.MetricsRemoteWriteURL = rwSrv.URL
		c.MetricsQueryURL = apiSrv.URL
		c.MetricsRemoteMode = "remote"
	})
	fx := e.NewEnrolment(t, "rmode", "10.143.0.0/16", 1)
	n := e.RegisterNode(t, fx.Token.Token, "alpha", 1)
	if st, _, raw := post(t, e, n, n.ID, level1Batch(time.Now().Add(-time.Minute), n.ID, 5), nil); st != 202 {
		t.Fatalf("batch: %d %s", st, raw)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s, _, _ := rw.snapshot(); len(s) >= 13 {
			break
		}
	}
	if s, _, _ := rw.snapshot(); len(s) != 13 {
		t.Fatalf("remote-write got %d series", len(s))
	}
	svc := e.Server.NodeMetrics
	all := [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")}}
	if fams, err := svc.Federate(context.Background(), all, metrics.Scope{DomainID: fx.Domain.ID, ByProject: true,
		IDs: []string{fx.Project.ID}}); err != nil || len(fams) != 0 {
		t.Fatalf("the embedded TSDB holds samples in remote mode: %v %v", fams, err)
	}
	resp, raw := e.Send(t, e.Token, http.MethodGet, "/v1/domains/"+fx.Domain.ID+"/metrics/federate?match[]=up")
	if resp.StatusCode != 409 || !strings.Contains(string(raw), "federation_unavailable") {
		t.Fatalf("federation in remote mode: %d %s", resp.StatusCode, raw)
	}
	if svc.Stats().Samples != 13 {
		t.Fatalf("stats %+v", svc.Stats())
	}
	c := config.Defaults()
	c.MetricsRemoteMode = "remote"
	c.MetricsRemoteWriteURL = rwSrv.URL
	if err := c.Validate(); err == nil {
		t.Fatal("remote mode without a query URL accepted")
	}
	c.MetricsQueryURL = "https://user:pw@prom.example"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("credentials in the URL: %v", err)
	}
}
