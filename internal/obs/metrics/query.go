package metrics

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Query bounds.
const (
	// MaxWindow is the longest range (the contract's 31 days).
	MaxWindow = 31 * 24 * time.Hour
	// maxPoints bounds a range query's steps (Prometheus's own limit).
	maxPoints = 11000
	// maxReadable bounds the nodes and Projects a confinement list holds.
	maxReadable = 10000
)

// QueryInput is the request of QueryDomainMetrics.
type QueryInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	Query    string `query:"query" required:"true" maxLength:"4096" doc:"The PromQL expression."`
	Time     string `query:"time" doc:"Instant query at this time (RFC 3339); start, end and step are then ignored."`
	Start    string `query:"start" doc:"Range query: inclusive lower bound (RFC 3339)."`
	End      string `query:"end" doc:"Range query: inclusive upper bound (RFC 3339), after start; at most 31 days."`
	Step     string `query:"step" doc:"Range query: resolution step as a duration (30s, 5m) or seconds."`
	NodeID   string `query:"nodeId" doc:"Optional: only this node's series."`
}

// MetricsQueryResult is the contract's answer: the Prometheus HTTP API body
// as a JSON string with its status.
type MetricsQueryResult struct {
	StatusCode int32  `json:"status_code" doc:"HTTP status of the metrics backend."`
	Body       string `json:"body" doc:"The Prometheus HTTP API JSON body, verbatim."`
}

type queryOutput struct {
	Body MetricsQueryResult
}

// Register adds QueryDomainMetrics and FederateDomainMetrics to api.
func (s *Service) Register(api huma.API) {
	op := route.Op(http.MethodGet, "/v1/domains/{domainId}/metrics/query", "QueryDomainMetrics", "domain.metrics.query",
		route.Operator, "Run a read-only PromQL metrics query for a Domain", "Observability")
	op.Description = "A PromQL instant (`time`) or range (`start`, `end`, `step`) query over the Domain's node " +
		"series (docs/observability.md), every selector confined to the Domain and the nodes the caller may read. " +
		"`body` is the Prometheus HTTP API JSON (`{\"status\":\"success\",\"data\":{…}}`)."
	huma.Register(api, op, s.query)
	s.registerFederate(api)
}

func (s *Service) query(ctx context.Context, in *QueryInput) (*queryOutput, error) {
	u, err := uuid.Parse(in.DomainID)
	if err != nil || u == uuid.Nil {
		return nil, problem.BadRequest(CodeInvalidDomainID, "The domain id must be a UUID.")
	}
	domainID := u.String()
	if strings.TrimSpace(in.Query) == "" {
		return nil, problem.BadRequest(CodeInvalidPromQL, "The query is empty.")
	}
	expr, err := s.parser.ParseExpr(in.Query)
	if err != nil {
		return nil, problem.BadRequest(CodeInvalidPromQL, err.Error())
	}
	var nodeID string
	if in.NodeID != "" {
		n, err := uuid.Parse(in.NodeID)
		if err != nil {
			return nil, problem.BadRequest(CodeInvalidNodeID, "nodeId must be a UUID.")
		}
		nodeID = n.String()
	}
	tw, err := parseTimes(in)
	if err != nil {
		return nil, err
	}
	sc, err := s.Readable(ctx, domainID)
	if err != nil {
		return nil, err
	}
	if nodeID != "" {
		if !sc.mayRead(nodeID) {
			return nil, problem.NotFound(CodeNodeNotFound, "No such node.")
		}
		sc.Scope.NodeID = nodeID
	}
	status, body := s.Run(ctx, expr, sc.Scope, tw)
	return &queryOutput{Body: MetricsQueryResult{StatusCode: int32(status), Body: string(body)}}, nil
}

// Times is an instant (Step 0, Start the instant) or a range.
type Times struct {
	Start, End time.Time
	Step       time.Duration
}

func parseTimes(in *QueryInput) (Times, error) {
	if in.Time != "" {
		t, err := parseTime(in.Time)
		if err != nil {
			return Times{}, problem.BadRequest(CodeInvalidWindow, "time must be an RFC 3339 time.")
		}
		return Times{Start: t, End: t}, nil
	}
	if in.Start == "" || in.End == "" || in.Step == "" {
		return Times{}, problem.BadRequest(CodeInvalidWindow, "A range query needs start, end and step (or give time).")
	}
	a, err1 := parseTime(in.Start)
	b, err2 := parseTime(in.End)
	step, err3 := parseStep(in.Step)
	switch {
	case err1 != nil || err2 != nil:
		return Times{}, problem.BadRequest(CodeInvalidWindow, "start and end must be RFC 3339 times.")
	case !b.After(a):
		return Times{}, problem.BadRequest(CodeInvalidWindow, "end must be after start.")
	case b.Sub(a) > MaxWindow:
		return Times{}, problem.BadRequest(CodeInvalidWindow, "The window may span at most 31 days.")
	case err3 != nil || step <= 0:
		return Times{}, problem.BadRequest(CodeInvalidWindow, "step must be a positive duration (30s, 5m).")
	case b.Sub(a)/step > maxPoints:
		return Times{}, problem.BadRequest(CodeInvalidWindow, "The range has more than 11000 steps; raise step.")
	}
	return Times{Start: a, End: b, Step: step}, nil
}

