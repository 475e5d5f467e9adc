package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// Cookie and header names of browser sessions (api.md §2.2).
const (
	sessionCookie = "plexsphere_session"
	csrfCookie    = "plexsphere_csrf"
	csrfHeader    = "X-Plexsphere-CSRF"
)

// SessionAuthenticator turns a session cookie value into a principal
// (errors as for Authenticator) and knows the CSRF token bound to it.
type SessionAuthenticator interface {
	AuthenticateSession(ctx context.Context, value string) (*principal.Principal, error)
	CSRFMatches(value, token string) bool
}

// StepUpChecker decides whether the caller of a sensitive operation
// authenticated strongly enough; it returns the 401 step_up_required
// problem when not.
type StepUpChecker interface {
	RequireStepUp(ctx context.Context, p *principal.Principal) error
}

// credential authenticates an operator request: a bearer token, else the
// session cookie (a psk_ API token in the cookie is accepted too). Cookie
// mutations must pass the CSRF checks. The principal is recorded on the
// audit state before CSRF is judged, so refusals name the caller.
func (s *Server) credential(ctx huma.Context) (*principal.Principal, *problem.Problem) {
	if h := ctx.Header("Authorization"); h != "" {
		token, ok := bearer(h)
		if !ok {
			return nil, problem.Unauthenticated()
		}
		return s.authenticated(ctx, func(c context.Context) (*principal.Principal, error) {
			return s.cfg.Authenticator.AuthenticateBearer(c, token)
		})
	}
	value := cookie(ctx, sessionCookie)
	if value == "" || len(value) > 512 {
		return nil, problem.Unauthenticated()
	}
	auth := func(c context.Context) (*principal.Principal, error) {
		if strings.HasPrefix(value, "psk_") {
			return s.cfg.Authenticator.AuthenticateBearer(c, value)
		}
		if s.cfg.Sessions == nil {
			return nil, principal.ErrBadCredential
		}
		return s.cfg.Sessions.AuthenticateSession(c, value)
	}
	p, perr := s.authenticated(ctx, auth)
	if perr != nil {
		return nil, perr
	}
	if m := ctx.Operation().Method; m != http.MethodGet && m != http.MethodHead {
		if perr := s.checkCSRF(ctx, value); perr != nil {
			return nil, perr
		}
	}
	return p, nil
}

func (s *Server) authenticated(ctx huma.Context, auth func(context.Context) (*principal.Principal, error)) (*principal.Principal, *problem.Problem) {
	p, err := auth(ctx.Context())
	switch {
	case errors.Is(err, principal.ErrBadCredential):
		return nil, problem.Unauthenticated()
	case err != nil:
		return nil, problem.Unavailable("datastore_unavailable", err)
	}
	audit.RequestFrom(ctx.Context()).SetPrincipal(p)
	return p, nil
}

// checkCSRF is the double-submit check of api.md §2.2.1: the Origin is
// allow-listed (or Sec-Fetch-Site says same-origin), and the header equals
// the plexsphere_csrf cookie, which for a session must also be the token
// bound to that session.
func (s *Server) checkCSRF(ctx huma.Context, value string) *problem.Problem {
	if len(s.cfg.AllowedOrigins) == 0 {
		return problem.New(http.StatusForbidden, "csrf_origin_not_configured",
			"Cookie-authenticated changes are refused until allowed_origins is configured.")
	}
	origin := ctx.Header("Origin")
	if !slices.Contains(s.cfg.AllowedOrigins, origin) && ctx.Header("Sec-Fetch-Site") != "same-origin" {
		return problem.New(http.StatusForbidden, "csrf_origin_mismatch", "The request's Origin is not allowed.")
	}
	header, cookieToken := ctx.Header(csrfHeader), cookie(ctx, csrfCookie)
	ok := header != "" && subtle.ConstantTimeCompare([]byte(header), []byte(cookieToken)) == 1
	if ok && !strings.HasPrefix(value, "psk_") && s.cfg.Sessions != nil {
		ok = s.cfg.Sessions.CSRFMatches(value, header)
	}
	if !ok {
		return problem.New(http.StatusForbidden, "csrf_token_mismatch",
			"The "+csrfHeader+" header must equal the "+csrfCookie+" cookie.")
	}
	return nil
}

// cookie returns the named cookie's value from the request ("" if absent).
func cookie(ctx huma.Context, name string) string {
	var v string
	ctx.EachHeader(func(k, val string) {
		if v != "" || !strings.EqualFold(k, "Cookie") {
			return
		}
		cs, err := http.ParseCookie(val)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Name == name {
				v = c.Value
				return
			}
		}
	})
	return v
}

// problemOf passes problems through and hides other errors behind a 500.
func problemOf(err error) *problem.Problem {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	return problem.Internal(err)
}
