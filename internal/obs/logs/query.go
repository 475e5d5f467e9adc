package logs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Query bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 5000
	// MaxWindow is the longest query window (the contract's 31 days).
	MaxWindow = 31 * 24 * time.Hour
	// maxScan bounds the rows one query reads before filtering; queryTime
	// its duration.
	maxScan   = 200000
	scanChunk = 1000
	queryTime = 15 * time.Second
	// maxReadable bounds the nodes and Projects a confinement list holds.
	maxReadable = 10000
)

// QueryInput is the request of QueryDomainLogs.
type QueryInput struct {
	DomainID  string `path:"domainId" doc:"The Domain id."`
	Query     string `query:"query" required:"true" maxLength:"4096" doc:"The LogQL expression (the documented subset)."`
	Start     string `query:"start" required:"true" doc:"Inclusive lower bound of the window (RFC 3339)."`
	End       string `query:"end" required:"true" doc:"Inclusive upper bound of the window (RFC 3339), after start; at most 31 days."`
	Limit     int    `query:"limit" default:"100" doc:"Maximum lines (clamped to 5000)."`
	Direction string `query:"direction" default:"backward" enum:"forward,backward" doc:"backward: newest first; forward: oldest first."`
	NodeID    string `query:"nodeId" doc:"Optional: only this node's lines."`
}

// LogsQueryResult is the contract's answer: the Loki HTTP API body as a
// JSON string with its status.
type LogsQueryResult struct {
	StatusCode int32  `json:"status_code" doc:"HTTP status of the logs backend."`
	Body       string `json:"body" doc:"The Loki HTTP API JSON body, verbatim."`
}

type queryOutput struct {
	Body LogsQueryResult
}

// Register adds QueryDomainLogs and the live tail to api.
func (s *Service) Register(api huma.API) {
	op := route.Op(http.MethodGet, "/v1/domains/{domainId}/logs/query", "QueryDomainLogs", "domain.logs.query",
		route.Operator, "Run a read-only LogQL logs query for a Domain", "Observability")
	op.Description = "The LogQL subset of docs/observability.md over the Domain's node log lines (or, with " +
		"`stream=\"audit\"`, its node audit events), confined to the nodes the caller may read. `body` is a Loki " +
		"HTTP API `streams` result."
	huma.Register(api, op, s.query)
	huma.Register(api, TailOperation(), s.tail)
}

// Window is a parsed query window.
type window struct{ start, end int64 }

func parseWindow(start, end string) (window, error) {
	a, err1 := time.Parse(time.RFC3339Nano, start)
	b, err2 := time.Parse(time.RFC3339Nano, end)
	switch {
	case err1 != nil || err2 != nil:
		return window{}, problem.BadRequest(CodeInvalidWindow, "start and end must be RFC 3339 times.")
	case !b.After(a):
		return window{}, problem.BadRequest(CodeInvalidWindow, "end must be after start.")
	case b.Sub(a) > MaxWindow:
		return window{}, problem.BadRequest(CodeInvalidWindow, "The window may span at most 31 days.")
	}
	return window{a.UnixNano(), b.UnixNano()}, nil
}

// parseQuery parses the expression into a 400 problem on error.
func parseQuery(expr string) (*Query, error) {
	q, err := ParseLogQL(expr)
	if err != nil {
		return nil, problem.BadRequest(CodeInvalidLogQL, err.Error())
	}
	return q, nil
}

func parseDomain(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || u == uuid.Nil {
		return "", problem.BadRequest(CodeInvalidDomainID, "The domain id must be a UUID.")
	}
	return u.String(), nil
}

// scope is what the caller may read in a Domain: whole Projects, and
// single nodes (read granted on the node itself).
type scope struct {
	projects, nodes []string
}