func parseTime(v string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, v)
}

func parseStep(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > MaxWindow.Seconds() {
			return 0, errors.New("bad step")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(v)
	return time.Duration(d), err
}

// Run confines expr to sc and evaluates it, answering the Prometheus HTTP
// API status and body.
func (s *Service) Run(ctx context.Context, expr parser.Expr, sc Scope, tw Times) (int, []byte) {
	Confine(expr, sc)
	qs := expr.String()
	if s.cfg.Remote.QueryURL != "" {
		return s.proxy(ctx, qs, tw)
	}
	q := confined{q: s.db, ms: sc.Matchers()}
	var (
		qry promql.Query
		err error
	)
	if tw.Step == 0 {
		qry, err = s.engine.NewInstantQuery(ctx, q, nil, qs, tw.Start)
	} else {
		qry, err = s.engine.NewRangeQuery(ctx, q, nil, qs, tw.Start, tw.End, tw.Step)
	}
	if err != nil {
		return http.StatusBadRequest, errorBody("bad_data", err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		var (
			timeout promql.ErrQueryTimeout
			tooMany promql.ErrTooManySamples
		)
		switch {
		case errors.As(res.Err, &timeout), errors.Is(res.Err, context.DeadlineExceeded):
			return http.StatusServiceUnavailable, errorBody("timeout", res.Err)
		case errors.As(res.Err, &tooMany):
			return http.StatusUnprocessableEntity, errorBody("execution", res.Err)
		case errors.Is(res.Err, context.Canceled):
			return http.StatusServiceUnavailable, errorBody("canceled", res.Err)
		}
		return http.StatusUnprocessableEntity, errorBody("execution", res.Err)
	}
	body, err := encodeResult(res)
	if err != nil {
		return http.StatusInternalServerError, errorBody("internal", err)
	}
	return http.StatusOK, body
}

// readable is the caller's scope in a Domain plus the nodes it may read.
type readable struct {
	Scope
	nodes map[string]bool
}

func (r readable) mayRead(node string) bool { return r.nodes[node] }

// Readable resolves what the caller may read in the Domain: the nodes it
// holds read on, confined by project_id when they are exactly the nodes
// of the Projects it reads. A caller who may read nothing there gets 404
// (the guard records the denial) unless it may view the Domain itself.
func (s *Service) Readable(ctx context.Context, domainID string) (readable, error) {
	var exists int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, domainID).Scan(&exists); err != nil {
		return readable{}, problem.Unavailable(CodeUnavailable, err)
	}
	notFound := problem.NotFound("domain_not_found", "No such Domain.")
	if exists == 0 {
		return readable{}, notFound
	}
	projects, err := s.column(ctx, `SELECT id, id FROM projects WHERE domain_id = $1 ORDER BY id`, domainID)
	if err != nil {
		return readable{}, err
	}
	nodes, err := s.column(ctx, `SELECT id, project_id FROM nodes WHERE domain_id = $1 ORDER BY id`, domainID)
	if err != nil {
		return readable{}, err
	}
	okP, err := s.visible(ctx, "project:", projects)
	if err != nil {
		return readable{}, err
	}
	okN, err := s.visible(ctx, "node:", nodes)
	if err != nil {
		return readable{}, err
	}
	r := readable{Scope: Scope{DomainID: domainID}, nodes: map[string]bool{}}
	readP := map[string]bool{}
	var pids []string
	for i, p := range projects {
		if okP[i] {
			readP[p[0]] = true
			pids = append(pids, p[0])
		}
	}
	byProject := true
	for i, n := range nodes {
		if okN[i] {
			r.nodes[n[0]] = true
			r.IDs = append(r.IDs, n[0])
			byProject = byProject && readP[n[1]]
		} else if readP[n[1]] {
			// A node of a readable Project the caller cannot read (not the
			// default schema): confine by node.
			byProject = false
		}
	}
	if byProject && len(pids) > 0 {
		r.ByProject, r.IDs = true, pids
	}
	if len(pids) == 0 && len(r.nodes) == 0 {
		if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+domainID); err != nil {
			var p *problem.Problem
			if errors.As(err, &p) && p.Status == http.StatusForbidden {
				return readable{}, notFound
			}
			return readable{}, err
		}
	}
	return r, nil
}

// column reads (id, second) pairs, bounded.
func (s *Service) column(ctx context.Context, q, arg string) ([][2]string, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, q+` LIMIT `+strconv.Itoa(maxReadable+1), arg)
	if err != nil {
		return nil, problem.Unavailable(CodeUnavailable, err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
		out = append(out, [2]string{a, b})
	}
	if len(out) > maxReadable {
		return nil, problem.New(http.StatusUnprocessableEntity, "domain_too_large", "The Domain has too many nodes or Projects for a metrics query.")
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Unavailable(CodeUnavailable, err)
	}
	return out, nil
}

func (s *Service) visible(ctx context.Context, prefix string, ids [][2]string) ([]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	objs := make([]string, len(ids))
	for i, id := range ids {
		objs[i] = prefix + id[0]
	}
	return s.cfg.Authz.Visible(ctx, "read", objs)
}
