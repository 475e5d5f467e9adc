package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	domA, domB = "0193a000-0000-7000-8000-00000000000a", "0193a000-0000-7000-8000-00000000000b"
	projA1     = "0193a000-0000-7000-8000-0000000000a1"
	projA2     = "0193a000-0000-7000-8000-0000000000a2"
	projB1     = "0193a000-0000-7000-8000-0000000000b1"
	node1      = "0193a000-0000-7000-8000-000000000001" // A / A1
	node2      = "0193a000-0000-7000-8000-000000000002" // A / A1
	node3      = "0193a000-0000-7000-8000-000000000003" // A / A2
	node4      = "0193a000-0000-7000-8000-000000000004" // B / B1
)

var fixtureNodes = []struct{ id, project, domain string }{
	{node1, projA1, domA}, {node2, projA1, domA}, {node3, projA2, domA}, {node4, projB1, domB},
}

// scopes the tests read with: by node list and by Project.
var (
	scopeNodes   = Scope{DomainID: domA, IDs: []string{node1, node2}}
	scopeProject = Scope{DomainID: domA, ByProject: true, IDs: []string{projA1}}
)

// foreign are series the scopes above must never reach.
var foreign = []labels.Labels{
	labels.FromStrings("__name__", "plexd_system_cpu_usage_percent", LabelDomainID, domA, LabelNodeID, node3, LabelProjectID, projA2),
	labels.FromStrings("__name__", "plexd_system_cpu_usage_percent", LabelDomainID, domB, LabelNodeID, node4, LabelProjectID, projB1),
	labels.FromStrings("__name__", "plexd_system_cpu_usage_percent", LabelDomainID, domB, LabelNodeID, node1, LabelProjectID, projA1),
	labels.FromStrings("__name__", "x"),
}

func selectors(expr parser.Expr) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

func matchesAll(ms []*labels.Matcher, ls labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// checkConfined asserts every selector of expr carries the scope's
// matchers and selects none of the foreign series, also after the
// rewritten expression is printed and parsed again (what the engine runs).
func checkConfined(t *testing.T, p parser.Parser, expr parser.Expr, sc Scope) {
	t.Helper()
	Confine(expr, sc)
	printed := expr.String()
	again, err := p.ParseExpr(printed)
	if err != nil {
		t.Fatalf("rewritten %q does not parse: %v", printed, err)
	}
	for _, e := range []parser.Expr{expr, again} {
		for _, vs := range selectors(e) {
			var dom, ids bool
			for _, m := range vs.LabelMatchers {
				dom = dom || m.Type == labels.MatchEqual && m.Name == LabelDomainID && m.Value == sc.DomainID
				want := LabelNodeID
				if sc.ByProject {
					want = LabelProjectID
				}
				ids = ids || m.Name == want && (m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp)
			}
			if !dom || !ids {
				t.Fatalf("selector %s of %q lacks the scope matchers", vs, printed)
			}
			for _, f := range foreign {
				if matchesAll(vs.LabelMatchers, f) {
					t.Fatalf("selector %s of %q selects foreign series %s", vs, printed, f)
				}
			}
		}
	}
}

func TestConfineEverySelector(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, q := range []string{
		`plexd_system_cpu_usage_percent`,
		`{__name__=~".+"}`,
		`{__name__=~".+", node_id=~".+"}`,
		`{node_id="` + node3 + `"}`,
		`{domain_id="` + domB + `"}`,
		`count by (node_id)({__name__=~".+"})`,
		`max_over_time(plexd_system_cpu_usage_percent[10m:1m])`,
		`rate(plexd_system_network_rx_bytes[5m] offset 1h)`,
		`plexd_system_cpu_usage_percent or {__name__=~"plexd_.*"}`,
		`sum(plexd_system_cpu_usage_percent @ end()) / on() group_left count(up)`,
		`label_replace(plexd_system_cpu_usage_percent, "node_id", "x", "", "")`,
		`absent(nonexistent{job="x"})`,
		`scalar(sum(x)) + vector(1)`,
		`avg_over_time((a + b)[1h:5m])`,
	} {
		expr, err := p.ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		checkConfined(t, p, expr, scopeNodes)
		expr, _ = p.ParseExpr(q)
		checkConfined(t, p, expr, scopeProject)
	}
}

// FuzzConfine: any expression the parser accepts, once confined, has the
// scope's matchers on every selector (before and after printing), and no
// selector reaches another node's, Project's or Domain's series.
func FuzzConfine(f *testing.F) {
	for _, s := range []string{
		`up`, `{__name__=~".+"}`, `count by (node_id)({__name__=~".+"})`, `sum(rate(x[5m]))`,
		`max_over_time(x[10m:1m] offset 5m)`, `a or {node_id="` + node4 + `"}`, `x @ 100`,
		`histogram_quantile(0.9, sum by (le)(rate(h_bucket[5m])))`, `-x > bool 3`, `topk(3, x) unless y`,
		`{domain_id!="` + domA + `", node_id!~"z"}`, `timestamp(x)`, `sort_desc(x) and on(node_id) y`,
	} {
		f.Add(s)
	}
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4096 {
			return
		}
		expr, err := p.ParseExpr(q)
		if err != nil {
			return
		}
		checkConfined(t, p, expr, scopeNodes)
		if expr, err = p.ParseExpr(q); err == nil {
			checkConfined(t, p, expr, scopeProject)
		}
		if expr, err = p.ParseExpr(q); err == nil {
			checkConfined(t, p, expr, Scope{DomainID: domA})
		}
	})
}