// readable resolves the caller's scope in the Domain. A caller who may read
// nothing there gets the guard's domain-view answer (403, audited) or 404
// when the Domain does not exist.
func (s *Service) readable(ctx context.Context, domainID string) (scope, error) {
	var exists int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, domainID).Scan(&exists); err != nil {
		return scope{}, problem.Unavailable(CodeUnavailable, err)
	}
	if exists == 0 {
		return scope{}, problem.NotFound("domain_not_found", "The Domain does not exist.")
	}
	projects, err := idsOf(ctx, s, `SELECT id FROM projects WHERE domain_id = $1 ORDER BY id`, domainID)
	if err != nil {
		return scope{}, err
	}
	var sc scope
	if sc.projects, err = s.visible(ctx, "project:", projects); err != nil {
		return scope{}, err
	}
	// Only the nodes outside the readable Projects need a check of their
	// own (a grant on the node itself).
	q := `SELECT id FROM nodes WHERE domain_id = $1`
	args := []any{domainID}
	if len(sc.projects) > 0 {
		ph := make([]string, len(sc.projects))
		for i, p := range sc.projects {
			args = append(args, p)
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		q += ` AND project_id NOT IN (` + strings.Join(ph, ", ") + `)`
	}
	nodes, err := idsOf(ctx, s, q+` ORDER BY id`, args...)
	if err != nil {
		return scope{}, err
	}
	if sc.nodes, err = s.visible(ctx, "node:", nodes); err != nil {
		return scope{}, err
	}
	if len(sc.projects) == 0 && len(sc.nodes) == 0 {
		// The denial is audited by the check; a caller who may read nothing
		// in the Domain learns nothing of it either (404, as for another
		// tenant's Domain). One who may view the Domain gets an empty answer.
		if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+domainID); err != nil {
			var pd *problem.Problem
			if errors.As(err, &pd) && pd.Status == http.StatusForbidden {
				return scope{}, problem.NotFound("domain_not_found", "The Domain does not exist.")
			}
			return scope{}, err
		}
	}
	return sc, nil
}

func idsOf(ctx context.Context, s *Service, q string, args ...any) ([]string, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, q+` LIMIT `+strconv.Itoa(maxReadable+1), args...)
	if err != nil {
		return nil, problem.Unavailable(CodeUnavailable, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
		out = append(out, id)
	}
	if len(out) > maxReadable {
		return nil, problem.New(http.StatusUnprocessableEntity, "domain_too_large", "The Domain has too many nodes or Projects for a logs query.")
	}
	return out, rows.Err()
}

