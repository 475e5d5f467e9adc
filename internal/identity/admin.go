package identity

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Issue 16 item 3: a platform or Domain admin issues, lists, rotates and
// revokes API tokens of other principals (users and service identities).
// The tokens are the same psk_ tokens as /v1/auth/tokens, stored as hashes
// in api_tokens; what differs is who may act (domain#manage on the owner's
// Domain, platform#manage for a platform identity) and where it is audited
// (the owner's Domain chain, and the admin's own chain as well).

// DefaultAdminTokenMaxTTL is the default policy bound on the lifetime of a
// token an admin issues for another principal.
const DefaultAdminTokenMaxTTL = 90 * 24 * time.Hour

// maxRefLen bounds an identity_ref.
const maxRefLen = 80

type adminListInput struct {
	IdentityRef string `query:"identity_ref" required:"true" maxLength:"80" doc:"The owner: user:<uuid> or service:<uuid>."`
	page.ArrayParams
}

type adminTokensOutput struct {
	page.ArrayHeaders
	Body []apiv1.AdminAPIToken `nullable:"false"`
}

type adminIssueInput struct{ Body apiv1.AdminIssueToken }

// subject is the owner of a token an admin acts on.
type subject struct {
	id       string
	kind     principal.Kind
	domainID string
}

func (s subject) ref() string         { return string(s.kind) + ":" + s.id }
func (s subject) contractRef() string { return principalType(s.kind) + ":" + s.id }

func (s subject) chain() string {
	if s.domainID != "" {
		return s.domainID
	}
	return audit.PlatformChain
}

func (s subject) scope() string {
	if s.domainID != "" {
		return "domain:" + s.domainID
	}
	return "platform:platform"
}

// ParseIdentityRef parses user:<uuid>, service:<uuid> or
// service_identity:<uuid>.
func ParseIdentityRef(ref string) (principal.Kind, string, error) {
	bad := problem.BadRequest("invalid_identity_ref", "identity_ref must be user:<uuid> or service:<uuid>.")
	if len(ref) > maxRefLen {
		return "", "", bad
	}
	k, id, ok := strings.Cut(ref, ":")
	if !ok {
		return "", "", bad
	}
	var kind principal.Kind
	switch k {
	case "user":
		kind = principal.User
	case "service", string(principal.ServiceIdentity):
		kind = principal.ServiceIdentity
	default:
		return "", "", bad
	}
	u, err := uuid.Parse(id)
	if err != nil || u == uuid.Nil || len(id) != 36 {
		return "", "", bad
	}
	return kind, u.String(), nil
}

func errIdentityNotFound() error {
	return problem.NotFound("identity_not_found", "No such identity.")
}

func errAdminTokenNotFound() error {
	return problem.NotFound("token_not_found", "No such token.")
}

// authorizeSubject checks manage on the owner's scope. A caller who cannot
// even read the owner's Domain learns nothing about it: 404, as for an
// owner that does not exist.
func (s *Service) authorizeSubject(ctx context.Context, sub subject, notFound func() error) error {
	audit.RequestFrom(ctx).Target(sub.chain(), "api_token", "")
	err := s.authz.Check(ctx, "manage", sub.scope())
	if err == nil {
		return nil
	}
	var pd *problem.Problem
	if errors.As(err, &pd) && pd.Status == http.StatusForbidden {
		if vis, verr := s.authz.Visible(ctx, "read", []string{sub.scope()}); verr == nil && len(vis) == 1 && !vis[0] {
			return notFound()
		}
	}
	return err
}

// checkOutranks refuses a change to the tokens of a subject that holds
// grants outside its own Domain (on the platform, or on another Domain's
// objects, directly or as a group member) unless the caller is a platform
// admin: a Domain admin could otherwise mint a credential for a platform
// admin who happens to live in their Domain.
func (s *Service) checkOutranks(ctx context.Context, sub subject) error {
	vis, err := s.authz.Visible(ctx, "manage", []string{"platform:platform"})
	if err != nil {
		return problem.Unavailable("authz_unavailable", err)
	}
	if len(vis) == 1 && vis[0] {
		return nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM relation_tuples WHERE subject_type = $1 AND subject_id = $2
		AND COALESCE(domain_id, '') <> $3`, string(sub.kind), sub.id, sub.domainID).Scan(&n); err != nil {
		return problem.Internal(err)
	}
	if n > 0 || sub.domainID == "" {
		return problem.New(http.StatusForbidden, "subject_outranks_caller",
			"This principal holds grants outside the Domain; only a platform admin manages its tokens.")
	}
	return nil
}

// loadSubject resolves an identity_ref to its identity.
func (s *Service) loadSubject(ctx context.Context, ref string) (subject, error) {
	kind, id, err := ParseIdentityRef(ref)
	if err != nil {
		return subject{}, err
	}
	sub := subject{id: id, kind: kind}
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(domain_id, '') FROM identities WHERE id = $1 AND kind = $2`,
		id, string(kind)).Scan(&sub.domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return subject{}, errIdentityNotFound()
	}
	if err != nil {
		return subject{}, problem.Internal(err)
	}
	return sub, nil
}

