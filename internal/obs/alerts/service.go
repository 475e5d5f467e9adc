// Package alerts owns a Domain's alert rules and incidents (issue 15): the
// rules (the contract's AlertRule: a PromQL signal, a comparator and a
// threshold, plus our hold duration, labels and webhook) are stored per
// Domain and evaluated with Prometheus's rules engine over the embedded
// TSDB, each confined to its Domain's series; node-down rules fire from the
// nodes' heartbeats. A firing alert opens an incident (one open incident
// per rule and label set) with a timeline; the alert's end, or an
// operator's :resolve, resolves it. Openings and resolutions are sent to
// the rule's webhook in the Alertmanager webhook format, HMAC-signed, from
// a persisted outbox retried with exponential backoff.
package alerts

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/every"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults and bounds.
const (
	// DefaultInterval is how often rules are evaluated.
	DefaultInterval = 30 * time.Second
	// DefaultMaxRules bounds a Domain's alert rules.
	DefaultMaxRules = 200
	// DefaultMaxAttempts bounds the deliveries of one notification;
	// DefaultBackoff is the first retry delay (doubled each time, at most
	// maxBackoff).
	DefaultMaxAttempts = 8
	DefaultBackoff     = 10 * time.Second
	maxBackoff         = time.Hour
	// deliverTimeout bounds one webhook request; deliverBatch the
	// notifications one delivery pass sends.
	deliverTimeout = 10 * time.Second
	deliverBatch   = 100
)

// Problem codes (the contract's).
const (
	CodeRuleInvalid      = "alert_rule_invalid"
	CodeRuleNotFound     = "alert_rule_not_found"
	CodeRuleNameConflict = "alert_rule_name_conflict"
	CodeTooManyRules     = "alert_rule_limit_reached"
	CodeInvalidRuleID    = "invalid_alert_rule_id"
	CodeIncidentInvalid  = "incident_invalid"
	CodeIncidentNotFound = "incident_not_found"
	CodeInvalidIncident  = "invalid_incident_id"
	CodeIncidentResolved = "incident_resolved"
	CodeAlreadyResolved  = "incident_already_resolved"
	CodeEventInvalid     = "timeline_event_invalid"
	CodeStatusInvalid    = "incident_status_invalid"
	CodeCursorInvalid    = "cursor_invalid"
	CodeInvalidDomainID  = "invalid_domain_id"
	CodeDomainNotFound   = "domain_not_found"
)

// Authorizer is the request-time authorization (guard.Guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Sealer seals the webhook secrets at rest (keyring.Keyring).
type Sealer interface {
	Seal(name string, plaintext []byte) []byte
	Open(name string, sealed []byte) ([]byte, error)
}

// Series is the node metrics store the rules read (metrics.Service).
type Series interface {
	DomainQueryable(domainID string) storage.Queryable
	Engine() *promql.Engine
	Parser() parser.Parser
}

// Config configures a Service.
type Config struct {
	DB      *store.DB
	Audit   *audit.Log
	Authz   Authorizer
	Pages   *page.Codec
	Keyring Sealer
	Metrics Series
	// Logger nil discards.
	Logger *slog.Logger
	Now    func() time.Time
	// Interval is the evaluation period (default 30 s).
	Interval time.Duration
	// PublicURL prefixes the notifications' generatorURL.
	PublicURL string
	// Client sends the webhooks (default: a client with a 10 s timeout
	// that follows no redirects and, unless AllowPrivateWebhooks, uses no
	// proxy and refuses loopback, link-local, private, shared (100.64/10),
	// unspecified and multicast addresses at connection time).
	Client *http.Client
	// AllowPrivateWebhooks lets rules name webhooks on such addresses
	// (on-premises receivers): no check at rule changes nor at delivery.
	AllowPrivateWebhooks bool
	// MaxRules bounds a Domain's rules; MaxAttempts and Backoff the
	// deliveries of one notification.
	MaxRules    int
	MaxAttempts int
	Backoff     time.Duration
}

// Stats are the evaluator and notifier counters.
type Stats struct {
	// Evaluations of a rule; EvalErrors of them failed.
	Evaluations, EvalErrors int64
	// Opened and Resolved incidents (by rules).
	Opened, Resolved int64
	// Delivered notifications; Retried deliveries that failed and will be
	// retried; Dropped notifications that ran out of attempts.
	Delivered, Retried, Dropped int64
}

