package alerts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/obs/metrics"
	"github.com/plexsphere/plexsphere/internal/store"
)

// maxAlerts bounds the alerts (pending or firing) of one rule; above it
// the evaluation fails and the rule's state is reset.
const maxAlerts = 1000

// heartbeatAgeMetric names the node-down rules' synthetic series.
const heartbeatAgeMetric = "plexsphere_node_heartbeat_age_seconds"

// compiledRule is a rule with its Prometheus alerting rule, whose state
// (pending since, firing) lives as long as the rule is not changed.
type compiledRule struct {
	r     rule
	ar    *rules.AlertingRule
	query rules.QueryFunc
}

var comparatorOps = map[string]parser.ItemType{
	apiv1.ComparatorGT: parser.GTR, apiv1.ComparatorGTE: parser.GTE,
	apiv1.ComparatorLT: parser.LSS, apiv1.ComparatorLTE: parser.LTE,
}

// compile builds the alerting rule: for kind promql the expression
// `(signal) comparator threshold` with every selector confined to the
// rule's Domain, run on the Domain's view of the TSDB; for node_down the
// same comparison over the nodes' heartbeat ages.
func (s *Service) compile(r rule) (*compiledRule, error) {
	var (
		expr  parser.Expr
		query rules.QueryFunc
		err   error
	)
	op, ok := comparatorOps[r.Comparator]
	if !ok {
		return nil, fmt.Errorf("alerts: rule %s: comparator %q", r.ID, r.Comparator)
	}
	switch r.Kind {
	case apiv1.AlertKindPromQL:
		if expr, err = parseSignal(s.cfg.Metrics.Parser(), r.Signal); err != nil {
			return nil, err
		}
		metrics.ConfineDomain(expr, r.DomainID)
		query = rules.EngineQueryFunc(s.cfg.Metrics.Engine(), s.cfg.Metrics.DomainQueryable(r.DomainID))
	case apiv1.AlertKindNodeDown:
		expr = &parser.VectorSelector{Name: heartbeatAgeMetric,
			LabelMatchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, heartbeatAgeMetric)}}
		query = s.heartbeatQuery(r, op)
	default:
		return nil, fmt.Errorf("alerts: rule %s: kind %q", r.ID, r.Kind)
	}
	full := &parser.BinaryExpr{Op: op, LHS: &parser.ParenExpr{Expr: expr}, RHS: &parser.NumberLiteral{Val: r.Threshold}}
	ar := rules.NewAlertingRule(r.Name, full, r.hold, 0, labels.FromMap(r.Labels), labels.EmptyLabels(),
		labels.EmptyLabels(), "", false, s.cfg.Logger)
	return &compiledRule{r: r, ar: ar, query: query}, nil
}

