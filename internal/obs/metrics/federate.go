package metrics

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Federation problem codes.
const (
	CodeInvalidMatch          = "invalid_match"
	CodeTooManySeries         = "too_many_series"
	CodeFederationUnavailable = "federation_unavailable"
)

// maxMatchers bounds the match[] parameters of one scrape.
const maxMatchers = 32

// FederateInput is the request of FederateDomainMetrics.
type FederateInput struct {
	DomainID string   `path:"domainId" doc:"The Domain id."`
	Match    []string `query:"match[],explode" maxItems:"32" nullable:"false" doc:"Series selectors (PromQL, e.g. {__name__=~\"plexd_system_.*\"}); at least one. A series matching any is answered."`
	Accept   string   `header:"Accept" doc:"text/plain (Prometheus text exposition, the default) or application/openmetrics-text."`
}

type federateOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

// registerFederate adds FederateDomainMetrics to api.
func (s *Service) registerFederate(api huma.API) {
	op := route.Op(http.MethodGet, "/v1/domains/{domainId}/metrics/federate", "FederateDomainMetrics", "domain.metrics.federate",
		route.Operator, "Ours: the latest sample of each matching Domain series, for Prometheus federation", "Observability")
	op.Description = "A Prometheus server scrapes this like `/federate` (docs/observability.md): each `match[]` selector " +
		"is confined to the Domain and the nodes the caller may read, and the latest sample (within 5 minutes) of every " +
		"matching series is answered in the Prometheus text exposition format, or OpenMetrics when the Accept header " +
		"asks for it. More than the server's series limit is 422 `too_many_series`: narrow the selectors."
	op.Responses = map[string]*huma.Response{"200": {Description: "Prometheus text exposition (or OpenMetrics when asked).",
		Content: map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: "string"}},
			"application/openmetrics-text": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, op, s.federate)
}

func (s *Service) federate(ctx context.Context, in *FederateInput) (*federateOutput, error) {
	u, err := uuid.Parse(in.DomainID)
	if err != nil || u == uuid.Nil {
		return nil, problem.BadRequest(CodeInvalidDomainID, "The domain id must be a UUID.")
	}
	if len(in.Match) == 0 {
		return nil, problem.BadRequest(CodeInvalidMatch, "Give at least one match[] selector.")
	}
	if len(in.Match) > maxMatchers {
		return nil, problem.BadRequest(CodeInvalidMatch, "At most "+strconv.Itoa(maxMatchers)+" match[] selectors.")
	}
	sets := make([][]*labels.Matcher, 0, len(in.Match))
	for _, m := range in.Match {
		ms, err := s.parser.ParseMetricSelector(m)
		if err != nil {
			return nil, problem.BadRequest(CodeInvalidMatch, err.Error())
		}
		sets = append(sets, ms)
	}
	sc, err := s.Readable(ctx, u.String())
	if err != nil {
		return nil, err
	}
	if !s.local() {
		return nil, problem.New(http.StatusConflict, CodeFederationUnavailable,
			"Node series are written to the remote store only (metrics remote mode); scrape or query that store instead.")
	}
	fams, err := s.Federate(ctx, sets, sc.Scope)
	if err != nil {
		return nil, err
	}
	format := expfmt.NegotiateIncludingOpenMetrics(http.Header{"Accept": {in.Accept}})
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
	}
	return &federateOutput{ContentType: string(format), Body: buf.Bytes()}, nil
}

// Federate answers the latest sample (within the lookback window) of each
// series matching any of sets, every set confined to sc, as metric
// families sorted by name; more than MaxFederateSeries series is 422.
func (s *Service) Federate(ctx context.Context, sets [][]*labels.Matcher, sc Scope) ([]*dto.MetricFamily, error) {
	now := s.cfg.Now()
	maxt := now.UnixMilli()
	mint := now.Add(-lookback).UnixMilli()
	q, err := confined{q: s.db, ms: sc.Matchers()}.Querier(mint, maxt)
	if err != nil {
		return nil, problem.Unavailable(CodeUnavailable, err)
	}
	defer q.Close()
	hints := hintsFor(mint, maxt)
	seen := map[uint64]bool{}
	byName := map[string]*dto.MetricFamily{}
	count := 0
	for _, ms := range sets {
		set := q.Select(ctx, false, hints, append(ms, sc.Matchers()...)...)
		var it chunkenc.Iterator
		for set.Next() {
			series := set.At()
			ls := series.Labels()
			h := ls.Hash()
			if seen[h] {
				continue
			}
			seen[h] = true
			it = series.Iterator(it)
			var (
				t  int64
				v  float64
				ok bool
			)
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if vt != chunkenc.ValFloat {
					continue
				}
				t, v = it.At()
				ok = true
			}
			if it.Err() != nil {
				return nil, problem.Unavailable(CodeUnavailable, it.Err())
			}
			if !ok || value.IsStaleNaN(v) {
				continue
			}
			if count++; count > s.cfg.MaxFederateSeries {
				return nil, problem.New(http.StatusUnprocessableEntity, CodeTooManySeries,
					"More than "+strconv.Itoa(s.cfg.MaxFederateSeries)+" series match; narrow the match[] selectors.")
			}
			name := ls.Get(labels.MetricName)
			f := byName[name]
			if f == nil {
				f = &dto.MetricFamily{Name: ptr(name), Type: dto.MetricType_UNTYPED.Enum()}
				byName[name] = f
			}
			m := &dto.Metric{Untyped: &dto.Untyped{Value: ptr(v)}, TimestampMs: ptr(t)}
			ls.Range(func(l labels.Label) {
				if l.Name != labels.MetricName {
					m.Label = append(m.Label, &dto.LabelPair{Name: ptr(l.Name), Value: ptr(l.Value)})
				}
			})
			f.Metric = append(f.Metric, m)
		}
		if err := set.Err(); err != nil {
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
		if ctx.Err() != nil {
			return nil, problem.Unavailable(CodeUnavailable, ctx.Err())
		}
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func hintsFor(mint, maxt int64) *storage.SelectHints {
	return &storage.SelectHints{Start: mint, End: maxt}
}
