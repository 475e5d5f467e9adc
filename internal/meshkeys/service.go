// Package meshkeys owns WireGuard key rotation of mesh nodes (issue 9,
// api.md §3.6, node-protocol.md §12.1): the operator's trigger
// (POST /v1/nodes/{id}/keys/rotate) and its preview, the node's completion
// (POST /v1/keys/rotate, the NSK alone naming the node), and the rotation
// schedule that asks for a new key once a node's key is older than a
// configured interval.
//
// A rotation is a row of mesh_key_rotations: pending from the trigger until
// the node reports its new key. A level-2 node learns of it through the
// rotate_keys event and the heartbeat's rotate_keys flag; a level-1 agent
// is never asked (E4, §5.2), its rotation simply stays pending. Completion
// is one transaction: the node's key is swapped, every pair's PSK is
// re-issued, each peer gets peer_key_rotated with the complete new Peer,
// the rotation is closed and audited.
package meshkeys

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Mesh is what rotation needs of the mesh context (docs/design/0005-mesh.md):
// the complete peer set of a node as it sees it, a peer event carrying a
// node's complete record to each of its peers, and new pairwise PSKs for
// every pair of a node. All run inside the caller's transaction.
type Mesh interface {
	PeersOf(ctx context.Context, tx *sql.Tx, nodeID string) ([]nodeproto.Peer, error)
	Announce(ctx context.Context, tx *sql.Tx, subject, eventType string) error
	RotatePSKs(ctx context.Context, tx *sql.Tx, nodeID string) error
}

// Emitter appends an event to nodes' logs inside the caller's transaction
// (the event plane's Service).
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
}

// Authorizer checks the caller's permission on an object (the guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Config configures the Service.
type Config struct {
	DB    *store.DB
	Audit *audit.Log
	Authz Authorizer
	// Mesh renders peers, announces the new key and re-issues PSKs.
	Mesh Mesh
	// Events carries rotate_keys to level-2 nodes.
	Events Emitter
	// Caller names the node whose NSK authenticated a request.
	Caller func(ctx context.Context) (string, bool)
	// Interval is the schedule: a node whose key is older gets a pending
	// rotation; 0 turns the schedule off.
	Interval time.Duration
	// SweepEvery is how often the schedule looks (default Interval/10,
	// between a minute and an hour).
	SweepEvery time.Duration
	// Logger receives operational messages (never a key).
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the rotation operations and runs the schedule.
type Service struct {
	cfg  Config
	stop context.CancelFunc
	done chan struct{}
}

// NewService validates cfg, fills its defaults and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("meshkeys: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("meshkeys: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("meshkeys: Config.Authz is required")
	case cfg.Mesh == nil:
		return nil, errors.New("meshkeys: Config.Mesh is required")
	case cfg.Events == nil:
		return nil, errors.New("meshkeys: Config.Events is required")
	case cfg.Caller == nil:
		return nil, errors.New("meshkeys: Config.Caller is required")
	case cfg.Interval < 0:
		return nil, errors.New("meshkeys: Config.Interval must not be negative")
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = min(max(cfg.Interval/10, time.Minute), time.Hour)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// Register adds the three rotation operations to api.
func (s *Service) Register(api huma.API) {
	s.registerOperator(api)
	s.registerNode(api)
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
