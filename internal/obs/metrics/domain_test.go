package metrics

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// The alert rules' view (issue 15): an expression confined with
// ConfineDomain and run on DomainQueryable reads every node of its Domain
// and nothing of another, even when it names the other Domain itself.
func TestDomainViewReadsOnlyItsDomain(t *testing.T) {
	s, end := fixture(t)
	for q, want := range map[string]int{
		`plexd_system_cpu_usage_percent`:                                       3,
		`plexd_system_cpu_usage_percent{domain_id="` + domB + `"}`:             0,
		`plexd_system_cpu_usage_percent{node_id="` + node4 + `"} or vector(1)`: 1,
		`count({__name__=~"plexd_.+"})`:                                        1,
	} {
		expr, err := s.Parser().ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		ConfineDomain(expr, domA)
		for _, vs := range selectors(expr) {
			if !slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
				return m.Name == LabelDomainID && m.Type == labels.MatchEqual && m.Value == domA
			}) {
				t.Fatalf("%s: selector %s not confined to Domain A", q, vs)
			}
		}
		qry, err := s.Engine().NewInstantQuery(context.Background(), s.DomainQueryable(domA), nil, expr.String(), end)
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(context.Background())
		vec, err := res.Vector()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(vec) != want {
			t.Errorf("%s: %d series, want %d: %v", q, len(vec), want, vec)
		}
		if q == `count({__name__=~"plexd_.+"})` && len(vec) == 1 {
			if a, all := rawCount(t, s, `count({__name__=~"plexd_.+",domain_id="`+domA+`"})`, end),
				rawCount(t, s, `count({__name__=~"plexd_.+"})`, end); vec[0].F != a || a >= all {
				t.Errorf("%s = %v; Domain A holds %v of %v series", q, vec[0].F, a, all)
			}
		}
		for _, smp := range vec {
			if d := smp.Metric.Get(LabelDomainID); d != "" && d != domA {
				t.Errorf("%s: read Domain %s", q, d)
			}
		}
		qry.Close()
	}
}

// rawCount runs a count on the whole TSDB, unconfined.
func rawCount(t *testing.T, s *Service, q string, at time.Time) float64 {
	t.Helper()
	qry, err := s.Engine().NewInstantQuery(context.Background(), s.db, nil, q, at)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	vec, err := qry.Exec(context.Background()).Vector()
	if err != nil || len(vec) != 1 {
		t.Fatalf("%s: %v %v", q, vec, err)
	}
	return vec[0].F
}
