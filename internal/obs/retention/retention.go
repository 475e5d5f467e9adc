// Package retention is the per-Domain telemetry retention (issue 15): how
// long a Domain's node metric samples and node log lines are kept, each at
// most the server-wide maximum (--metrics-retention, --node-log-retention),
// read and replaced with GET/PUT /v1/domains/{domainId}/telemetry-retention
// (ours; audited in the Domain's chain). The logs sweeper and the metrics
// sweep read the stored values through MetricsByDomain and LogsByDomain.
package retention

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Minimum is the shortest retention a Domain may set.
const Minimum = time.Hour

// Problem codes.
const (
	CodeInvalidDomainID  = "invalid_domain_id"
	CodeOutOfRange       = "retention_out_of_range"
	CodeDomainNotFound   = "domain_not_found"
	CodeUnavailable      = "retention_unavailable"
	maxDomainsPerLookup  = 100_000
	secondsPerHourString = "3600"
)

// Authorizer is the request-time authorization (guard.Guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Config configures a Service.
type Config struct {
	DB    *store.DB
	Audit *audit.Log
	Authz Authorizer
	// MaxMetrics and MaxLogs are the server-wide retentions (the bound).
	MaxMetrics, MaxLogs time.Duration
	Now                 func() time.Time
}

// Service stores and serves the per-Domain retention.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Authz == nil || cfg.Audit == nil {
		return nil, errors.New("retention: Config.DB, Audit and Authz are required")
	}
	if cfg.MaxMetrics < Minimum || cfg.MaxLogs < Minimum {
		return nil, errors.New("retention: Config.MaxMetrics and MaxLogs must be at least 1h")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// TelemetryRetention and TelemetryRetentionUpdate are the wire shapes.
type (
	TelemetryRetention       = apiv1.TelemetryRetention
	TelemetryRetentionUpdate = apiv1.TelemetryRetentionUpdate
)

type domainPath struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
}

type putInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	Body     TelemetryRetentionUpdate
}

type output struct{ Body TelemetryRetention }

// Register adds GetDomainTelemetryRetention and
// PutDomainTelemetryRetention to api.
func (s *Service) Register(api huma.API) {
	op := route.Op(http.MethodGet, "/v1/domains/{domainId}/telemetry-retention", "GetDomainTelemetryRetention",
		"domain.telemetry_retention.read", route.Operator, "Ours: read a Domain's node metrics and logs retention", "Observability")
	op.Description = "The effective retention of the Domain's node metric samples and node log lines (its own values or " +
		"the server's) and the server-wide maxima that bound them. Needs domain-view."
	huma.Register(api, op, s.get)
	op = route.Op(http.MethodPut, "/v1/domains/{domainId}/telemetry-retention", "PutDomainTelemetryRetention",
		"domain.telemetry_retention.put", route.Operator, "Ours: replace a Domain's node metrics and logs retention", "Observability")
	op.Description = "Sets how long the Domain's node metric samples and node log lines are kept, each from 1 hour up to " +
		"the server-wide retention (422 `retention_out_of_range` beyond); an absent value returns to the server's. " +
		"Shorter values take effect at the next retention sweep: older log lines are deleted in bounded batches, " +
		"older metric samples are deleted from the TSDB. Needs manage on the Domain; audited."
	huma.Register(api, op, s.put)
}

func parseDomain(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || u == uuid.Nil {
		return "", problem.BadRequest(CodeInvalidDomainID, "The domain id must be a UUID.")
	}
	return u.String(), nil
}

func (s *Service) get(ctx context.Context, in *domainPath) (*output, error) {
	id, err := parseDomain(in.DomainID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+id); err != nil {
		return nil, err
	}
	out, err := s.load(ctx, s.cfg.DB, id)
	if err != nil {
		return nil, problem.From(err)
	}
	return &output{Body: out}, nil
}