// tokenSubject resolves a token id to its owner (live tokens only).
func (s *Service) tokenSubject(ctx context.Context, q store.Querier, rawID string, lock bool) (subject, error) {
	u, err := uuid.Parse(rawID)
	if err != nil || len(rawID) != 36 {
		return subject{}, problem.BadRequest("invalid_token_id", "The token id must be a UUID.")
	}
	id := u.String()
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "api_token", id)
	var sub subject
	var kind string
	lk := ""
	if lock {
		lk = s.db.ForUpdate()
	}
	err = q.QueryRowContext(ctx, `SELECT i.id, i.kind, COALESCE(i.domain_id, '') FROM api_tokens t
		JOIN identities i ON i.id = t.identity_id WHERE t.id = $1 AND t.revoked_at IS NULL`+lk, id).
		Scan(&sub.id, &kind, &sub.domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return subject{}, errAdminTokenNotFound()
	}
	if err != nil {
		return subject{}, err
	}
	sub.kind = principal.Kind(kind)
	return sub, nil
}

// alsoAuditAdmin appends the request's success entry to the acting
// admin's own chain too, when it differs from the owner's.
func (s *Service) alsoAuditAdmin(ctx context.Context, tx *sql.Tx, sub subject, tokenID string) error {
	p := principal.From(ctx)
	admin := s.chain(p)
	if admin == sub.chain() {
		return nil
	}
	ar := audit.RequestFrom(ctx)
	_, err := s.audit.Append(ctx, tx, audit.Entry{ChainID: admin, Action: ar.Action, Outcome: audit.Succeeded,
		Reason: "granted", IdentityRef: p.Ref(), Relation: "manage", ObjectType: "api_token", ObjectID: tokenID,
		DecisionResult: "allowed", CorrelationID: ar.CorrelationID, IP: ar.IP, UserAgent: ar.UserAgent})
	return err
}

func (s *Service) registerAdmin(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/admin/tokens", "listAdminTokens", "admin_token.list", route.Operator,
		"List another principal's API tokens (metadata only; manage on its Domain)", "Auth"), s.adminList)
	op := route.Sensitive(route.Op(http.MethodPost, "/v1/admin/tokens", "issueAdminToken", "admin_token.issue", route.Operator,
		"Issue an API token for another principal; the plaintext is returned once; step-up required", "Auth"))
	op.DefaultStatus = http.StatusCreated
	op.Extensions = map[string]any{"x-plexsphere-once": true}
	huma.Register(api, op, s.adminIssue)
	op = route.Op(http.MethodDelete, "/v1/admin/tokens/{id}", "revokeAdminToken", "admin_token.revoke", route.Operator,
		"Revoke any API token the caller manages, effective immediately", "Auth")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.adminRevoke)
	op = route.Sensitive(route.Op(http.MethodPost, "/v1/admin/tokens/{id}/rotate", "rotateAdminToken", "admin_token.rotate",
		route.Operator, "Replace another principal's token plaintext; the old one works until rotation_deadline; step-up required", "Auth"))
	op.Extensions = map[string]any{"x-plexsphere-once": true}
	huma.Register(api, op, s.adminRotate)
}

func (s *Service) adminList(ctx context.Context, in *adminListInput) (*adminTokensOutput, error) {
	sub, err := s.loadSubject(ctx, in.IdentityRef)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeSubject(ctx, sub, errIdentityNotFound); err != nil {
		return nil, err
	}
	toks, next, limit, err := s.tokenPage(ctx, sub.id, "admin_tokens.list:"+sub.id, in.Params())
	if err != nil {
		return nil, err
	}
	out := &adminTokensOutput{Body: make([]apiv1.AdminAPIToken, len(toks))}
	for i, t := range toks {
		out.Body[i] = apiv1.AdminAPIToken{APIToken: t, IdentityRef: sub.contractRef()}
	}
	if next != "" {
		out.SetNext("/v1/admin/tokens", url.Values{"identity_ref": {in.IdentityRef}}, next, limit)
	}
	return out, nil
}