// heartbeatQuery answers, for a node-down rule, one sample per live node
// of the Domain whose heartbeat age (seconds since its last heartbeat, or
// since its enrolment when it never sent one) passes the comparison.
func (s *Service) heartbeatQuery(r rule, op parser.ItemType) rules.QueryFunc {
	return func(ctx context.Context, _ string, t time.Time) (promql.Vector, error) {
		rows, err := s.cfg.DB.QueryContext(ctx, `SELECT n.id, n.project_id, n.name,
			COALESCE(a.last_heartbeat_at, n.created_at) FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id
			WHERE n.domain_id = $1 AND n.revoked_at IS NULL ORDER BY n.id LIMIT `+strconv.Itoa(maxAlerts+1), r.DomainID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var vec promql.Vector
		for rows.Next() {
			var (
				id, project, name string
				last              int64
			)
			if err := rows.Scan(&id, &project, &name, &last); err != nil {
				return nil, err
			}
			age := t.Sub(time.UnixMicro(last)).Seconds()
			if !compare(op, age, r.Threshold) {
				continue
			}
			vec = append(vec, promql.Sample{T: t.UnixMilli(), F: age, Metric: labels.FromStrings(
				labels.MetricName, heartbeatAgeMetric, metrics.LabelDomainID, r.DomainID, metrics.LabelNodeID, id,
				metrics.LabelProjectID, project, metrics.LabelHostname, name)})
		}
		return vec, rows.Err()
	}
}

func compare(op parser.ItemType, v, threshold float64) bool {
	switch op {
	case parser.GTR:
		return v > threshold
	case parser.GTE:
		return v >= threshold
	case parser.LSS:
		return v < threshold
	case parser.LTE:
		return v <= threshold
	}
	return false
}

// EvalOnce evaluates every enabled rule of every Domain at now: firing
// alerts open incidents (one open incident per rule and label set), and
// the open incidents of a rule whose alert is no longer active are
// resolved. Tests call it with a fake clock's time.
func (s *Service) EvalOnce(ctx context.Context, now time.Time) error {
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	rs, err := s.enabledRules(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var errs []error
	for _, r := range rs {
		seen[r.ID] = true
		c := s.compiled[r.ID]
		if c == nil || !c.r.UpdatedAt.Equal(r.UpdatedAt) {
			if c, err = s.compile(r); err != nil {
				s.evaluations.Add(1)
				s.evalErrors.Add(1)
				errs = append(errs, err)
				continue
			}
			s.compiled[r.ID] = c
		}
		c.r = r
		if err := s.evalRule(ctx, c, now); err != nil {
			s.evalErrors.Add(1)
			errs = append(errs, fmt.Errorf("alerts: rule %s: %w", r.ID, err))
		}
	}
	for id := range s.compiled {
		if !seen[id] {
			delete(s.compiled, id)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) enabledRules(ctx context.Context) ([]rule, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE enabled = $1 ORDER BY id`, true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// fingerprint identifies an alert's label set (Prometheus's hash).
func fingerprint(ls labels.Labels) string { return fmt.Sprintf("%016x", ls.Hash()) }

func (s *Service) evalRule(ctx context.Context, c *compiledRule, now time.Time) error {
	s.evaluations.Add(1)
	if _, err := c.ar.Eval(ctx, 0, now, c.query, nil, maxAlerts); err != nil {
		return err
	}
	active := map[string]rules.Alert{}
	c.ar.ForEachActiveAlert(func(a *rules.Alert) {
		if a.State == rules.StatePending || a.State == rules.StateFiring {
			active[fingerprint(a.Labels)] = *a
		}
	})
	var errs []error
	for fp, a := range active {
		if a.State == rules.StateFiring {
			if err := s.fire(ctx, c.r, fp, a, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	open, err := s.openIncidents(ctx, c.r.ID)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for fp, inc := range open {
		if _, ok := active[fp]; ok {
			continue
		}
		if err := s.autoResolve(ctx, inc, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// openIncidents are a rule's open incidents by fingerprint.
func (s *Service) openIncidents(ctx context.Context, ruleID string) (map[string]apiv1.Incident, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE rule_id = $1 AND status = $2`,
		ruleID, apiv1.IncidentOpen)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]apiv1.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out[inc.Fingerprint] = inc
	}
	return out, rows.Err()
}

// fire opens the incident of a firing alert unless one is open for the
// rule and label set, or an operator resolved the one this very alert
// (same active-since time) opened.
func (s *Service) fire(ctx context.Context, r rule, fp string, a rules.Alert, now time.Time) error {
	activeAt := a.ActiveAt.UTC().Truncate(time.Microsecond)
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE rule_id = $1 AND fingerprint = $2
		AND (open_key IS NOT NULL OR active_at = $3)`, r.ID, fp, store.Micros(activeAt)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	at := now.UTC().Truncate(time.Microsecond)
	inc := apiv1.Incident{ID: newID(), DomainID: r.DomainID, Title: title(r.Name, a.Labels), Severity: r.Severity,
		Status: apiv1.IncidentOpen, OpenedAt: at, AlertRuleID: r.ID, Fingerprint: fp, Labels: a.Labels.Map()}
	key := r.ID + "/" + fp
	msg := fmt.Sprintf("Alert %s firing (active since %s, value %s).", r.Name, activeAt.Format(time.RFC3339),
		strconv.FormatFloat(a.Value, 'g', 6, 64))
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertIncident(ctx, tx, inc, activeAt, &key); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, newEvent(inc.ID, apiv1.EventStatusChange, msg, at)); err != nil {
			return err
		}
		if _, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: r.DomainID, Action: "incident.open",
			Outcome: audit.Succeeded, Reason: "alert_rule " + r.ID + " firing", IdentityRef: "system",
			ObjectType: "incident", ObjectID: inc.ID}); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, inc, time.Time{}, at)
	})
	if store.IsUniqueViolation(err) {
		return nil // another replica opened it
	}
	if err == nil {
		s.opened.Add(1)
	}
	return err
}

// autoResolve resolves an incident whose alert stopped firing.
func (s *Service) autoResolve(ctx context.Context, inc apiv1.Incident, now time.Time) error {
	at := now.UTC().Truncate(time.Microsecond)
	return s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.resolve(ctx, tx, inc, at, "The alert stopped firing.")
		if err != nil || !ok {
			return err
		}
		s.resolved.Add(1)
		_, err = s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: inc.DomainID, Action: "incident.resolve",
			Outcome: audit.Succeeded, Reason: "alert_rule " + inc.AlertRuleID + " resolved", IdentityRef: "system",
			ObjectType: "incident", ObjectID: inc.ID})
		return err
	})
}

// title names an incident after its rule and, when the alert has one, its
// node.
func title(name string, ls labels.Labels) string {
	t := name
	if h := ls.Get(metrics.LabelHostname); h != "" {
		t += " on " + h
	} else if n := ls.Get(metrics.LabelNodeID); n != "" {
		t += " on node " + n
	}
	if r := []rune(t); len(r) > maxTitle {
		t = string(r[:maxTitle])
	}
	return t
}
