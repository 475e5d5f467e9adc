package alerts

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/obs/metrics"
)

const domA = "0190c0de-0000-7000-8000-00000000000a"

// parserOnly is a Series that only parses: compile captures the engine
// and the queryable without calling them.
type parserOnly struct{ p parser.Parser }

func (parserOnly) DomainQueryable(string) storage.Queryable { return nil }
func (parserOnly) Engine() *promql.Engine                   { return nil }
func (s parserOnly) Parser() parser.Parser                  { return s.p }

func testService() *Service {
	return &Service{cfg: Config{Metrics: parserOnly{parser.NewParser(parser.Options{})}}, compiled: map[string]*compiledRule{}}
}

// confinedToDomain reports whether every vector selector of the compiled
// rule's expression selects domain_id="domA" only.
func confinedToDomain(t *testing.T, expr parser.Expr) {
	t.Helper()
	re, err := parser.NewParser(parser.Options{}).ParseExpr(expr.String())
	if err != nil {
		t.Fatalf("the compiled expression %q does not parse: %v", expr.String(), err)
	}
	parser.Inspect(re, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == metrics.LabelDomainID && m.Type == labels.MatchEqual && m.Value == domA {
				return nil
			}
		}
		t.Fatalf("selector %s of %q is not confined to the Domain", vs, expr.String())
		return nil
	})
}

