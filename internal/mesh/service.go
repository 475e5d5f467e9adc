// Package mesh owns the control plane's view of a Domain's WireGuard mesh:
// mesh address allocation (IPv4 from the Domain's pool or the Project's
// sub-range, a reserved block for bridges and gateways, a quarantine for
// released addresses, and an IPv6 ULA address for level-2 agents), the peer
// set of a node, the pairwise preshared keys (derived from a per-Domain
// secret wrapped under the master key, rotatable per node), the rendering
// of a complete nodeproto.Peer of one node as another sees it, and the
// peer events of a join, leave or key change (docs/design/0005-mesh.md).
//
// Every operation runs inside the caller's transaction, so a node change
// and the events announcing it commit together. One node's change costs
// O(its peers); nothing here recomputes a whole Domain. The recipients of
// an announcement come from an in-memory index of each Domain's live
// nodes that a per-Domain token, replaced by every membership change,
// keeps coherent across replicas (index.go).
package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults of Config.
const (
	// DefaultReleaseHold is how long a released mesh IP is not handed out
	// again: peers that missed peer_removed (offline, resuming later) may
	// still route to it meanwhile.
	DefaultReleaseHold = time.Hour
	// DefaultReservedBits sizes the reserved block at the top of every
	// Domain pool: the last 2^4 = 16 addresses (a /28 of an IPv4 pool).
	DefaultReservedBits = 4
)

// Path is how a viewer reaches a subject beyond its keys and addresses:
// the endpoint, level-2 candidates, keepalive and relay (internal/nat).
type Path struct {
	// Endpoint is "host:port" or "" (a level-1 viewer of a relayed pair
	// gets the relay's address here, NT2).
	Endpoint string
	// FallbackEndpoint is the bridge relay address when the pair is
	// relayed (level 2).
	FallbackEndpoint string
	// Candidates are further "ip:port" endpoints worth trying (level 2).
	Candidates []string
	// Keepalive is the persistent keepalive in seconds (level 2; 0 none).
	Keepalive int
	// Relay is the level-2 relay assignment, nil when direct.
	Relay *nodeproto.PeerRelay
}

// PathSource supplies the Path of each subject as viewer sees it
// (internal/nat implements it). Subjects absent from the answer get the
// zero Path.
type PathSource interface {
	Paths(ctx context.Context, tx *sql.Tx, viewer string, subjects []string) (map[string]Path, error)
}

// ViewerPaths is an optional extension of a PathSource: the Path of one
// subject as each of many viewers sees it, in one call. Announce uses it
// when the source implements it (one query for a 10,000-peer fan-out
// instead of one per peer).
type ViewerPaths interface {
	PathsTo(ctx context.Context, tx *sql.Tx, subject string, viewers []string) (map[string]Path, error)
}

// Emitter appends events to nodes' logs inside the caller's transaction
// (the event plane's Service): one payload for many nodes, or each node
// its own payload (keyed by node id).
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
	EmitEach(ctx context.Context, tx *sql.Tx, eventType string, payloads map[string]any) error
}

// Config configures the Service.
type Config struct {
	// DB is the store (its dialect decides the lock statements). Required.
	DB *store.DB
	// Keyring wraps each Domain's PSK secret. Required.
	Keyring *keyring.Keyring
	// Events receives peer events; nil emits nothing (tests).
	Events Emitter
	// Paths fills endpoints, keepalive, candidates and relays; nil renders
	// endpoint "" and keepalive 0.
	Paths PathSource
	// ReleaseHold is the quarantine of a released mesh IP
	// (DefaultReleaseHold; negative: none).
	ReleaseHold time.Duration
	// ReservedBits sizes the reserved block at the top of each pool
	// (DefaultReservedBits; negative: none). Pools too small to keep four
	// times the block for ordinary nodes reserve nothing.
	ReservedBits int
	// Visibility narrows each node's peers to those policy lets it talk
	// to; nil shows the full mesh of the Domain.
	Visibility Visibility
	// NoIPv6 turns the IPv6 ULA addresses off.
	NoIPv6 bool
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Visibility narrows a node's peers to the nodes some policy rule lets it
// talk to, in either direction (internal/policy/deliver implements it, so
// the relation is symmetric): the state's peers and the recipients of an
// announcement about the node are filtered through it.
type Visibility interface {
	PeerFilter(ctx context.Context, tx *sql.Tx, domainID, nodeID string) (func(peerID string) bool, error)
}

// Service is the mesh context.
type Service struct {
	cfg Config
	db  *store.DB

	// mu guards indexes: each Domain's member index (index.go).
	mu      sync.Mutex
	indexes map[string]*memberIndex
}

// New validates cfg and returns the service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("mesh: Config.DB is required")
	case cfg.Keyring == nil:
		return nil, errors.New("mesh: Config.Keyring is required")
	}
	if cfg.ReleaseHold == 0 {
		cfg.ReleaseHold = DefaultReleaseHold
	}
	if cfg.ReservedBits == 0 {
		cfg.ReservedBits = DefaultReservedBits
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, db: cfg.DB, indexes: map[string]*memberIndex{}}, nil
}

// SetPaths installs the PathSource after construction, for a composition
// root whose PathSource needs this Service first. Call it before serving.
func (s *Service) SetPaths(p PathSource) { s.cfg.Paths = p }

// SetVisibility installs the peer filter after construction, for a
// composition root whose filter needs this Service first. Call it before
// serving.
func (s *Service) SetVisibility(v Visibility) { s.cfg.Visibility = v }

// visible drops the members nodeID may not see, when a filter is set.
func visible[T interface{ nodeID() string }](ctx context.Context, s *Service, tx *sql.Tx, domainID, nodeID string, ms []T) ([]T, error) {
	if s.cfg.Visibility == nil || len(ms) == 0 {
		return ms, nil
	}
	ok, err := s.cfg.Visibility.PeerFilter(ctx, tx, domainID, nodeID)
	if err != nil {
		return nil, fmt.Errorf("mesh: visibility: %w", err)
	}
	out := ms[:0]
	for _, m := range ms {
		if ok(m.nodeID()) {
			out = append(out, m)
		}
	}
	return out, nil
}

// ErrNotPeer reports that a subject is not a live peer of the viewer.
var ErrNotPeer = errors.New("mesh: not a live peer")

// ErrUnknownNode reports an operation on a node that is not live.
var ErrUnknownNode = errors.New("mesh: no such live node")
