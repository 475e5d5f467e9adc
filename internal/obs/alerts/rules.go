package alerts

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// rule is a stored alert rule: the API view plus the sealed secret.
type rule struct {
	apiv1.AlertRule
	hold   time.Duration
	sealed string
}

const ruleColumns = `id, domain_id, name, kind, signal, comparator, threshold, severity, enabled, for_ms, labels,
	webhook_url, webhook_secret, created_at, updated_at`

func scanRule(sc interface{ Scan(...any) error }) (rule, error) {
	var (
		r              rule
		forMS, ca, ua  int64
		labelsJSON     string
		enabled        bool
		threshold      float64
		comparator, kd string
	)
	err := sc.Scan(&r.ID, &r.DomainID, &r.Name, &kd, &r.Signal, &comparator, &threshold, &r.Severity, &enabled, &forMS,
		&labelsJSON, &r.WebhookURL, &r.sealed, &ca, &ua)
	if err != nil {
		return r, err
	}
	r.Kind, r.Comparator, r.Threshold, r.Enabled = kd, comparator, threshold, enabled
	r.hold = time.Duration(forMS) * time.Millisecond
	r.For = formatDuration(r.hold)
	if err := json.Unmarshal([]byte(labelsJSON), &r.Labels); err != nil {
		return r, err
	}
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	r.WebhookSecretSet = r.sealed != ""
	r.CreatedAt, r.UpdatedAt = time.UnixMicro(ca).UTC(), time.UnixMicro(ua).UTC()
	return r, nil
}

func labelsText(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// sealName binds a sealed webhook secret to its rule.
func sealName(ruleID string) string { return "alert-webhook-secret/" + ruleID }

func (s *Service) seal(ruleID, secret string) string {
	if secret == "" {
		return ""
	}
	return base64.StdEncoding.EncodeToString(s.cfg.Keyring.Seal(sealName(ruleID), []byte(secret)))
}

func (s *Service) unseal(ruleID, sealed string) ([]byte, error) {
	if sealed == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, err
	}
	return s.cfg.Keyring.Open(sealName(ruleID), raw)
}

type ruleInput struct {
	DomainID    string `path:"domainId" doc:"The Domain id."`
	AlertRuleID string `path:"alertRuleId" doc:"The alert rule id."`
}

type listRulesInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	page.Params
}

type createRuleInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	Body     apiv1.AlertRuleCreate
}

type updateRuleInput struct {
	DomainID    string `path:"domainId" doc:"The Domain id."`
	AlertRuleID string `path:"alertRuleId" doc:"The alert rule id."`
	Body        apiv1.AlertRuleUpdate
}

type ruleOutput struct {
	Location string `header:"Location"`
	Body     apiv1.AlertRule
}

type rulesOutput struct {
	Body apiv1.List[apiv1.AlertRule]
}

func (s *Service) registerRules(api huma.API) {
	const base = "/v1/domains/{domainId}/alert-rules"
	op := route.Op(http.MethodGet, base, "ListAlertRules", "alert_rule.list", route.Operator,
		"List the alert rules of a Domain", "Observability")
	op.Description = "Requires domain-view on the Domain."
	huma.Register(api, op, s.listRules)
	op = route.Op(http.MethodPost, base, "CreateAlertRule", "alert_rule.create", route.Operator,
		"Create an alert rule", "Observability")
	op.DefaultStatus = http.StatusCreated
	op.Description = "A PromQL rule fires for every series of `(signal) comparator threshold` that holds for `for`; " +
		"a node_down rule for every node whose last heartbeat is older than `threshold` seconds. Requires domain-edit."
	huma.Register(api, op, s.createRule)
	op = route.Op(http.MethodGet, base+"/{alertRuleId}", "GetAlertRule", "alert_rule.read", route.Operator,
		"Read an alert rule", "Observability")
	huma.Register(api, op, s.getRule)
	op = route.Op(http.MethodPatch, base+"/{alertRuleId}", "UpdateAlertRule", "alert_rule.update", route.Operator,
		"Update an alert rule", "Observability")
	huma.Register(api, op, s.updateRule)
	op = route.Op(http.MethodDelete, base+"/{alertRuleId}", "DeleteAlertRule", "alert_rule.delete", route.Operator,
		"Delete an alert rule", "Observability")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteRule)
}

