package directory

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer is the authorization this context needs.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Lookup resolves which objects a subject holds a permission on (the
// ReBAC engine).
type Lookup interface {
	LookupResources(ctx context.Context, subject authz.SubjectRef, permission, resourceType string) ([]authz.ObjectRef, error)
}

// Config configures the Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Authz  Authorizer
	Pages  *page.Codec
	Lookup Lookup
}

// Service serves the identities view.
type Service struct {
	db     *store.DB
	audit  *audit.Log
	authz  Authorizer
	pages  *page.Codec
	lookup Lookup
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("directory: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("directory: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("directory: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("directory: Config.Pages is required")
	case cfg.Lookup == nil:
		return nil, errors.New("directory: Config.Lookup is required")
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, lookup: cfg.Lookup}, nil
}

type listInput struct {
	ID   string `path:"id" doc:"Domain id."`
	Kind string `query:"kind" doc:"user or service-identity; empty lists both."`
	page.Params
}

type oneInput struct {
	ID          string `path:"id" doc:"Domain id."`
	PrincipalID string `path:"principalId" doc:"Identity id."`
}

type listOutput struct {
	Body apiv1.List[apiv1.Identity]
}

type oneOutput struct {
	Body apiv1.Identity
}

// Register adds the contract's identity operations.
func (s *Service) Register(api huma.API) {
	tags := "Domain identities"
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains/{id}/identities", "ListIdentities", "identity.list",
		route.Operator, "List a Domain's users and service identities", tags), s.list)
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains/{id}/identities/{principalId}", "GetIdentity", "identity.read",
		route.Operator, "Read one identity of a Domain with its groups and effective roles", tags), s.get)
}

// kinds maps the contract's kind names to the stored ones.
var kinds = map[string]string{"user": "user", "service-identity": "service_identity"}

func wireKind(stored string) string {
	if stored == "service_identity" {
		return "service-identity"
	}
	return stored
}

// selectIdentity reads an identity with its external subject (IdP subject
// or client id) and the binding of its latest sign-in (or its own).
const selectIdentity = `SELECT i.id, i.kind, i.display_name, COALESCE(i.idp_subject, s.client_id, ''), COALESCE(i.email, ''),
		i.last_sign_in_at, i.created_at, i.updated_at,
		COALESCE(s.idp_binding_id, (SELECT x.idp_binding_id FROM sessions x WHERE x.identity_id = i.id
			ORDER BY x.created_at DESC, x.id DESC LIMIT 1), '')
	FROM identities i LEFT JOIN service_identities s ON s.id = i.id`

// row is an identity as stored, before projection.
type row struct {
	apiv1.Identity
	kind, subject, email string
	updated              time.Time
}

func scan(r interface{ Scan(...any) error }, domainID string) (row, error) {
	var (
		x                row
		last             *int64
		created, updated int64
	)
	err := r.Scan(&x.ID, &x.kind, &x.DisplayName, &x.subject, &x.email, &last, &created, &updated, &x.IdPBindingID)
	x.DomainID, x.Kind, x.LastSignInAt = domainID, wireKind(x.kind), store.NullTime(last)
	x.CreatedAt, x.updated = store.Time(created), store.Time(updated)
	return x, err
}

// project fills the pseudonym and groups of x.
func (s *Service) project(ctx context.Context, x *row) error {
	x.ExternalSubjectPseudonym = s.audit.Pseudonym(x.DomainID, x.subject)
	rows, err := s.db.QueryContext(ctx, `SELECT g.id, g.slug, g.display_name, g.source FROM principal_group_members m
		JOIN principal_groups g ON g.id = m.group_id
		WHERE m.principal_kind = $1 AND m.principal_id = $2 ORDER BY g.slug, g.id LIMIT 256`, x.kind, x.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	x.Groups = []apiv1.IdentityGroup{}
	for rows.Next() {
		var g apiv1.IdentityGroup
		if err := rows.Scan(&g.ID, &g.Slug, &g.DisplayName, &g.Source); err != nil {
			return err
		}
		x.Groups = append(x.Groups, g)
	}
	return rows.Err()
}

// listPos is the keyset position of the (created_at DESC, id DESC) order.
type listPos struct {
	C int64  `json:"c"`
	I string `json:"i"`
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	kind, ok := kinds[in.Kind]
	if !ok && in.Kind != "" {
		return nil, problem.BadRequest("invalid_kind", "kind must be user or service-identity.")
	}
	scope := "identities.list:" + domainID + ":" + kind
	pos := listPos{C: 1<<62 - 1}
	limit, err := s.pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, selectIdentity+` WHERE i.domain_id = $1
		AND (i.created_at < $2 OR (i.created_at = $2 AND i.id < $3)) AND ($5 = '' OR i.kind = $5)
		ORDER BY i.created_at DESC, i.id DESC LIMIT $4`, domainID, pos.C, pos.I, limit+1, kind)
	if err != nil {
		return nil, problem.Internal(err)
	}
	var got []row
	for rows.Next() {
		x, err := scan(rows, domainID)
		if err != nil {
			rows.Close()
			return nil, problem.Internal(err)
		}
		got = append(got, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	out := &listOutput{Body: apiv1.List[apiv1.Identity]{Items: []apiv1.Identity{}}}
	if len(got) > limit {
		got = got[:limit]
		last := got[limit-1]
		if out.Body.NextCursor, err = s.pages.Next(ctx, scope, listPos{C: store.Micros(last.CreatedAt), I: last.ID}); err != nil {
			return nil, err
		}
	}
	for i := range got {
		if err := s.project(ctx, &got[i]); err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, got[i].Identity)
	}
	return out, nil
}

func (s *Service) get(ctx context.Context, in *oneInput) (*oneOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("principal", in.PrincipalID)
	if err != nil {
		return nil, err
	}
	x, err := scan(s.db.QueryRowContext(ctx, selectIdentity+` WHERE i.id = $1 AND i.domain_id = $2`, id, domainID), domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound("identity_not_found", "No such identity in this Domain.")
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	if err := s.project(ctx, &x); err != nil {
		return nil, problem.Internal(err)
	}
	// Domain admins are auditors of their Domain (the schema's
	// domain#auditor includes admin), so the detail carries the plaintext.
	x.ExternalSubject, x.Email, x.UpdatedAt = x.subject, x.email, &x.updated
	if x.EffectiveRoles, err = s.roles(ctx, domainID, x.kind, x.ID); err != nil {
		return nil, err
	}
	return &oneOutput{Body: x.Identity}, nil
}

// domainGate parses the Domain id and checks that the caller administers
// the Domain before anything is read (pathid.Domain).
func (s *Service) domainGate(ctx context.Context, raw string) (string, error) {
	return pathid.Domain(ctx, s.db, s.authz, raw, "manage")
}
