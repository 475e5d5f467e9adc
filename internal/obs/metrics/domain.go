package metrics

import (
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// DomainMatchers confine a selection to one Domain's series, all of its
// nodes: the view of a Domain's alert rules (internal/obs/alerts), which
// run with the Domain's full scope and never see another Domain's series.
func DomainMatchers(domainID string) []*labels.Matcher {
	return []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, LabelDomainID, domainID)}
}

// ConfineDomain adds the Domain matcher to every vector selector of expr,
// in place (Confine with the Domain's full scope).
func ConfineDomain(expr parser.Expr, domainID string) {
	add := DomainMatchers(domainID)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, cloneMatchers(add)...)
			vs.UnexpandedSeriesSet, vs.Series = nil, nil
		}
		return nil
	})
}

// DomainQueryable is the TSDB as one Domain sees it: every Select and
// label lookup carries the Domain matcher (the second wall behind
// ConfineDomain).
func (s *Service) DomainQueryable(domainID string) storage.Queryable {
	return confined{q: s.db, ms: DomainMatchers(domainID)}
}

// Engine is the PromQL engine queries run on (bounded by QueryTimeout and
// MaxSamples).
func (s *Service) Engine() *promql.Engine { return s.engine }

// Parser parses PromQL the way queries are parsed.
func (s *Service) Parser() parser.Parser { return s.parser }