func (s *Service) listRules(ctx context.Context, in *listRulesInput) (*rulesOutput, error) {
	domainID, err := parseID(in.DomainID, CodeInvalidDomainID, "domain id")
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, domainID, "domain-view"); err != nil {
		return nil, err
	}
	key := "alert_rules.list?domain=" + domainID
	var after string
	limit, err := s.pageStart(ctx, in.Params, key, &after)
	if err != nil {
		return nil, err
	}
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE domain_id = $1 AND id > $2
		ORDER BY id LIMIT `+strconv.Itoa(limit+1), domainID, after)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &rulesOutput{Body: apiv1.List[apiv1.AlertRule]{Items: []apiv1.AlertRule{}}}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, r.AlertRule)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		if out.Body.NextCursor, err = s.cfg.Pages.Next(ctx, key, out.Body.Items[limit-1].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) createRule(ctx context.Context, in *createRuleInput) (*ruleOutput, error) {
	domainID, err := parseID(in.DomainID, CodeInvalidDomainID, "domain id")
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	r := rule{AlertRule: apiv1.AlertRule{ID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID, Name: in.Body.Name,
		Signal: in.Body.Signal, Comparator: in.Body.Comparator, Threshold: in.Body.Threshold, Severity: in.Body.Severity,
		Enabled: in.Body.Enabled == nil || *in.Body.Enabled, Kind: in.Body.Kind, Labels: in.Body.Labels,
		WebhookURL: in.Body.WebhookURL, CreatedAt: now, UpdatedAt: now}}
	ar := audit.RequestFrom(ctx)
	ar.Target(domainID, "alert_rule", r.ID)
	if err := s.authorize(ctx, domainID, "domain-edit"); err != nil {
		return nil, err
	}
	if r.Kind == "" {
		r.Kind = apiv1.AlertKindPromQL
	}
	if r.hold, err = parseHold(in.Body.For); err != nil {
		return nil, err
	}
	if err := s.validateWebhook(r.WebhookURL, in.Body.WebhookSecret); err != nil {
		return nil, err
	}
	if err := s.validate(&r); err != nil {
		return nil, err
	}
	r.sealed = s.seal(r.ID, in.Body.WebhookSecret)
	r.For, r.WebhookSecretSet = formatDuration(r.hold), r.sealed != ""
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM alert_rules WHERE domain_id = $1`, domainID).Scan(&n); err != nil {
			return err
		}
		if n >= s.cfg.MaxRules {
			return problem.Conflict(CodeTooManyRules, "The Domain has "+strconv.Itoa(n)+" alert rules, the most it may hold.")
		}
		if err := insertRule(ctx, tx, r); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, ruleWriteError(err)
	}
	return &ruleOutput{Location: "/v1/domains/" + domainID + "/alert-rules/" + r.ID, Body: r.AlertRule}, nil
}

func insertRule(ctx context.Context, tx *sql.Tx, r rule) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (`+ruleColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID, r.DomainID, r.Name, r.Kind, r.Signal, r.Comparator, r.Threshold, r.Severity, r.Enabled, r.hold.Milliseconds(),
		labelsText(r.Labels), r.WebhookURL, r.sealed, store.Micros(r.CreatedAt), store.Micros(r.UpdatedAt))
	return err
}

// ruleWriteError maps a duplicate name to the contract's 409.
func ruleWriteError(err error) error {
	if store.IsUniqueViolation(err) {
		return problem.Conflict(CodeRuleNameConflict, "An alert rule with this name exists in the Domain.")
	}
	return problem.From(err)
}

// loadRule reads one rule of the Domain, authorized.
func (s *Service) loadRule(ctx context.Context, in ruleInput, permission string) (rule, error) {
	domainID, err := parseID(in.DomainID, CodeInvalidDomainID, "domain id")
	if err != nil {
		return rule{}, err
	}
	id, err := parseID(in.AlertRuleID, CodeInvalidRuleID, "alert rule id")
	if err != nil {
		return rule{}, err
	}
	audit.RequestFrom(ctx).Target(domainID, "alert_rule", id)
	if err := s.authorize(ctx, domainID, permission); err != nil {
		return rule{}, err
	}
	return s.readRule(ctx, s.cfg.DB, domainID, id)
}

func (s *Service) readRule(ctx context.Context, q queryer, domainID, id string) (rule, error) {
	r, err := scanRule(q.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1 AND domain_id = $2`,
		id, domainID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, problem.NotFound(CodeRuleNotFound, "No such alert rule in the Domain.")
	}
	if err != nil {
		return r, problem.Internal(err)
	}
	return r, nil
}

