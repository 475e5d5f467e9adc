// Package enroll owns how a node joins: project-scoped bootstrap tokens
// (psb_…, shown once, stored only as an Argon2id hash), registration
// (POST /v1/register in both the agent and the contract form), the mesh IP
// allocator, the node secret key (NSK: an HMAC digest for authentication, a
// master-key-sealed copy for secret delivery, never plaintext at rest), NSK
// authentication for node-class operations, and the operator's node
// list/read/decommission.
//
// A token is consumed only by the one transaction that writes the node, so
// concurrent redemptions of a one-shot token enrol exactly one node and every
// failure leaves the token unconsumed (api.md §3.5).
package enroll

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// Authorizer is the authorization this context needs: a check before any
// read, and per-row visibility for lists.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// SigningKeys gives registration the key currently signing a Domain's
// events, creating it on the Domain's first use; q is the registration's
// transaction.
type SigningKeys interface {
	ActiveKey(ctx context.Context, q store.Querier, domainID string) (signing.Key, error)
}

// Tuples writes relation tuples inside the caller's transaction and makes
// committed changes visible on this replica (the tuples context's Store).
type Tuples interface {
	WriteRows(ctx context.Context, tx *sql.Tx, add []tuples.Row, remove []authz.Tuple, strict bool) ([]tuples.Row, error)
	Sync(ctx context.Context) error
}

// Labels validates a token's labels when it is issued and assigns them to
// each node it enrols, inside the registration's transaction (the labels
// context's Service).
type Labels interface {
	CheckBindings(ctx context.Context, kind, domainID, projectID string, labels map[string]string) error
	ApplyBindings(ctx context.Context, tx *sql.Tx, kind, id string, labels map[string]string, by string) error
}

// Emitter appends events to nodes' logs inside the caller's transaction
// (the event plane's Service). ForgetNode, called in the transaction that
// removes a node, deletes what the event plane keeps for it and ends its
// open event streams once that commits.
type Emitter interface {
	Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error
	ForgetNode(ctx context.Context, tx *sql.Tx, nodeID string) error
}

// NodeRef names a node.
type NodeRef struct {
	ID, DomainID, ProjectID, MeshIP, PublicKey string
}

// Config configures the Service.
type Config struct {
	DB      *store.DB
	Audit   *audit.Log
	Authz   Authorizer
	Pages   *page.Codec
	Keyring *keyring.Keyring
	Signing SigningKeys
	// NSKDigestKey keys the HMAC-SHA-256 digest of NSKs (32 bytes or more).
	NSKDigestKey []byte
	// Tuples writes node structural tuples. Required.
	Tuples Tuples
	// Labels checks and applies bootstrap-token labels. Required.
	Labels Labels
	// Events forgets a removed node's reports and stream; nil does
	// nothing (tests).
	Events Emitter
	// Mesh allocates and releases mesh addresses, renders the peers of a
	// registration answer and announces joins and leaves. Required.
	Mesh Mesh
	// Policy learns of joins (before the mesh announces them) and leaves
	// (internal/policy/deliver); nil: none.
	Policy Membership
	// Logger receives operational messages (never a credential).
	Logger *slog.Logger
	// HashConcurrency bounds concurrent Argon2id computations (default
	// GOMAXPROCS), so a redemption storm cannot exhaust memory.
	HashConcurrency int
	// RegisterConcurrency bounds concurrent registration bodies read
	// before their token is known, i.e. without a bearer (default
	// DefaultRegisterConcurrency); more get 429 rate_limited.
	RegisterConcurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves bootstrap tokens, registration and nodes.
type Service struct {
	db      *store.DB
	audit   *audit.Log
	authz   Authorizer
	pages   *page.Codec
	kr      *keyring.Keyring
	signing SigningKeys
	nskKey  []byte
	tuples  Tuples
	labels  Labels
	events  Emitter
	mesh    Mesh
	policy  Membership
	log     *slog.Logger
	hashSem chan struct{}
	// bodySem bounds registration bodies read before their token is known.
	bodySem chan struct{}
	now     func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("enroll: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("enroll: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("enroll: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("enroll: Config.Pages is required")
	case cfg.Keyring == nil:
		return nil, errors.New("enroll: Config.Keyring is required")
	case cfg.Signing == nil:
		return nil, errors.New("enroll: Config.Signing is required")
	case cfg.Labels == nil:
		return nil, errors.New("enroll: Config.Labels is required")
	case cfg.Tuples == nil:
		return nil, errors.New("enroll: Config.Tuples is required")
	case cfg.Mesh == nil:
		return nil, errors.New("enroll: Config.Mesh is required")
	case len(cfg.NSKDigestKey) < 32:
		return nil, errors.New("enroll: Config.NSKDigestKey must be at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HashConcurrency <= 0 {
		cfg.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if cfg.RegisterConcurrency <= 0 {
		cfg.RegisterConcurrency = DefaultRegisterConcurrency
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, kr: cfg.Keyring,
		signing: cfg.Signing, nskKey: cfg.NSKDigestKey, tuples: cfg.Tuples, labels: cfg.Labels, events: cfg.Events, mesh: cfg.Mesh, log: cfg.Logger, policy: cfg.Policy,
		hashSem: make(chan struct{}, cfg.HashConcurrency), bodySem: make(chan struct{}, cfg.RegisterConcurrency),
		now: cfg.Now}, nil
}

// Register adds every enrolment operation to api.
func (s *Service) Register(api huma.API) {
	s.registerTokens(api)
	s.registerRegistration(api)
	s.registerNodes(api)
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// visibleRows drops the items the caller may not see with permission.
func visibleRows[T any](ctx context.Context, a Authorizer, permission string, items []T, object func(T) string) ([]T, error) {
	objs := make([]string, len(items))
	for i, it := range items {
		objs[i] = object(it)
	}
	ok, err := a.Visible(ctx, permission, objs)
	if err != nil {
		return nil, err
	}
	out := items[:0]
	for i, it := range items {
		if ok[i] {
			out = append(out, it)
		}
	}
	return out, nil
}
