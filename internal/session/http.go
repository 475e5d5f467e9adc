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

// Cascade ends what sessions let their identity mint, in the transaction
// that ends the sessions (issue 7 row 15).
type Cascade struct {
	// Tokens revokes the API tokens minted by the given credentials, and
	// theirs in turn.
	Tokens interface {
		RevokeDerived(ctx context.Context, tx *sql.Tx, parentIDs ...string) error
	}
	// DeviceLogins ends every device login of an identity and what they
	// minted (global sign-out).
	DeviceLogins interface {
		RevokeDeviceLogins(ctx context.Context, tx *sql.Tx, identityID string) error
	}
}

// Register adds sign-out and global sign-out; c says what else ends with a
// session. Both of its fields are required.
func (s *Service) Register(api huma.API, c Cascade) {
	if c.Tokens == nil || c.DeviceLogins == nil {
		panic("session: Register needs Cascade.Tokens and Cascade.DeviceLogins")
	}
	h := &signOuts{Service: s, cascade: c}
	op := route.Op(http.MethodDelete, "/v1/auth/whoami", "signOut", "auth.sign_out", route.Public,
		"Sign out this cookie session; always 204, the cookie is cleared", "Auth")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, h.signOut)
	op = route.Op(http.MethodPost, "/v1/auth/sign-out/global", "signOutGlobal", "auth.sign_out_global", route.Operator,
		"End every browser session and device login of the caller, and the API tokens minted from them (session callers only)", "Auth")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, h.signOutGlobal)
}

// signOuts are the sign-out handlers: the service and what ends with it.
type signOuts struct {
	*Service
	cascade Cascade
}

func chainOf(domainID string) string {
	if domainID != "" {
		return domainID
	}
	return audit.PlatformChain
}

func (s *signOuts) signOut(ctx context.Context, in *signOutInput) (*cookiesOutput, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		id, identityID, domainID, err := s.revoke(ctx, tx, in.Session)
		if err != nil || identityID == "" {
			return err
		}
		if err := s.cascade.Tokens.RevokeDerived(ctx, tx, id); err != nil {
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

func (s *signOuts) signOutGlobal(ctx context.Context, in *globalInput) (*cookiesOutput, error) {
	p := principal.From(ctx)
	audit.RequestFrom(ctx).Target(chainOf(p.DomainID), "identity", p.IdentityID)
	if p.Credential != principal.CredentialSession {
		// Cross-credential guard (api.md §2.2): a token must not end its
		// owner's interactive sessions.
		return nil, problem.New(http.StatusForbidden, "session_required",
			"Only a signed-in browser session can end the caller's sessions.")
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Signing out everywhere ends the browser sessions, the device
		// logins, and every API token minted from either.
		ids, err := s.RevokeAll(ctx, tx, p.IdentityID)
		if err != nil {
			return err
		}
		if err := s.cascade.Tokens.RevokeDerived(ctx, tx, ids...); err != nil {
			return err
		}
		if err := s.cascade.DeviceLogins.RevokeDeviceLogins(ctx, tx, p.IdentityID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &cookiesOutput{SetCookie: ClearCookies(s.Secure(in.TLS, in.ForwardedProto))}, nil
}
