package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/session"
	"github.com/plexsphere/plexsphere/internal/store"
)

// FlowCookieName binds an in-flight sign-in to the browser that started it
// (login-CSRF protection): HttpOnly, SameSite=Lax so that the IdP's redirect
// back carries it, scoped to the callback path.
const FlowCookieName = "plexsphere_auth_flow"

const callbackPath = "/v1/auth/callback"

type requestInfo struct {
	session.Transport
	host string
}

// Resolve implements huma.Resolver.
func (r *requestInfo) Resolve(ctx huma.Context) []error {
	r.Transport.Resolve(ctx)
	r.host = ctx.Host()
	return nil
}

type signInInput struct {
	requestInfo
	Body apiv1.SignIn
}

type signInOutput struct {
	CacheControl string        `header:"Cache-Control"`
	SetCookie    []http.Cookie `header:"Set-Cookie"`
	Body         apiv1.SignInStarted
}

func (s *Service) registerSignIn(api huma.API) {
	huma.Register(api, route.Op(http.MethodPost, "/v1/auth/sign-in", "signIn", "auth.sign_in_start", route.Public,
		"Start an OIDC sign-in (authorization code + PKCE)", "Auth"), s.signIn)
	op := route.Op(http.MethodGet, callbackPath, "authCallback", "auth.sign_in", route.Public,
		"OIDC redirect target: verify, provision the user, set the session cookie", "Auth")
	op.Responses = map[string]*huma.Response{"303": {Description: "Signed in (or, for a browser, an error redirect)."}}
	huma.Register(api, op, s.callback)
}

func random(n int) string {
	raw := make([]byte, n)
	rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// redirectURI is the callback URL registered at the IdP.
func (s *Service) redirectURI(r requestInfo) string {
	if s.publicURL != "" {
		return s.publicURL + callbackPath
	}
	scheme := "http"
	if s.sessions.Secure(r.TLS, r.ForwardedProto) {
		scheme = "https"
	}
	return scheme + "://" + r.host + callbackPath
}

// resolveBinding picks the binding of a sign-in (api.md §3.2): explicit id →
// alias → the Domain's primary → its single active binding; a Domain without
// bindings uses the platform-scoped ones.
func (s *Service) resolveBinding(ctx context.Context, in apiv1.SignIn) (*Binding, error) {
	if in.IdPBindingID != "" {
		id, err := pathid.Parse("idp_binding", in.IdPBindingID)
		if err != nil {
			return nil, err
		}
		b, err := s.binding(ctx, s.db, id)
		if errors.Is(err, errBindingNotFound) || (err == nil && (b.Status != "active" ||
			(in.DomainID != "" && b.DomainID != "" && b.DomainID != in.DomainID))) {
			return nil, problem.NotFound("binding_not_found", "No such active IdP binding.")
		}
		return b, err
	}
	scopes := []string{""}
	if in.DomainID != "" {
		id, err := pathid.Parse("domain", in.DomainID)
		if err != nil {
			return nil, err
		}
		// An unknown Domain gets the same answer as a Domain nobody can
		// sign in to: this public operation is no existence oracle.
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, problem.NotFound("binding_not_found", "No IdP binding serves this sign-in.")
		}
		scopes = []string{id, ""}
	}
	for _, scope := range scopes {
		bs, err := s.activeBindings(ctx, scope)
		if err != nil {
			return nil, err
		}
		if len(bs) == 0 {
			continue
		}
		var primary *Binding
		for _, b := range bs {
			if in.IdPBindingAlias != "" && b.Alias == in.IdPBindingAlias {
				return b, nil
			}
			if b.Primary {
				primary = b
			}
		}
		switch {
		case in.IdPBindingAlias != "":
			return nil, problem.NotFound("binding_not_found", "No active IdP binding has this alias.")
		case primary != nil:
			return primary, nil
		case len(bs) == 1:
			return bs[0], nil
		}
		return nil, problem.BadRequest("idp_binding_required", "Several IdP bindings are active and none is primary; choose one.")
	}
	return nil, problem.NotFound("binding_not_found", "No IdP binding serves this sign-in.")
}