func (s *Service) getRule(ctx context.Context, in *ruleInput) (*ruleOutput, error) {
	r, err := s.loadRule(ctx, *in, "domain-view")
	if err != nil {
		return nil, err
	}
	return &ruleOutput{Body: r.AlertRule}, nil
}

func (s *Service) updateRule(ctx context.Context, in *updateRuleInput) (*ruleOutput, error) {
	r, err := s.loadRule(ctx, ruleInput{DomainID: in.DomainID, AlertRuleID: in.AlertRuleID}, "domain-edit")
	if err != nil {
		return nil, err
	}
	if err := s.patch(&r, in.Body); err != nil {
		return nil, err
	}
	r.UpdatedAt = s.stamp()
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alert_rules SET name = $1, signal = $2, comparator = $3, threshold = $4,
			severity = $5, enabled = $6, for_ms = $7, labels = $8, webhook_url = $9, webhook_secret = $10, updated_at = $11
			WHERE id = $12 AND domain_id = $13`, r.Name, r.Signal, r.Comparator, r.Threshold, r.Severity, r.Enabled,
			r.hold.Milliseconds(), labelsText(r.Labels), r.WebhookURL, r.sealed, store.Micros(r.UpdatedAt), r.ID, r.DomainID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.NotFound(CodeRuleNotFound, "No such alert rule in the Domain.")
		}
		if !r.Enabled {
			if err := s.resolveRuleIncidents(ctx, tx, r.ID, r.UpdatedAt, "The alert rule was disabled."); err != nil {
				return err
			}
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, ruleWriteError(err)
	}
	return &ruleOutput{Body: r.AlertRule}, nil
}

// patch applies an update body to r and validates the result.
func (s *Service) patch(r *rule, b apiv1.AlertRuleUpdate) error {
	setIf(&r.Name, b.Name)
	setIf(&r.Signal, b.Signal)
	setIf(&r.Comparator, b.Comparator)
	setIf(&r.Threshold, b.Threshold)
	setIf(&r.Severity, b.Severity)
	setIf(&r.Enabled, b.Enabled)
	setIf(&r.Labels, b.Labels)
	if b.For != nil {
		var err error
		if r.hold, err = parseHold(*b.For); err != nil {
			return err
		}
		r.For = formatDuration(r.hold)
	}
	secret := ""
	if b.WebhookSecret != nil {
		secret = *b.WebhookSecret
	}
	if b.WebhookURL != nil {
		r.WebhookURL = *b.WebhookURL
		if r.WebhookURL == "" {
			r.sealed = ""
		}
	}
	if err := s.validateWebhook(r.WebhookURL, secret); err != nil {
		return err
	}
	if b.WebhookSecret != nil {
		r.sealed = s.seal(r.ID, secret)
	}
	r.WebhookSecretSet = r.sealed != ""
	return s.validate(r)
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Service) deleteRule(ctx context.Context, in *ruleInput) (*struct{}, error) {
	r, err := s.loadRule(ctx, *in, "domain-edit")
	if err != nil {
		return nil, err
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		// First, while the rule (and its webhook) is still there.
		if err := s.resolveRuleIncidents(ctx, tx, r.ID, s.stamp(), "The alert rule was deleted."); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = $1 AND domain_id = $2`, r.ID, r.DomainID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.NotFound(CodeRuleNotFound, "No such alert rule in the Domain.")
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return nil, nil
}

// resolveRuleIncidents resolves, inside tx, the open incidents of a rule
// that is deleted or disabled (their webhook gets the resolved
// notifications).
func (s *Service) resolveRuleIncidents(ctx context.Context, tx *sql.Tx, ruleID string, at time.Time, message string) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE rule_id = $1 AND status = $2`,
		ruleID, apiv1.IncidentOpen)
	if err != nil {
		return err
	}
	var open []apiv1.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return err
		}
		open = append(open, inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, inc := range open {
		if _, err := s.resolve(ctx, tx, inc, at, message); err != nil {
			return err
		}
	}
	return nil
}
