package identity

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type tokenIDInput struct {
	ID string `path:"id" doc:"Token id."`
}

type listTokensInput struct{ page.ArrayParams }

type issueTokenInput struct{ Body apiv1.IssueToken }

type issuedOutput struct {
	Location     string `header:"Location"`
	CacheControl string `header:"Cache-Control"`
	Sunset       string `header:"Sunset"`
	Body         apiv1.IssuedToken
}

// tokensOutput is a bare JSON array, as in the contract; the next page is
// named by headers.
type tokensOutput struct {
	page.ArrayHeaders
	Body []apiv1.APIToken `nullable:"false"`
}

type whoamiOutput struct{ Body apiv1.Whoami }

// Register adds the token and whoami operations.
func (s *Service) Register(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/auth/whoami", "whoami", "auth.whoami", route.Operator,
		"Describe the caller", "Auth"), s.whoami)
	huma.Register(api, route.Op(http.MethodGet, "/v1/auth/tokens", "listTokens", "token.list", route.Operator,
		"List the caller's API tokens (metadata only)", "Auth"), s.listTokens)
	// Issuing and rotating a token mint a long-lived credential: sensitive,
	// so a browser session must meet its binding's step-up requirements.
	op := route.Sensitive(route.Op(http.MethodPost, "/v1/auth/tokens", "issueToken", "token.issue", route.Operator,
		"Issue an API token for the caller; the plaintext is returned once", "Auth"))
	op.DefaultStatus = http.StatusCreated
	op.Extensions = map[string]any{"x-plexsphere-once": true}
	huma.Register(api, op, s.issueToken)
	op = route.Op(http.MethodDelete, "/v1/auth/tokens/{id}", "revokeToken", "token.revoke", route.Operator,
		"Revoke one of the caller's tokens, effective immediately", "Auth")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.revokeToken)
	op = route.Sensitive(route.Op(http.MethodPost, "/v1/auth/tokens/{id}/rotate", "rotateToken", "token.rotate", route.Operator,
		"Replace a token's plaintext; the old one works until rotation_deadline", "Auth"))
	op.Extensions = map[string]any{"x-plexsphere-once": true}
	huma.Register(api, op, s.rotateToken)
	if s.authz != nil {
		s.registerAdmin(api)
	}
}

func (s *Service) whoami(ctx context.Context, _ *struct{}) (*whoamiOutput, error) {
	p := principal.From(ctx)
	amr := p.AMR
	if amr == nil {
		amr = []string{}
	}
	var email string
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(email, '') FROM identities WHERE id = $1`, p.IdentityID).Scan(&email); err != nil {
		return nil, problem.Internal(err)
	}
	return &whoamiOutput{Body: apiv1.Whoami{
		PrincipalType: principalType(p.Kind), Subject: p.Ref(), DomainID: p.DomainID, Email: email, ACR: p.ACR, AMR: amr,
	}}, nil
}

// principalType is the contract's spelling of an identity kind on whoami:
// "service" for a service identity (our internal kind is service_identity).
func principalType(k principal.Kind) string {
	if k == principal.ServiceIdentity {
		return "service"
	}
	return string(k)
}

// namesCaller reports whether an identity_ref names the caller, in our
// spelling (service_identity:<id>) or the contract's (service:<id>).
func namesCaller(ref string, p *principal.Principal) bool {
	return ref == p.Ref() || ref == principalType(p.Kind)+":"+p.IdentityID
}

func (s *Service) chain(p *principal.Principal) string {
	if p.DomainID != "" {
		return p.DomainID
	}
	return audit.PlatformChain
}

func (s *Service) listTokens(ctx context.Context, in *listTokensInput) (*tokensOutput, error) {
	toks, next, limit, err := s.tokenPage(ctx, principal.From(ctx).IdentityID, "tokens.list", in.Params())
	if err != nil {
		return nil, err
	}
	out := &tokensOutput{Body: toks}
	if next != "" {
		out.SetNext("/v1/auth/tokens", nil, next, limit)
	}
	return out, nil
}

// tokenPage reads one page of an identity's live tokens in id order, with
// the cursor of the next page ("" after the last), bound to scope.
func (s *Service) tokenPage(ctx context.Context, identityID, scope string, params page.Params) ([]apiv1.APIToken, string, int, error) {
	var after string
	limit, err := s.pages.Start(ctx, params, scope, &after)
	if err != nil {
		return nil, "", 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, env_prefix, display_prefix, created_at, expires_at, last_used_at, rotated_at
		FROM api_tokens WHERE identity_id = $1 AND revoked_at IS NULL AND id > $2 ORDER BY id LIMIT $3`,
		identityID, after, limit+1)
	if err != nil {
		return nil, "", 0, problem.Internal(err)
	}
	defer rows.Close()
	toks := []apiv1.APIToken{}
	for rows.Next() {
		var (
			t                    apiv1.APIToken
			created              int64
			expires, used, rotat *int64
		)
		if err := rows.Scan(&t.ID, &t.EnvPrefix, &t.Prefix, &created, &expires, &used, &rotat); err != nil {
			return nil, "", 0, problem.Internal(err)
		}
		t.CreatedAt, t.LastUsedAt, t.RotatedAt = store.Time(created), store.NullTime(used), store.NullTime(rotat)
		t.ExpiresAt, t.NeverExpires = apiv1.Expiry(store.NullTime(expires))
		toks = append(toks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", 0, problem.Internal(err)
	}
	if len(toks) <= limit {
		return toks, "", limit, nil
	}
	toks = toks[:limit]
	next, err := s.pages.Next(ctx, scope, toks[limit-1].ID)
	return toks, next, limit, err
}

