package signing

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer is the check this context needs before any read.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Backend is a KeyManager that can rotate inside the caller's transaction,
// so the rotation and its audit entry commit together.
type Backend interface {
	KeyManager
	RotateTx(ctx context.Context, tx *sql.Tx, domainID string, grace time.Duration) (Rotation, error)
}

// Config configures the Service.
type Config struct {
	DB      *store.DB
	Audit   *audit.Log
	Authz   Authorizer
	Backend Backend
	// OnRotate, when set, runs inside the rotation's transaction: the event
	// plane appends signing_key_rotated there, signed with the old key
	// (node-protocol.md §8 K4).
	OnRotate func(ctx context.Context, tx *sql.Tx, domainID string, r Rotation) error
}

// Service serves the signing-key endpoints.
type Service struct {
	db    *store.DB
	audit *audit.Log
	authz Authorizer
	keys  Backend
	// onRotate is Config.OnRotate.
	onRotate func(ctx context.Context, tx *sql.Tx, domainID string, r Rotation) error
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("signing: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("signing: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("signing: Config.Authz is required")
	case cfg.Backend == nil:
		return nil, errors.New("signing: Config.Backend is required")
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, keys: cfg.Backend, onRotate: cfg.OnRotate}, nil
}

type domainInput struct {
	ID string `path:"id" doc:"Domain id (UUID)."`
}
type rotateInput struct {
	ID   string                  `path:"id" doc:"Domain id (UUID)."`
	Body *apiv1.RotateSigningKey `required:"false"`
}
type keysOutput struct {
	Body apiv1.List[apiv1.SigningKey]
}
type rotationOutput struct {
	Body apiv1.SigningKeyRotation
}

// Register adds the signing-key operations to api.
func (s *Service) Register(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains/{id}/signing-keys", "listSigningKeys", "signing_key.list",
		route.Operator, "List a Domain's signing keys (active first)", "Signing"), s.list)
	// Rotating a trust anchor demands the binding's step-up (issue 3).
	huma.Register(api, route.Sensitive(route.Op(http.MethodPost, "/v1/domains/{id}/signing-keys:rotate", "rotateSigningKey",
		"signing_key.rotate", route.Operator, "Roll the Domain to a new signing key", "Signing")), s.rotate)
}

func parseDomainID(s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", problem.BadRequest("invalid_domain_id", "The domain id must be a UUID.")
	}
	return u.String(), nil
}

// wire renders a key for the API.
func wire(k Key) apiv1.SigningKey {
	return apiv1.SigningKey{KID: k.KID, Algorithm: Algorithm, PublicKey: k.PublicBase64(), Status: k.Status,
		CreatedAt: k.CreatedAt, NotAfter: k.NotAfter}
}

func (s *Service) list(ctx context.Context, in *domainInput) (*keysOutput, error) {
	id, err := parseDomainID(in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "read", "domain:"+id); err != nil {
		return nil, err
	}
	keys, err := s.keys.PublicKeys(ctx, id)
	if err != nil {
		return nil, mapErr(err)
	}
	out := &keysOutput{Body: apiv1.List[apiv1.SigningKey]{Items: make([]apiv1.SigningKey, 0, len(keys))}}
	for _, k := range keys {
		out.Body.Items = append(out.Body.Items, wire(k))
	}
	return out, nil
}

func (s *Service) rotate(ctx context.Context, in *rotateInput) (*rotationOutput, error) {
	id, err := parseDomainID(in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(id, "domain", id)
	if err := s.authz.Check(ctx, "admin", "domain:"+id); err != nil {
		return nil, err
	}
	grace := DefaultGrace
	if in.Body != nil && in.Body.GraceSeconds != 0 {
		grace = time.Duration(in.Body.GraceSeconds) * time.Second
	}
	var r Rotation
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if r, err = s.keys.RotateTx(ctx, tx, id, grace); err != nil {
			return err
		}
		if s.onRotate != nil {
			if err := s.onRotate(ctx, tx, id, r); err != nil {
				return err
			}
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return &rotationOutput{Body: apiv1.SigningKeyRotation{Active: wire(r.Active), Retiring: wire(r.Retiring)}}, nil
}

// mapErr turns backend errors into problems.
func mapErr(err error) error {
	switch {
	case errors.Is(err, ErrDomainNotFound):
		return problem.NotFound("domain_not_found", "No such Domain.")
	case errors.Is(err, ErrRotationInProgress):
		return problem.Conflict("signing_key_rotation_in_progress",
			"The previous signing key is still retiring; rotate again after its not_after.")
	}
	return problem.From(err)
}
