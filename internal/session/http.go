package session

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Transport is what cookie-setting handlers need to know about the request:
// whether it came over TLS. Embed it in an input struct.
type Transport struct {
	TLS            bool   `json:"-"`
	ForwardedProto string `json:"-"`
}

// Resolve implements huma.Resolver.
func (t *Transport) Resolve(ctx huma.Context) []error {
	t.TLS = ctx.TLS() != nil
	t.ForwardedProto = ctx.Header("X-Forwarded-Proto")
	return nil
}

type signOutInput struct {
	Transport
	Session string `cookie:"plexsphere_session" doc:"The session to end (optional)."`
}

type cookiesOutput struct {
	SetCookie []http.Cookie `header:"Set-Cookie"`
}

// Register adds sign-out and global sign-out.
func (s *Service) Register(api huma.API) {
	op := route.Op(http.MethodDelete, "/v1/auth/whoami", "signOut", "auth.sign_out", route.Public,
		"Sign out this cookie session; always 204, the cookie is cleared", "Auth")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.signOut)
	op = route.Op(http.MethodPost, "/v1/auth/sign-out/global", "signOutGlobal", "auth.sign_out_global", route.Operator,
		"End every browser session of the caller (session callers only)", "Auth")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.signOutGlobal)
}

func chainOf(domainID string) string {
	if domainID != "" {
		return domainID
	}
	return audit.PlatformChain
}

func (s *Service) signOut(ctx context.Context, in *signOutInput) (*cookiesOutput, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		identityID, domainID, err := s.revoke(ctx, tx, in.Session)
		if err != nil || identityID == "" {
			return err
		}
		ar := audit.RequestFrom(ctx)
		ar.SetPrincipal(&principal.Principal{IdentityID: identityID, Kind: principal.User, DomainID: domainID})
		ar.Target(chainOf(domainID), "identity", identityID)
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &cookiesOutput{SetCookie: ClearCookies(s.Secure(in.TLS, in.ForwardedProto))}, nil
}

type globalInput struct {
	Transport
}

func (s *Service) signOutGlobal(ctx context.Context, in *globalInput) (*cookiesOutput, error) {
	p := principal.From(ctx)
	audit.RequestFrom(ctx).Target(chainOf(p.DomainID), "identity", p.IdentityID)
	if p.Credential != principal.CredentialSession {
		// Cross-credential guard (api.md §2.2): a token must not end its
		// owner's interactive sessions.
		return nil, problem.New(http.StatusForbidden, "session_required",
			"Only a signed-in browser session can end the caller's sessions.")
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.RevokeAll(ctx, tx, p.IdentityID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &cookiesOutput{SetCookie: ClearCookies(s.Secure(in.TLS, in.ForwardedProto))}, nil
}