func (s *Service) adminIssue(ctx context.Context, in *adminIssueInput) (*issuedOutput, error) {
	if principal.From(ctx).Superseded {
		return nil, errSuperseded()
	}
	sub, err := s.loadSubject(ctx, in.Body.IdentityRef)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeSubject(ctx, sub, errIdentityNotFound); err != nil {
		return nil, err
	}
	if err := s.checkOutranks(ctx, sub); err != nil {
		return nil, err
	}
	ttl := DefaultTokenTTL
	if in.Body.TTLSeconds > 0 {
		ttl = time.Duration(in.Body.TTLSeconds) * time.Second
	}
	if ttl > s.maxTTL {
		return nil, problem.New(http.StatusUnprocessableEntity, "ttl_exceeds_policy",
			"ttl_seconds exceeds the policy's maximum of "+s.maxTTL.String()+" for tokens issued by an admin.")
	}
	exp := s.now().Add(ttl).UTC().Truncate(time.Second)
	var out issuedOutput
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The token belongs to the subject, not to the admin's sign-in: it
		// has no parent (signing the admin out leaves it alone) and no
		// binding lineage (it carries no acr/amr, so it cannot pass step-up).
		id, plain, err := s.issue(ctx, tx, sub.id, in.Body.EnvPrefix, exp, lineage{})
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(sub.chain(), "api_token", id)
		out.Body = apiv1.IssuedToken{ID: id, Plaintext: plain, EnvPrefix: in.Body.EnvPrefix, ExpiresAt: &exp}
		if err := s.alsoAuditAdmin(ctx, tx, sub, id); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	out.Location, out.CacheControl = "/v1/admin/tokens/"+out.Body.ID, "no-store"
	return &out, nil
}

func (s *Service) adminRevoke(ctx context.Context, in *tokenIDInput) (*struct{}, error) {
	sub, err := s.tokenSubject(ctx, s.db, in.ID, false)
	if err != nil {
		return nil, problem.From(err)
	}
	if err := s.authorizeSubject(ctx, sub, errAdminTokenNotFound); err != nil {
		return nil, err
	}
	if err := s.checkOutranks(ctx, sub); err != nil {
		return nil, err
	}
	id := strings.ToLower(in.ID)
	audit.RequestFrom(ctx).Target(sub.chain(), "api_token", id)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
			id, store.Micros(s.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errAdminTokenNotFound()
		}
		if err := s.RevokeDerived(ctx, tx, id); err != nil {
			return err
		}
		if err := s.alsoAuditAdmin(ctx, tx, sub, id); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(err)
}

func (s *Service) adminRotate(ctx context.Context, in *tokenIDInput) (*issuedOutput, error) {
	if principal.From(ctx).Superseded {
		return nil, errSuperseded()
	}
	sub, err := s.tokenSubject(ctx, s.db, in.ID, false)
	if err != nil {
		return nil, problem.From(err)
	}
	if err := s.authorizeSubject(ctx, sub, errAdminTokenNotFound); err != nil {
		return nil, err
	}
	if err := s.checkOutranks(ctx, sub); err != nil {
		return nil, err
	}
	id := strings.ToLower(in.ID)
	audit.RequestFrom(ctx).Target(sub.chain(), "api_token", id)
	var out issuedOutput
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var (
			env     string
			expires *int64
		)
		err := tx.QueryRowContext(ctx, `SELECT env_prefix, expires_at FROM api_tokens WHERE id = $1 AND identity_id = $2
			AND revoked_at IS NULL`+s.db.ForUpdate(), id, sub.id).Scan(&env, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return errAdminTokenNotFound()
		} else if err != nil {
			return err
		}
		plain, hash := newTokenSecret(env)
		now := s.now()
		deadline := now.Add(RotationGrace).UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET prev_hash = secret_hash, prev_not_after = $2,
			secret_hash = $3, rotated_at = $4 WHERE id = $1`, id, store.Micros(deadline), hash, store.Micros(now)); err != nil {
			return err
		}
		out.Body = apiv1.IssuedToken{ID: id, Plaintext: plain, EnvPrefix: env, RotationDeadline: &deadline}
		out.Body.ExpiresAt, out.Body.NeverExpires = apiv1.Expiry(store.NullTime(expires))
		out.Sunset = deadline.Format(http.TimeFormat)
		if err := s.alsoAuditAdmin(ctx, tx, sub, id); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	out.CacheControl = "no-store"
	return &out, nil
}