func (s *Service) visible(ctx context.Context, prefix string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	objs := make([]string, len(ids))
	for i, id := range ids {
		objs[i] = prefix + id
	}
	ok, err := s.cfg.Authz.Visible(ctx, "read", objs)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, id := range ids {
		if ok[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Entry is one stored line with its labels.
type Entry struct {
	Seq    int64
	TS     int64
	Labels map[string]string
	Line   string
}

// match reports whether the entry passes every matcher and filter.
func (q *Query) match(e *Entry) bool {
	for _, m := range q.Matchers {
		if !m.Matches(e.Labels[m.Label]) {
			return false
		}
	}
	for _, f := range q.Filters {
		if !f.Keep(e.Line) {
			return false
		}
	}
	return true
}

// columns of each stream's table, in select order after seq, ts, line.
func (q *Query) table() (string, []string) {
	if q.Stream == StreamAudit {
		return "node_audit_events", auditLabels
	}
	return "node_log_lines", logLabels
}

// sqlWhere builds the confinement and the equality matchers in SQL; the
// rest is matched in Go.
func (q *Query) sqlWhere(domainID string, sc scope, args *[]any) string {
	add := func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	w := []string{"domain_id = " + add(domainID)}
	var conf []string
	if len(sc.projects) > 0 {
		ph := make([]string, len(sc.projects))
		for i, p := range sc.projects {
			ph[i] = add(p)
		}
		conf = append(conf, "project_id IN ("+strings.Join(ph, ", ")+")")
	}
	if len(sc.nodes) > 0 {
		ph := make([]string, len(sc.nodes))
		for i, n := range sc.nodes {
			ph[i] = add(n)
		}
		conf = append(conf, "node_id IN ("+strings.Join(ph, ", ")+")")
	}
	if len(conf) == 0 {
		conf = []string{"1 = 0"}
	}
	w = append(w, "("+strings.Join(conf, " OR ")+")")
	for _, m := range q.Matchers {
		switch m.Op {
		case OpEq:
			w = append(w, m.Label+" = "+add(m.Value))
		case OpNeq:
			w = append(w, m.Label+" <> "+add(m.Value))
		}
	}
	return strings.Join(w, " AND ")
}

// Run evaluates q over the window for the caller's scope, newest first when
// backward, stopping at limit lines, maxScan rows read or queryTime.
func (s *Service) run(ctx context.Context, domainID string, sc scope, q *Query, w window, limit int, forward bool) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTime)
	defer cancel()
	table, labels := q.table()
	var out []Entry
	scanned := 0
	var cursorTS, cursorSeq int64
	first := true
	for len(out) < limit && scanned < maxScan {
		args := []any{}
		where := q.sqlWhere(domainID, sc, &args)
		add := func(v any) string {
			args = append(args, v)
			return "$" + strconv.Itoa(len(args))
		}
		where += " AND ts >= " + add(w.start) + " AND ts <= " + add(w.end)
		order := "ts DESC, seq DESC"
		if forward {
			order = "ts ASC, seq ASC"
		}
		if !first {
			t, sq := add(cursorTS), add(cursorSeq)
			if forward {
				where += " AND (ts > " + t + " OR (ts = " + t + " AND seq > " + sq + "))"
			} else {
				where += " AND (ts < " + t + " OR (ts = " + t + " AND seq < " + sq + "))"
			}
		}
		first = false
		sqlq := `SELECT seq, ts, line, ` + strings.Join(labels, ", ") + ` FROM ` + table + ` WHERE ` + where +
			` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(scanChunk)
		rows, err := s.cfg.DB.QueryContext(ctx, sqlq, args...)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				break // a partial answer within the time cap
			}
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
		n := 0
		for rows.Next() {
			e := Entry{Labels: make(map[string]string, len(labels)+1)}
			vals := make([]string, len(labels))
			dest := []any{&e.Seq, &e.TS, &e.Line}
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, problem.Unavailable(CodeUnavailable, err)
			}
			n++
			cursorTS, cursorSeq = e.TS, e.Seq
			for i, l := range labels {
				e.Labels[l] = vals[i]
			}
			if q.Stream == StreamAudit {
				e.Labels[labelStream] = StreamAudit
			}
			if q.match(&e) && len(out) < limit {
				out = append(out, e)
			}
		}
		rows.Close()
		scanned += n
		if err := rows.Err(); err != nil && ctx.Err() == nil {
			return nil, problem.Unavailable(CodeUnavailable, err)
		}
		if n < scanChunk || ctx.Err() != nil {
			break
		}
	}
	return out, nil
}

// lokiStreams renders entries as a Loki streams result, one stream per
// label set in order of first appearance (empty labels left out).
func lokiStreams(entries []Entry) []map[string]any {
	type stream struct {
		labels map[string]string
		values [][2]string
	}
	var order []string
	byKey := map[string]*stream{}
	for _, e := range entries {
		lab := map[string]string{}
		var kb strings.Builder
		for _, k := range []string{"node_id", "project_id", "hostname", "source", "unit", "severity", "action", "outcome", labelStream} {
			if v := e.Labels[k]; v != "" {
				lab[k] = v
				kb.WriteString(k + "\x00" + v + "\x00")
			}
		}
		key := kb.String()
		st := byKey[key]
		if st == nil {
			st = &stream{labels: lab}
			byKey[key] = st
			order = append(order, key)
		}
		st.values = append(st.values, [2]string{strconv.FormatInt(e.TS, 10), e.Line})
	}
	out := make([]map[string]any, 0, len(order))
	for _, k := range order {
		st := byKey[k]
		out = append(out, map[string]any{"stream": st.labels, "values": st.values})
	}
	return out
}

func (s *Service) query(ctx context.Context, in *QueryInput) (*queryOutput, error) {
	domainID, err := parseDomain(in.DomainID)
	if err != nil {
		return nil, err
	}
	q, err := parseQuery(in.Query)
	if err != nil {
		return nil, err
	}
	w, err := parseWindow(in.Start, in.End)
	if err != nil {
		return nil, err
	}
	if in.NodeID != "" {
		u, err := uuid.Parse(in.NodeID)
		if err != nil {
			return nil, problem.BadRequest(CodeInvalidNodeID, "nodeId must be a UUID.")
		}
		q.Matchers = append(q.Matchers, Matcher{Label: labelNode, Op: OpEq, Value: u.String()})
	}
	limit := in.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	sc, err := s.readable(ctx, domainID)
	if err != nil {
		return nil, err
	}
	entries, err := s.run(ctx, domainID, sc, q, w, limit, in.Direction == "forward")
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"status": "success", "data": map[string]any{
		"resultType": "streams", "result": lokiStreams(entries),
		"stats": map[string]any{"summary": map[string]any{"totalEntriesReturned": len(entries)}}}})
	if err != nil {
		return nil, problem.Internal(err)
	}
	return &queryOutput{Body: LogsQueryResult{StatusCode: http.StatusOK, Body: string(body)}}, nil
}
