package metrics

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Label names the control plane attaches to every node series.
const (
	LabelNodeID    = "node_id"
	LabelHostname  = "hostname"
	LabelProjectID = "project_id"
	LabelDomainID  = "domain_id"
	LabelPeerID    = "peer_id"
)

// Scope is what a query may read: one Domain, and within it either whole
// Projects (ByProject) or a list of nodes. An empty list reads nothing.
type Scope struct {
	DomainID string
	// ByProject confines by project_id (the caller reads whole Projects);
	// otherwise by node_id.
	ByProject bool
	// IDs are the Project ids (ByProject) or node ids.
	IDs []string
	// NodeID, when set, narrows the query to one node (the nodeId filter).
	NodeID string
}

// noSuchID is a label value no series carries (ids are UUIDs): the matcher
// of an empty scope.
const noSuchID = "-"

// Matchers are the label matchers Scope injects into every selector.
func (sc Scope) Matchers() []*labels.Matcher {
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, LabelDomainID, sc.DomainID)}
	name := LabelNodeID
	if sc.ByProject {
		name = LabelProjectID
	}
	ms = append(ms, idMatcher(name, sc.IDs))
	if sc.NodeID != "" {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, LabelNodeID, sc.NodeID))
	}
	return ms
}

// idMatcher matches exactly the listed values: a literal alternation of
// quoted ids (Prometheus turns it into a set lookup).
func idMatcher(name string, ids []string) *labels.Matcher {
	switch len(ids) {
	case 0:
		return labels.MustNewMatcher(labels.MatchEqual, name, noSuchID)
	case 1:
		return labels.MustNewMatcher(labels.MatchEqual, name, ids[0])
	}
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = regexp.QuoteMeta(id)
	}
	return labels.MustNewMatcher(labels.MatchRegexp, name, strings.Join(q, "|"))
}

// Confine adds the scope's matchers to every vector selector of expr (the
// ones inside matrix selectors and subqueries included), in place. The
// caller's own matchers stay: they can only narrow the selection further.
func Confine(expr parser.Expr, sc Scope) {
	add := sc.Matchers()
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, cloneMatchers(add)...)
			// A pre-expanded selector would bypass the matchers.
			vs.UnexpandedSeriesSet, vs.Series = nil, nil
		}
		return nil
	})
}

func cloneMatchers(ms []*labels.Matcher) []*labels.Matcher {
	out := make([]*labels.Matcher, len(ms))
	for i, m := range ms {
		out[i] = labels.MustNewMatcher(m.Type, m.Name, m.Value)
	}
	return out
}

// confined wraps a Queryable so every Select and label lookup also carries
// the scope's matchers: a second wall behind Confine, so even a selection
// the engine makes on its own never leaves the scope.
type confined struct {
	q  storage.Queryable
	ms []*labels.Matcher
}

func (c confined) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := c.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return confinedQuerier{q: q, ms: c.ms}, nil
}

type confinedQuerier struct {
	q  storage.Querier
	ms []*labels.Matcher
}

func (c confinedQuerier) with(ms []*labels.Matcher) []*labels.Matcher {
	return append(slices.Clone(ms), c.ms...)
}

func (c confinedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return c.q.Select(ctx, sortSeries, hints, c.with(ms)...)
}

func (c confinedQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return c.q.LabelValues(ctx, name, hints, c.with(ms)...)
}

func (c confinedQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return c.q.LabelNames(ctx, hints, c.with(ms)...)
}

func (c confinedQuerier) Close() error { return c.q.Close() }