// safeReturnTo keeps return_to a same-origin absolute path (no open
// redirect); anything else becomes "/". Browsers remove tab and newline
// anywhere in a URL, strip leading spaces and control characters, and read
// a backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would
// become the scheme-relative "//evil.example". Only printable ASCII passes
// (a browser sends its own paths percent-encoded), the value must parse as
// a URL without scheme, host or user info, and its path starts with exactly
// one slash.
func safeReturnTo(v string) string {
	if v == "" || len(v) > maxReturnTo {
		return "/"
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	if v[0] != '/' || strings.HasPrefix(v, "//") {
		return "/"
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return v
}

// maxReturnTo bounds return_to (the sign-in body allows as much).
const maxReturnTo = 1024

func (s *Service) signIn(ctx context.Context, in *signInInput) (*signInOutput, error) {
	b, err := s.resolveBinding(ctx, in.Body)
	if err != nil {
		return nil, problem.From(err)
	}
	audit.RequestFrom(ctx).Target(chainOf(b.DomainID), "idp_binding", b.ID)
	p, err := s.provider(ctx, b)
	if err != nil {
		return nil, problem.New(http.StatusBadGateway, "idp_unreachable", "The identity provider could not be reached.").WithCause(err)
	}
	domainID := b.DomainID
	if domainID == "" && in.Body.DomainID != "" {
		domainID = in.Body.DomainID
	}
	state, nonce, verifier := random(32), random(32), oauth2.GenerateVerifier()
	redirect := s.redirectURI(in.requestInfo)
	cfg := oauth2.Config{ClientID: b.ClientID, Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: b.Scopes}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)}
	if in.Body.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", in.Body.Prompt))
	}
	if len(in.Body.ACRValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(in.Body.ACRValues, " ")))
	}
	flowID := uuid.Must(uuid.NewV7()).String()
	now := s.now()
	var domain any
	if domainID != "" {
		domain = domainID
	}
	sealed := base64.StdEncoding.EncodeToString(s.keys.Seal("oidc-verifier/"+flowID, []byte(verifier)))
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Expired flows are dropped as new ones start.
		if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_flows WHERE expires_at < $1`, store.Micros(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oidc_flows (id, state_hash, idp_binding_id, domain_id, nonce, verifier_sealed,
			redirect_uri, return_to, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			flowID, hashState(state), b.ID, domain, nonce, sealed, redirect, safeReturnTo(in.Body.ReturnTo),
			store.Micros(now), store.Micros(now.Add(FlowTTL)))
		return err
	})
	if err != nil {
		return nil, problem.Internal(err)
	}
	flowCookie := http.Cookie{Name: FlowCookieName, Value: flowID, Path: callbackPath, MaxAge: int(FlowTTL.Seconds()),
		HttpOnly: true, Secure: s.sessions.Secure(in.TLS, in.ForwardedProto), SameSite: http.SameSiteLaxMode}
	return &signInOutput{
		CacheControl: "no-store",
		SetCookie:    []http.Cookie{flowCookie},
		Body: apiv1.SignInStarted{AuthorizationURL: cfg.AuthCodeURL(state, opts...), State: state,
			CodeVerifierHandle: flowID, Nonce: nonce},
	}, nil
}

type callbackInput struct {
	requestInfo
	Code             string `query:"code" maxLength:"4096"`
	State            string `query:"state" maxLength:"512"`
	Error            string `query:"error" maxLength:"256"`
	ErrorDescription string `query:"error_description" maxLength:"1024"`
	Flow             string `cookie:"plexsphere_auth_flow"`
	Accept           string `header:"Accept"`
}

type callbackOutput struct {
	Status       int
	Location     string        `header:"Location"`
	CacheControl string        `header:"Cache-Control"`
	SetCookie    []http.Cookie `header:"Set-Cookie"`
}

// wantsJSON reports whether the caller is a JSON client rather than a
// browser (api.md §2.2: errors depend on Accept). Browsers navigating to the
// callback ask for text/html; anything else gets a problem.
func wantsJSON(accept string) bool {
	return !strings.Contains(strings.ToLower(accept), "text/html")
}

func (s *Service) callback(ctx context.Context, in *callbackInput) (*callbackOutput, error) {
	var b *Binding
	out, err := s.completeSignIn(ctx, in, &b)
	if err == nil {
		return out, nil
	}
	var p *problem.Problem
	if !errors.As(err, &p) {
		p = problem.Internal(err)
	}
	s.auditFailure(ctx, b, p)
	clear := http.Cookie{Name: FlowCookieName, Value: "", Path: callbackPath, MaxAge: -1, HttpOnly: true,
		Secure: s.sessions.Secure(in.TLS, in.ForwardedProto), SameSite: http.SameSiteLaxMode}
	if p.Status < 500 && p.Cause() != nil {
		s.log.InfoContext(ctx, "sign-in refused", "code", p.Code, "correlation_id",
			audit.RequestFrom(ctx).CorrelationID, "error", p.Cause())
	}
	if wantsJSON(in.Accept) {
		return nil, p.WithHeader("Set-Cookie", clear.String())
	}
	if p.Status >= 500 {
		s.log.ErrorContext(ctx, "sign-in failed", "code", p.Code, "correlation_id",
			audit.RequestFrom(ctx).CorrelationID, "error", p.Cause())
	}
	q := url.Values{}
	q.Set("auth_error_kind", p.Code)
	q.Set("auth_error_status", strconv.Itoa(p.Status))
	q.Set("auth_error_detail", p.Detail)
	return &callbackOutput{Status: http.StatusSeeOther, Location: "/?" + q.Encode(), CacheControl: "no-store",
		SetCookie: []http.Cookie{clear}}, nil
}

// auditFailure appends the failed sign-in to the chain the request targets
// (the platform chain until a binding is known), in its own transaction.
func (s *Service) auditFailure(ctx context.Context, b *Binding, p *problem.Problem) {
	ar := audit.RequestFrom(ctx)
	ar.SetCode(p.Code)
	e := audit.Entry{ChainID: audit.PlatformChain, Action: ar.Action, Outcome: audit.Failed, Reason: p.Code,
		IdentityRef: "anonymous", CorrelationID: ar.CorrelationID, IP: ar.IP, UserAgent: ar.UserAgent,
		ObjectType: "idp_binding"}
	if b != nil {
		e.ChainID, e.ObjectID = chainOf(b.DomainID), b.ID
	}
	// Anyone can fail a sign-in at will: aggregated (issue 7 row 10).
	s.audit.Record(ctx, e, s.log)
}