func (s *Service) put(ctx context.Context, in *putInput) (*output, error) {
	id, err := parseDomain(in.DomainID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(id, "domain", id)
	if err := s.cfg.Authz.Check(ctx, "manage", "domain:"+id); err != nil {
		return nil, err
	}
	check := func(field string, v *int64, maxD time.Duration) error {
		if v == nil {
			return nil
		}
		if *v < int64(Minimum/time.Second) || *v > int64(maxD/time.Second) {
			return problem.New(http.StatusUnprocessableEntity, CodeOutOfRange, field+" must be from "+secondsPerHourString+
				" up to the server-wide "+strconv.FormatInt(int64(maxD/time.Second), 10)+" seconds.")
		}
		return nil
	}
	if err := check("metrics_seconds", in.Body.MetricsSeconds, s.cfg.MaxMetrics); err != nil {
		return nil, err
	}
	if err := check("logs_seconds", in.Body.LogsSeconds, s.cfg.MaxLogs); err != nil {
		return nil, err
	}
	var out TelemetryRetention
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		now := store.Micros(s.cfg.Now())
		if _, err := s.load(ctx, tx, id); err != nil {
			return err
		}
		if in.Body.MetricsSeconds == nil && in.Body.LogsSeconds == nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM domain_telemetry_retention WHERE domain_id = $1`, id); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `INSERT INTO domain_telemetry_retention (domain_id, metrics_seconds,
			logs_seconds, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (domain_id) DO UPDATE SET
			metrics_seconds = $2, logs_seconds = $3, updated_at = $4`,
			id, nullable(in.Body.MetricsSeconds), nullable(in.Body.LogsSeconds), now); err != nil {
			return err
		}
		var err error
		if out, err = s.load(ctx, tx, id); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &output{Body: out}, nil
}

func nullable(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// load reads a Domain's retention; a missing Domain is 404.
func (s *Service) load(ctx context.Context, q store.Querier, id string) (TelemetryRetention, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&n); err != nil {
		return TelemetryRetention{}, problem.Unavailable(CodeUnavailable, err)
	}
	if n == 0 {
		return TelemetryRetention{}, problem.NotFound(CodeDomainNotFound, "No such Domain.")
	}
	out := TelemetryRetention{DomainID: id, MetricsMaxSeconds: int64(s.cfg.MaxMetrics / time.Second),
		LogsMaxSeconds: int64(s.cfg.MaxLogs / time.Second)}
	out.MetricsSeconds, out.LogsSeconds = out.MetricsMaxSeconds, out.LogsMaxSeconds
	var (
		m, l    sql.NullInt64
		updated int64
	)
	err := q.QueryRowContext(ctx, `SELECT metrics_seconds, logs_seconds, updated_at FROM domain_telemetry_retention
		WHERE domain_id = $1`, id).Scan(&m, &l, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return out, problem.Unavailable(CodeUnavailable, err)
	}
	t := store.Time(updated)
	out.UpdatedAt = &t
	// A stored value above a since-lowered server maximum counts as the
	// maximum.
	if m.Valid {
		out.MetricsSeconds, out.MetricsCustom = min(m.Int64, out.MetricsMaxSeconds), true
	}
	if l.Valid {
		out.LogsSeconds, out.LogsCustom = min(l.Int64, out.LogsMaxSeconds), true
	}
	return out, nil
}

// MetricsByDomain answers the Domains with their own metrics retention.
func (s *Service) MetricsByDomain(ctx context.Context) (map[string]time.Duration, error) {
	return s.byDomain(ctx, "metrics_seconds")
}

// LogsByDomain answers the Domains with their own logs retention.
func (s *Service) LogsByDomain(ctx context.Context) (map[string]time.Duration, error) {
	return s.byDomain(ctx, "logs_seconds")
}

func (s *Service) byDomain(ctx context.Context, col string) (map[string]time.Duration, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT domain_id, `+col+` FROM domain_telemetry_retention
		WHERE `+col+` IS NOT NULL ORDER BY domain_id LIMIT `+strconv.Itoa(maxDomainsPerLookup))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Duration{}
	for rows.Next() {
		var (
			d   string
			sec int64
		)
		if err := rows.Scan(&d, &sec); err != nil {
			return nil, err
		}
		out[d] = time.Duration(sec) * time.Second
	}
	return out, rows.Err()
}