// fixture opens a TSDB holding one cpu series per fixture node (value =
// its index + 1) and a tunnel series, sampled every minute for an hour.
func fixture(t testing.TB) (*Service, time.Time) {
	t.Helper()
	s, err := open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	end := time.Now().Truncate(time.Minute)
	var out []sample
	for i, n := range fixtureNodes {
		info := nodeInfo{domainID: n.domain, projectID: n.project, hostname: "host-" + n.id[len(n.id)-1:]}
		for m := 60; m >= 0; m-- {
			at := end.Add(-time.Duration(m) * time.Minute)
			raw, _ := json.Marshal(map[string]any{"timestamp": at, "group": "system",
				"data": map[string]any{"cpu_usage_percent": i + 1, "memory_used_bytes": 1 << 20}})
			got, err := decodeRecord(raw, n.id, info, end)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ = json.Marshal(map[string]any{"timestamp": at, "group": "tunnel", "peer_id": node1,
				"data": map[string]any{"peer_id": node1, "rx_bytes": m, "handshake_succeeded": true,
					"last_handshake_time": at.Format(time.RFC3339)}})
			tun, err := decodeRecord(raw, n.id, info, end)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, got...), tun...)
		}
	}
	if err := s.append(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	return s, end
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

func run(t *testing.T, s *Service, q string, sc Scope, tw Times) (int, promBody) {
	t.Helper()
	expr, err := s.parser.ParseExpr(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	st, raw := s.Run(context.Background(), expr, sc, tw)
	var b promBody
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("%s: body %s: %v", q, raw, err)
	}
	return st, b
}

// A scope reading Project A1 (by node list or by Project) never sees node 3
// (Project A2) or node 4 (Domain B) through any expression, and what it
// does see is exactly its own series.
func TestQueryConfinedToScope(t *testing.T) {
	s, end := fixture(t)
	instant := Times{Start: end, End: end}
	for _, sc := range []Scope{scopeNodes, scopeProject} {
		for _, tc := range []struct {
			q    string
			want int // result rows
		}{
			{`{__name__=~".+"}`, 2 * 5},                                        // cpu, memory, 3 tunnel series each
			{`count by (node_id)({__name__=~".+"})`, 2},                        //
			{`plexd_system_cpu_usage_percent{node_id="` + node3 + `"}`, 0},     //
			{`{domain_id="` + domB + `"}`, 0},                                  //
			{`max_over_time(plexd_system_cpu_usage_percent[30m:1m])`, 2},       // subquery
			{`plexd_system_cpu_usage_percent or {node_id="` + node4 + `"}`, 2}, // or with a selector
			{`sum by (domain_id, project_id)(plexd_system_cpu_usage_percent)`, 1},
			{`label_replace({node_id="` + node3 + `"}, "a", "b", "", "")`, 0},
		} {
			st, b := run(t, s, tc.q, sc, instant)
			if st != http.StatusOK || b.Status != "success" || len(b.Data.Result) != tc.want {
				t.Fatalf("%+v %s: %d %+v, want %d rows", sc, tc.q, st, b, tc.want)
			}
			for _, r := range b.Data.Result {
				if n := r.Metric[LabelNodeID]; n == node3 || n == node4 || r.Metric[LabelDomainID] == domB ||
					r.Metric[LabelProjectID] == projA2 {
					t.Fatalf("%s leaked %v", tc.q, r.Metric)
				}
			}
		}
		// Aggregates count only the scope's series: cpu values 1 and 2.
		if _, b := run(t, s, `sum(plexd_system_cpu_usage_percent)`, sc, instant); len(b.Data.Result) != 1 || b.Data.Result[0].Value[1] != "3" {
			t.Fatalf("sum: %+v", b)
		}
		if _, b := run(t, s, `count(count by (node_id)({__name__=~".+"}))`, sc, instant); b.Data.Result[0].Value[1] != "2" {
			t.Fatalf("count: %+v", b)
		}
	}
	// The node filter narrows to one node; an empty scope reads nothing.
	one := scopeNodes
	one.NodeID = node2
	if _, b := run(t, s, `plexd_system_cpu_usage_percent`, one, instant); len(b.Data.Result) != 1 ||
		b.Data.Result[0].Metric[LabelNodeID] != node2 || b.Data.Result[0].Metric[LabelHostname] != "host-2" {
		t.Fatalf("node filter: %+v", b)
	}
	if _, b := run(t, s, `{__name__=~".+"}`, Scope{DomainID: domA}, instant); len(b.Data.Result) != 0 {
		t.Fatalf("empty scope: %+v", b)
	}
	// Domain B's reader sees only node 4.
	if _, b := run(t, s, `count({__name__=~".+"})`, Scope{DomainID: domB, ByProject: true, IDs: []string{projB1}}, instant); b.Data.Result[0].Value[1] != "5" {
		t.Fatalf("domain B: %+v", b)
	}
}

func TestQueryRangeAndLabels(t *testing.T) {
	s, end := fixture(t)
	st, b := run(t, s, `plexd_tunnel_handshake_succeeded`, scopeNodes, Times{Start: end.Add(-time.Hour), End: end, Step: time.Minute})
	if st != 200 || b.Data.ResultType != "matrix" || len(b.Data.Result) != 2 {
		t.Fatalf("range: %d %+v", st, b)
	}
	r := b.Data.Result[0]
	want := []string{"__name__", LabelDomainID, LabelHostname, LabelNodeID, LabelPeerID, LabelProjectID}
	var got []string
	for k := range r.Metric {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || r.Metric[LabelPeerID] != node1 || len(r.Values) != 61 || r.Values[0][1] != "1" {
		t.Fatalf("labels %v, %d points %v", got, len(r.Values), r.Values[:1])
	}
	expr, _ := s.parser.ParseExpr(`scalar(vector(2))`)
	if st, raw := s.Run(context.Background(), expr, scopeNodes, Times{Start: end, End: end}); st != 200 ||
		!strings.Contains(string(raw), `"resultType":"scalar","result":[`) || !strings.HasSuffix(string(raw), `,"2"]}}`) {
		t.Fatalf("scalar: %s", raw)
	}
	// A sample budget is an execution error in the Prometheus error body.
	small := &Service{db: s.db, parser: s.parser, engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 10,
		Timeout: time.Minute, Parser: s.parser})}
	expr, _ = s.parser.ParseExpr(`count_over_time(plexd_system_cpu_usage_percent[1h])`)
	st, raw := small.Run(context.Background(), expr, scopeNodes, Times{Start: end, End: end})
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(raw), `"status":"error"`) {
		t.Fatalf("budget: %d %s", st, raw)
	}
}