func (s *Service) issueToken(ctx context.Context, in *issueTokenInput) (*issuedOutput, error) {
	p := principal.From(ctx)
	audit.RequestFrom(ctx).Target(s.chain(p), "api_token", "")
	if ref := in.Body.IdentityRef; ref != "" && !namesCaller(ref, p) {
		return nil, problem.New(http.StatusForbidden, "permission_denied", "Tokens can only be issued to the caller.")
	}
	if p.Superseded {
		return nil, errSuperseded()
	}
	ttl := DefaultTokenTTL
	if in.Body.TTLSeconds > 0 {
		ttl = time.Duration(in.Body.TTLSeconds) * time.Second
	}
	// A minted token never outlives the credential that minted it.
	exp := s.now().Add(ttl).UTC()
	if !p.ExpiresAt.IsZero() && exp.After(p.ExpiresAt) {
		exp = p.ExpiresAt.UTC()
	}
	var out issuedOutput
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		id, plain, err := s.issue(ctx, tx, p.IdentityID, in.Body.EnvPrefix, exp, lineageOf(p))
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(s.chain(p), "api_token", id)
		out.Body = apiv1.IssuedToken{ID: id, Plaintext: plain, EnvPrefix: in.Body.EnvPrefix, ExpiresAt: &exp}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.Internal(err)
	}
	out.Location, out.CacheControl = "/v1/auth/tokens/"+out.Body.ID, "no-store"
	return &out, nil
}

// ownToken locks the caller's live token id inside tx.
func (s *Service) ownToken(ctx context.Context, tx *sql.Tx, id string) (env string, expires *int64, err error) {
	p := principal.From(ctx)
	audit.RequestFrom(ctx).Target(s.chain(p), "api_token", id)
	err = tx.QueryRowContext(ctx, `SELECT env_prefix, expires_at FROM api_tokens
		WHERE id = $1 AND identity_id = $2 AND revoked_at IS NULL`+s.db.ForUpdate(), id, p.IdentityID).Scan(&env, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, problem.NotFound("token_not_found", "No such token of the caller.")
	}
	return env, expires, err
}

func (s *Service) revokeToken(ctx context.Context, in *tokenIDInput) (*struct{}, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, _, err := s.ownToken(ctx, tx, in.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1`,
			in.ID, store.Micros(s.now())); err != nil {
			return err
		}
		// The tokens it minted go with it.
		if err := s.RevokeDerived(ctx, tx, in.ID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(err)
}

// errSuperseded refuses a token's pre-rotation secret where a credential
// would be minted or rotated: only the current secret may do that.
func errSuperseded() *problem.Problem {
	return problem.New(http.StatusUnauthorized, "token_superseded",
		"This token was rotated; use its current secret to issue or rotate tokens.")
}

func (s *Service) rotateToken(ctx context.Context, in *tokenIDInput) (*issuedOutput, error) {
	if principal.From(ctx).Superseded {
		audit.RequestFrom(ctx).Target(s.chain(principal.From(ctx)), "api_token", in.ID)
		return nil, errSuperseded()
	}
	var out issuedOutput
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		env, expires, err := s.ownToken(ctx, tx, in.ID)
		if err != nil {
			return err
		}
		plain, hash := newTokenSecret(env)
		now := s.now()
		deadline := now.Add(RotationGrace).UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET prev_hash = secret_hash, prev_not_after = $2,
			secret_hash = $3, rotated_at = $4 WHERE id = $1`, in.ID, store.Micros(deadline), hash, store.Micros(now)); err != nil {
			return err
		}
		out.Body = apiv1.IssuedToken{ID: in.ID, Plaintext: plain, EnvPrefix: env, RotationDeadline: &deadline}
		out.Body.ExpiresAt, out.Body.NeverExpires = apiv1.Expiry(store.NullTime(expires))
		out.Sunset = deadline.Format(http.TimeFormat)
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	out.CacheControl = "no-store"
	return &out, nil
}
