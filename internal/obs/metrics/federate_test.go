package metrics

import (
	"context"
	"errors"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/plexsphere/plexsphere/internal/problem"
)

func metricLabels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// The federation read answers each matching series once with its latest
// sample, within the scope only; above the series limit it is 422.
func TestFederateLatestAndLimit(t *testing.T) {
	s, end := fixture(t)
	all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}
	cpu := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "plexd_system_cpu_usage_percent")}
	fams, err := s.Federate(context.Background(), [][]*labels.Matcher{all, cpu}, scopeProject)
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			series++
			l := metricLabels(m)
			if l[LabelDomainID] != domA || l[LabelProjectID] != projA1 || (l[LabelNodeID] != node1 && l[LabelNodeID] != node2) {
				t.Fatalf("%s: out of scope %v", f.GetName(), l)
			}
			if m.GetTimestampMs() != end.UnixMilli() {
				t.Fatalf("%s: not the latest sample: %d", f.GetName(), m.GetTimestampMs())
			}
			if f.GetName() == "plexd_system_cpu_usage_percent" && m.GetUntyped().GetValue() != map[string]float64{node1: 1, node2: 2}[l[LabelNodeID]] {
				t.Fatalf("value %v for %v", m.GetUntyped().GetValue(), l)
			}
		}
	}
	// Two nodes × (cpu, memory, 3 tunnel fields), each once though two
	// selectors match the cpu series.
	if series != 2*5 {
		t.Fatalf("%d series", series)
	}
	s.cfg.MaxFederateSeries = 3
	_, err = s.Federate(context.Background(), [][]*labels.Matcher{all}, scopeProject)
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != http.StatusUnprocessableEntity || p.Code != CodeTooManySeries {
		t.Fatalf("over the limit: %v", err)
	}
}

// FuzzFederate: whatever selector a scraper sends, the federation read
// answers only series of the scope's nodes in the scope's Domain.
func FuzzFederate(f *testing.F) {
	for _, s := range []string{`{__name__=~".+"}`, `up`, `{node_id="` + node3 + `"}`, `{domain_id="` + domB + `"}`,
		`plexd_system_cpu_usage_percent{project_id=~".*"}`, `{__name__!="",node_id=~"` + node4 + `|` + node1 + `"}`} {
		f.Add(s)
	}
	s, _ := fixture(f)
	f.Fuzz(func(t *testing.T, sel string) {
		if len(sel) > 1024 {
			return
		}
		ms, err := s.parser.ParseMetricSelector(sel)
		if err != nil {
			return
		}
		fams, err := s.Federate(context.Background(), [][]*labels.Matcher{ms}, scopeNodes)
		if err != nil {
			t.Fatal(err)
		}
		for _, fam := range fams {
			for _, m := range fam.GetMetric() {
				if l := metricLabels(m); l[LabelDomainID] != domA || (l[LabelNodeID] != node1 && l[LabelNodeID] != node2) {
					t.Fatalf("%s reached %s %v", sel, fam.GetName(), l)
				}
			}
		}
	})
}
