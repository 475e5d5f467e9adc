package groups

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Bounds.
const (
	// MaxNesting is the longest chain of groups (a group in a group in …)
	// that membership may form. A check through it costs one engine
	// evaluation per level, and the engine's own bound
	// (authz.DefaultMaxDepth) must leave room for the grant's path above the
	// outermost group.
	MaxNesting = 8
	// MaxMembers bounds a group's members added by hand, so that the
	// members list (an envelope without a cursor) stays bounded.
	MaxMembers = 1000
)

// Problem codes of this package.
const (
	CodeGroupNotFound = "group_not_found"
	CodeReadOnly      = "group_read_only"
	CodeSlugConflict  = "group_slug_conflict"
	CodeClaimConflict = "group_claim_conflict"
	CodeCycle         = "group_cycle"
	CodeTooDeep       = "group_nesting_too_deep"
	// CodeSourceConflict is the contract's code (kebab case, as it spells
	// it) for a member whose source differs from its group's.
	CodeSourceConflict = "source-conflict"
	CodeMemberExists   = "member_exists"
	CodeMemberNotFound = "member_not_found"
	CodeMemberLimit    = "group_member_limit"
	CodePrincipalNF    = "principal_not_found"
)

// Authorizer is the authorization this context needs.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// TupleWriter writes relation tuples inside the caller's transaction, and
// makes committed changes visible to this replica's checks (Sync).
type TupleWriter interface {
	Write(ctx context.Context, tx *sql.Tx, add, remove []authz.Tuple) error
	Sync(ctx context.Context) error
}

// Config configures the Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Authz  Authorizer
	Pages  *page.Codec
	Tuples TupleWriter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the group operations.
type Service struct {
	db     *store.DB
	audit  *audit.Log
	authz  Authorizer
	pages  *page.Codec
	tuples TupleWriter
	now    func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("groups: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("groups: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("groups: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("groups: Config.Pages is required")
	case cfg.Tuples == nil:
		return nil, errors.New("groups: Config.Tuples is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, tuples: cfg.Tuples, now: cfg.Now}, nil
}

const (
	basePath   = "/v1/admin/groups"
	onePath    = basePath + "/{id}"
	membersOp  = onePath + "/members"
	memberPath = membersOp + "/{principal_id}"
)

// Register adds the group operations under the contract's operation ids.
func (s *Service) Register(api huma.API) {
	tags := "Groups"
	huma.Register(api, route.Op(http.MethodGet, basePath, "GetAdminGroupList", "group.list", route.Operator,
		"List a Domain's groups (manual and IdP-synced), by slug", tags), s.list)
	op := route.Op(http.MethodPost, basePath, "PostAdminGroup", "group.create", route.Operator,
		"Create a group in a Domain (domain#manage)", tags)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.create)
	huma.Register(api, route.Op(http.MethodGet, onePath, "GetAdminGroupByID", "group.read", route.Operator,
		"Read a group", tags), s.get)
	huma.Register(api, route.Op(http.MethodPatch, onePath, "PatchAdminGroup", "group.update", route.Operator,
		"Rename a manual group; synced groups are read-only (409 group_read_only)", tags), s.patch)
	op = route.Op(http.MethodDelete, onePath, "DeleteAdminGroupByID", "group.delete", route.Operator,
		"Delete a manual group; its memberships and every grant to it go with it", tags)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.delete)
	huma.Register(api, route.Op(http.MethodGet, membersOp, "GetAdminGroupMembers", "group.members.list", route.Operator,
		"List a group's direct members", tags), s.members)
	op = route.Op(http.MethodPost, membersOp, "PostAdminGroupMember", "group.members.add", route.Operator,
		"Add a user, service identity or group to a manual group; its group#member tuple is written at once", tags)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.addMember)
	op = route.Op(http.MethodDelete, memberPath, "DeleteAdminGroupMember", "group.members.remove", route.Operator,
		"Remove a member from a manual group; its group#member tuple goes at once", tags)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.removeMember)
}

// chainOf is the audit chain of a group's scope.
func chainOf(domainID string) string {
	if domainID == "" {
		return audit.PlatformChain
	}
	return domainID
}

// scopeObject is the ReBAC object whose permissions govern a group's scope.
func scopeObject(domainID string) string {
	if domainID == "" {
		return "platform:platform"
	}
	return "domain:" + domainID
}

// domainGate parses a Domain id, names the audit target and checks
// permission on the Domain before anything is read (403 before 404).
func (s *Service) domainGate(ctx context.Context, raw, permission string) (string, error) {
	if raw == "" {
		return "", problem.BadRequest("invalid_domain_id", "domain_id is required.")
	}
	id, err := pathid.Parse("domain", raw)
	if err != nil {
		return "", err
	}
	audit.RequestFrom(ctx).Target(id, "group", "")
	if err := s.authz.Check(ctx, permission, "domain:"+id); err != nil {
		return "", err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&n); err != nil {
		return "", problem.Internal(err)
	}
	if n == 0 {
		return "", problem.NotFound("domain_not_found", "No such Domain.")
	}
	return id, nil
}

// authorizeGroup loads a group and checks permission on its scope before
// anything about it is revealed: for an id that does not exist the caller
// needs platform#manage to learn so (404); everyone else gets 403, as for
// another Domain's group, so existence never leaks across Domains.
func (s *Service) authorizeGroup(ctx context.Context, rawID, permission string) (*group, error) {
	id, err := pathid.Parse("group", rawID)
	if err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(audit.PlatformChain, "group", id)
	g, err := loadGroup(ctx, s.db, id)
	if errors.Is(err, errNotFound) {
		if err := s.authz.Check(ctx, "manage", scopeObject("")); err != nil {
			return nil, err
		}
		return nil, notFound()
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	ar.Target(chainOf(g.DomainID), "group", id)
	if err := s.authz.Check(ctx, permission, scopeObject(g.DomainID)); err != nil {
		return nil, err
	}
	return g, nil
}

// synced makes a committed membership change visible to this replica's
// checks now, so that it takes effect at once; if that fails, the tuple
// change-log poller applies it shortly.
func (s *Service) synced(ctx context.Context, err error) error {
	if err == nil {
		_ = s.tuples.Sync(ctx)
	}
	return err
}

func notFound() *problem.Problem { return problem.NotFound(CodeGroupNotFound, "No such group.") }

func readOnly() *problem.Problem {
	return problem.Conflict(CodeReadOnly, "This group is synced from an IdP's groups claim and cannot be changed by hand.")
}