// Service serves alert rules and incidents and evaluates the rules.
type Service struct {
	cfg Config

	// evalMu serialises evaluations; it guards compiled.
	evalMu   sync.Mutex
	compiled map[string]*compiledRule

	// deliverMu serialises delivery passes.
	deliverMu sync.Mutex

	mu     sync.Mutex
	loop   *every.Loop
	closed bool

	evaluations, evalErrors, opened, resolved, delivered, retried, dropped atomic.Int64
}

// New validates cfg and returns a Service; Start runs the evaluator.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("alerts: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("alerts: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("alerts: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("alerts: Config.Pages is required")
	case cfg.Keyring == nil:
		return nil, errors.New("alerts: Config.Keyring is required")
	case cfg.Metrics == nil:
		return nil, errors.New("alerts: Config.Metrics is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Client == nil {
		cfg.Client = guardedClient(cfg.AllowPrivateWebhooks)
	}
	if cfg.MaxRules <= 0 {
		cfg.MaxRules = DefaultMaxRules
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	return &Service{cfg: cfg, compiled: map[string]*compiledRule{}}, nil
}

// Register adds the alert rule and incident operations to api.
func (s *Service) Register(api huma.API) {
	s.registerRules(api)
	s.registerIncidents(api)
}

// Start evaluates the rules and delivers the notifications every
// Interval.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loop != nil || s.closed {
		return
	}
	s.loop = every.Start(s.cfg.Interval, func(ctx context.Context) error {
		now := s.cfg.Now()
		err := s.EvalOnce(ctx, now)
		if _, derr := s.Deliver(ctx, now); err == nil {
			err = derr
		}
		return err
	}, func(err error) { s.cfg.Logger.Warn("alerts: evaluation", "error", err.Error()) })
}

// Close stops the evaluator; it is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	l := s.loop
	s.mu.Unlock()
	l.Stop()
}

// Stats answers the counters.
func (s *Service) Stats() Stats {
	return Stats{Evaluations: s.evaluations.Load(), EvalErrors: s.evalErrors.Load(), Opened: s.opened.Load(),
		Resolved: s.resolved.Load(), Delivered: s.delivered.Load(), Retried: s.retried.Load(), Dropped: s.dropped.Load()}
}

// stamp is the current time at the database's precision.
func (s *Service) stamp() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// parseID answers a canonical UUID or the problem code's 400.
func parseID(v, code, what string) (string, error) {
	u, err := uuid.Parse(v)
	if err != nil || u == uuid.Nil {
		return "", problem.BadRequest(code, "The "+what+" must be a UUID.")
	}
	return u.String(), nil
}

// authorize checks permission (domain-view or domain-edit) on the Domain
// after the Domain's existence. A caller who may not even view the Domain
// gets 404, as for a Domain that does not exist: no Domain-id oracle, and
// another Domain's rules and incidents are not found.
func (s *Service) authorize(ctx context.Context, domainID, permission string) error {
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, domainID).Scan(&n); err != nil {
		return problem.Internal(err)
	}
	notFound := problem.NotFound(CodeDomainNotFound, "No such Domain.")
	if n == 0 {
		return notFound
	}
	err := s.cfg.Authz.Check(ctx, permission, "domain:"+domainID)
	if err == nil || !forbidden(err) {
		return err
	}
	if permission != "domain-view" {
		if verr := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+domainID); verr == nil {
			return err
		}
	}
	return notFound
}

func forbidden(err error) bool {
	var p *problem.Problem
	return errors.As(err, &p) && p.Status == http.StatusForbidden
}

// pageStart is pages.Start with the contract's cursor code.
func (s *Service) pageStart(ctx context.Context, p page.Params, key string, pos any) (int, error) {
	n, err := s.cfg.Pages.Start(ctx, p, key, pos)
	var pr *problem.Problem
	if errors.As(err, &pr) && pr.Status == http.StatusBadRequest {
		return 0, problem.BadRequest(CodeCursorInvalid, pr.Detail)
	}
	return n, err
}

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