// FuzzCompileRule: any rule body either fails validation with the
// contract's code or compiles to an alerting rule whose every selector is
// confined to the rule's Domain (another Domain's series are never read).
func FuzzCompileRule(f *testing.F) {
	f.Add(`{"name":"cpu","signal":"avg_over_time(plexd_system_cpu_usage_percent[5m])","comparator":"gt","threshold":90,"severity":"critical","for":"5m"}`)
	f.Add(`{"name":"x","signal":"up{domain_id=\"other\"} or on() vector(1)","comparator":"lt","threshold":1,"severity":"info"}`)
	f.Add(`{"name":"x","signal":"sum by (node_id) (rate(plexd_tunnel_rx_bytes[5m] @ 100 offset -1m))","comparator":"gte","threshold":0,"severity":"warning"}`)
	f.Add(`{"name":"x","signal":"max_over_time((up > 0)[10m:1m])","comparator":"lte","threshold":-1e300,"severity":"info","labels":{"a":"b"}}`)
	f.Add(`{"name":"d","kind":"node_down","signal":"hb","comparator":"gt","threshold":300,"severity":"warning"}`)
	f.Add(`{"name":"x","signal":"1","comparator":"gt","threshold":"NaN","severity":"info"}`)
	s := testService()
	f.Fuzz(func(t *testing.T, body string) {
		var in apiv1.AlertRuleCreate
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		r := rule{AlertRule: apiv1.AlertRule{ID: "r", DomainID: domA, Name: in.Name, Signal: in.Signal, Comparator: in.Comparator,
			Threshold: in.Threshold, Severity: in.Severity, Kind: in.Kind, Labels: in.Labels}}
		if r.Kind == "" {
			r.Kind = apiv1.AlertKindPromQL
		}
		var err error
		if r.hold, err = parseHold(in.For); err != nil {
			return
		}
		if err := s.validate(&r); err != nil {
			if !strings.Contains(err.Error(), CodeRuleInvalid) {
				t.Fatalf("validation error without the contract's code: %v", err)
			}
			return
		}
		c, err := s.compile(r)
		if err != nil {
			t.Fatalf("a valid rule does not compile: %v", err)
		}
		if r.Kind == apiv1.AlertKindPromQL {
			confinedToDomain(t, c.ar.Query())
		}
		if c.ar.HoldDuration() != r.hold || c.ar.Name() != r.Name {
			t.Fatalf("compiled %s hold %v", c.ar.Name(), c.ar.HoldDuration())
		}
	})
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"version":"4"}`)
	sig := Sign([]byte("k"), "1700000000", body)
	// Known answer: HMAC-SHA256("k", "1700000000.{\"version\":\"4\"}").
	if sig != "sha256=448a0da98d699d1584088ddd92d5567ed1ae2c259cbfafb6028d0b9919b92933" {
		t.Fatalf("signature %s", sig)
	}
	if !Verify([]byte("k"), "1700000000", body, sig) {
		t.Fatal("own signature does not verify")
	}
	for _, bad := range []struct{ key, ts, body string }{
		{"K", "1700000000", string(body)}, {"k", "1700000001", string(body)}, {"k", "1700000000", `{"version":"5"}`},
	} {
		if Verify([]byte(bad.key), bad.ts, []byte(bad.body), sig) {
			t.Errorf("verifies with %+v", bad)
		}
	}
}

func TestValidateBounds(t *testing.T) {
	s := testService()
	ok := rule{AlertRule: apiv1.AlertRule{Name: "n", Signal: "up", Comparator: "gt", Severity: "info", Kind: "promql"}}
	if err := s.validate(&ok); err != nil {
		t.Fatal(err)
	}
	many := map[string]string{}
	for i := range maxLabels + 1 {
		many["l"+strings.Repeat("x", i)] = "v"
	}
	for name, mut := range map[string]func(r *rule){
		"empty name":     func(r *rule) { r.Name = " " },
		"scalar signal":  func(r *rule) { r.Signal = "1 + 1" },
		"range signal":   func(r *rule) { r.Signal = "up[5m]" },
		"bad comparator": func(r *rule) { r.Comparator = "eq" },
		"bad severity":   func(r *rule) { r.Severity = "page" },
		"bad kind":       func(r *rule) { r.Kind = "logql" },
		"reserved label": func(r *rule) { r.Labels = map[string]string{"alertname": "x"} },
		"template label": func(r *rule) { r.Labels = map[string]string{"team": "{{ $value }}"} },
		"too many":       func(r *rule) { r.Labels = many },
		"node_down lt":   func(r *rule) { r.Kind, r.Comparator, r.Threshold = "node_down", "lt", 60 },
		"node_down zero": func(r *rule) { r.Kind, r.Threshold = "node_down", 0 },
	} {
		r := ok
		mut(&r)
		if err := s.validate(&r); err == nil || !strings.Contains(err.Error(), CodeRuleInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := parseHold("25h"); err == nil {
		t.Error("for 25h accepted")
	}
	if d, err := parseHold("1h30m"); err != nil || d != 90*time.Minute {
		t.Errorf("for 1h30m: %v %v", d, err)
	}
	for _, u := range []string{"ftp://x", "http://user:pw@x", "https://", "http://x/#f"} {
		if validateWebhook(u, "") == nil {
			t.Errorf("webhook %q accepted", u)
		}
	}
	if validateWebhook("", "0123456789abcdef") == nil || validateWebhook("https://x", "short") == nil {
		t.Error("secret without URL or too short accepted")
	}
}

func TestCompileConfinesAndCompares(t *testing.T) {
	s := testService()
	r := rule{AlertRule: apiv1.AlertRule{ID: "r", DomainID: domA, Name: "n", Kind: "promql", Comparator: "lte", Threshold: 5,
		Signal: `sum by (node_id) (rate(plexd_tunnel_rx_bytes{domain_id="other"}[5m])) or up`}}
	c, err := s.compile(r)
	if err != nil {
		t.Fatal(err)
	}
	q := c.ar.Query().String()
	if !strings.HasSuffix(q, "<= 5") || strings.Count(q, `domain_id="`+domA+`"`) != 2 {
		t.Fatalf("compiled %s", q)
	}
	confinedToDomain(t, c.ar.Query())
}

// TestRefusedAddress: the SSRF guard's ranges, edges included.
func TestRefusedAddress(t *testing.T) {
	for a, refused := range map[string]bool{
		"127.0.0.1": true, "127.255.255.255": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true,
		"192.168.0.1": true, "100.64.0.0": true, "100.127.255.255": true, "169.254.169.254": true, "fe80::1": true,
		"fd12::1": true, "fc00::1": true, "0.0.0.0": true, "0.1.2.3": true, "::": true, "224.0.0.251": true, "ff02::1": true,
		"255.255.255.255": true, "::ffff:10.0.0.1": true, "64:ff9b::7f00:1": true,
		"8.8.8.8": false, "100.63.255.255": false, "100.128.0.0": false, "172.32.0.1": false, "172.15.255.255": false,
		"192.169.0.1": false, "2606:4700::1111": false, "64:ff9b::808:808": false, "203.0.113.7": false,
	} {
		if got := refusedAddress(netip.MustParseAddr(a)) != ""; got != refused {
			t.Errorf("%s: refused %v, want %v", a, got, refused)
		}
	}
	for s, want := range map[string]string{"127.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1",
		"010.0.0.1": "8.0.0.1", "10.1.258": "10.1.1.2", "1.2.3.4": "1.2.3.4", "example.com": "invalid IP", "1.2.3.4.5": "invalid IP",
		"256.1": "invalid IP", "1.2.65536": "invalid IP", "": "invalid IP", "0x": "invalid IP", "08": "invalid IP"} {
		if got := parseLegacyIPv4(s).String(); got != want {
			t.Errorf("parseLegacyIPv4(%q) = %s, want %s", s, got, want)
		}
	}
}
