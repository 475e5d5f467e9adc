package nat

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults of Config.
const (
	// DefaultEndpointTTL is how long a reported endpoint holds without a
	// fresh report (the contract's per-Domain endpoint TTL default).
	DefaultEndpointTTL = 5 * time.Minute
	// DefaultSessionTTL is the expires_at horizon of a relay session; the
	// existing agent keeps a session min(5 min, expires_at − now).
	DefaultSessionTTL = 4 * time.Minute
	// DefaultRenewBefore: a session this close to expiry is re-sent with
	// a new expires_at.
	DefaultRenewBefore = 2 * time.Minute
	// DefaultSweepInterval is the period of the background loop (renewal,
	// re-routing, tombstones).
	DefaultSweepInterval = 5 * time.Second
	// DefaultRelayGrace is how long a new relay session is given before a
	// "down" path report for it counts as a failed relay.
	DefaultRelayGrace = 15 * time.Second
	// DefaultDirectRetry is how long a direct_failed report keeps a pair
	// relayed; after it without a fresh report the pair tries direct again.
	DefaultDirectRetry = 10 * time.Minute
	// MaxPeerReports bounds the per-peer path entries kept from one
	// heartbeat.
	MaxPeerReports = 1024
	// EndpointBodyLimit is the ceiling of PUT …/endpoint (api.md §2.10).
	EndpointBodyLimit = 4 << 10
	// MaxClockSkew is how far reported_at may be from server time.
	MaxClockSkew = 60 * time.Second
)

// Announcer tells a node's peers about it (internal/mesh's Service): the
// complete record of subject as each peer sees it.
type Announcer interface {
	Announce(ctx context.Context, tx *sql.Tx, subject, eventType string) error
}

// Emitter appends one event to nodes' logs in the caller's transaction
// (the event plane's Service).
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
}

// Authorizer checks a ReBAC permission on an object before any read.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Config configures the Service.
type Config struct {
	// DB is the store. Required.
	DB *store.DB
	// Audit records the operator changes. Required.
	Audit *audit.Log
	// Authz checks operator operations. Required.
	Authz Authorizer
	// Pages mints and checks the topology's cursors. Required.
	Pages *page.Codec
	// Mesh announces peer_endpoint_changed; nil announces nothing.
	Mesh Announcer
	// Events receives the relay events; nil emits nothing.
	Events Emitter
	// Caller names the node an NSK authenticated (nil: the API middleware
	// binds the NSK to the path).
	Caller func(ctx context.Context) (string, bool)
	// STUNServers are the "host:port" STUN responders state.mesh lists.
	STUNServers []string
	// EndpointTTL, SessionTTL, RenewBefore, SweepInterval, RelayGrace,
	// DirectRetry: see the Default constants.
	EndpointTTL, SessionTTL, RenewBefore, SweepInterval, RelayGrace, DirectRetry time.Duration
	// Logger logs the background loop's failures (discarded when nil).
	Logger *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Service serves endpoints, paths, relays and the mesh views.
type Service struct {
	cfg Config
	db  *store.DB
	log *slog.Logger

	// mu guards stop and done, the background loop's handles.
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// New validates cfg, fills defaults and returns the service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("nat: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("nat: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("nat: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("nat: Config.Pages is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.EndpointTTL, DefaultEndpointTTL)
	def(&cfg.SessionTTL, DefaultSessionTTL)
	def(&cfg.RenewBefore, DefaultRenewBefore)
	def(&cfg.SweepInterval, DefaultSweepInterval)
	def(&cfg.RelayGrace, DefaultRelayGrace)
	def(&cfg.DirectRetry, DefaultDirectRetry)
	if cfg.RenewBefore >= cfg.SessionTTL {
		return nil, errors.New("nat: Config.RenewBefore must be shorter than SessionTTL")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.STUNServers = append([]string(nil), cfg.STUNServers...)
	return &Service{cfg: cfg, db: cfg.DB, log: log}, nil
}

// SetMesh installs the Announcer after construction, for a composition
// root where the mesh Service needs this one as its PathSource first.
// Call it before serving.
func (s *Service) SetMesh(m Announcer) { s.cfg.Mesh = m }

// now is the clock truncated to what the database keeps.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// announce tells subject's peers its record changed.
func (s *Service) announce(ctx context.Context, tx *sql.Tx, subjects ...string) error {
	if s.cfg.Mesh == nil {
		return nil
	}
	for _, id := range subjects {
		if err := s.cfg.Mesh.Announce(ctx, tx, id, nodeproto.EventPeerEndpointChanged); err != nil {
			return err
		}
	}
	return nil
}

// emit appends an event to one node's log.
func (s *Service) emit(ctx context.Context, tx *sql.Tx, nodeID, eventType string, payload any) error {
	if s.cfg.Events == nil {
		return nil
	}
	return s.cfg.Events.Emit(ctx, tx, []string{nodeID}, eventType, payload)
}

// reflectOf is the reflect.Type of T.
func reflectOf[T any]() reflect.Type { return reflect.TypeFor[T]() }