// decodeRecord: both wire forms; node-sent labels never reach the series;
// bad records are refused one by one.
func TestDecodeRecord(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	info := nodeInfo{domainID: domA, projectID: projA1, hostname: "h"}
	got, err := decodeRecord([]byte(`{"group":"node_resources","name":"cpu_seconds_total","value":4.5,
		"labels":{"node_id":"`+node3+`","domain_id":"`+domB+`","x":"y"},"timestamp":"2026-03-01T11:59:00Z"}`), node1, info, now)
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	want := labels.FromStrings("__name__", "plexd_system_cpu_seconds_total", LabelDomainID, domA, LabelHostname, "h",
		LabelNodeID, node1, LabelProjectID, projA1)
	if !labels.Equal(got[0].lset, want) || got[0].v != 4.5 {
		t.Fatalf("got %s %v", got[0].lset, got[0].v)
	}
	got, err = decodeRecord([]byte(`{"timestamp":"2026-03-01T11:59:00Z","group":"latency","peer_id":"`+node2+`","data":{"peer_id":"`+node2+`","rtt_nano":-1}}`), node1, info, now)
	if err != nil || len(got) != 1 || got[0].lset.Get(LabelPeerID) != node2 || got[0].v != -1 || got[0].lset.Get("__name__") != "plexd_latency_rtt_nano" {
		t.Fatal(got, err)
	}
	for _, bad := range []string{
		`1`, `{}`, `[]`, `{"group":"system","timestamp":"2026-03-01T11:59:00Z","data":{}}`,
		`{"group":"nope","timestamp":"2026-03-01T11:59:00Z","data":{"a":1}}`,
		`{"group":"system","data":{"a":1}}`,
		`{"group":"system","timestamp":"2027-03-01T11:59:00Z","data":{"a":1}}`,
		`{"group":"tunnel","timestamp":"2026-03-01T11:59:00Z","data":{"rx_bytes":1}}`,
		`{"group":"latency","timestamp":"2026-03-01T11:59:00Z","peer_id":"x\"}","data":{"rtt_nano":1}}`,
		`{"group":"system","timestamp":"2026-03-01T11:59:00Z","data":{"Bad-Name":1,"x":"text"}}`,
		`{"group":"node_resources","name":"a b","value":1,"timestamp":"2026-03-01T11:59:00Z"}`,
		`{"group":"node_resources","name":"a","timestamp":"2026-03-01T11:59:00Z"}`,
	} {
		if got, err := decodeRecord([]byte(bad), node1, info, now); err == nil {
			t.Errorf("%s accepted: %v", bad, got)
		}
	}
}
