package oidc

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/session"
	"github.com/plexsphere/plexsphere/internal/store"
)

// flow is a consumed sign-in.
type flow struct {
	id, bindingID, domainID, nonce, redirect, returnTo string
	verifierSealed                                     string
	expires                                            int64
}

func signInError(status int, code, detail string) *problem.Problem {
	return problem.New(status, code, detail)
}

// consumeFlow marks the flow of state used, exactly once.
func (s *Service) consumeFlow(ctx context.Context, state string) (*flow, error) {
	if state == "" {
		return nil, signInError(http.StatusBadRequest, "invalid_state", "The sign-in state is missing or unknown.")
	}
	var f flow
	err := s.db.QueryRowContext(ctx, `UPDATE oidc_flows SET consumed_at = $2 WHERE state_hash = $1 AND consumed_at IS NULL
		RETURNING id, idp_binding_id, COALESCE(domain_id, ''), nonce, verifier_sealed, redirect_uri, return_to, expires_at`,
		hashState(state), store.Micros(s.now())).
		Scan(&f.id, &f.bindingID, &f.domainID, &f.nonce, &f.verifierSealed, &f.redirect, &f.returnTo, &f.expires)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM oidc_flows WHERE state_hash = $1`, hashState(state)).Scan(&n); err == nil && n > 0 {
			return nil, signInError(http.StatusBadRequest, "state_replayed", "This sign-in was already completed or abandoned; start again.")
		}
		return nil, signInError(http.StatusBadRequest, "invalid_state", "The sign-in state is missing or unknown.")
	}
	if err != nil {
		return nil, err
	}
	if !s.now().Before(store.Time(f.expires)) {
		return nil, signInError(http.StatusBadRequest, "state_expired", "The sign-in took too long; start again.")
	}
	return &f, nil
}

// claims is what plexsphere reads from a verified ID token.
type claims struct {
	subject, email, name, acr string
	emailVerified             bool
	amr, groups               []string
}

func (s *Service) completeSignIn(ctx context.Context, in *callbackInput, bp **Binding) (*callbackOutput, error) {
	f, err := s.consumeFlow(ctx, in.State)
	if err != nil {
		return nil, err
	}
	b, err := s.binding(ctx, s.db, f.bindingID)
	if errors.Is(err, errBindingNotFound) {
		return nil, signInError(http.StatusBadRequest, "binding_not_found", "The IdP binding of this sign-in is gone.")
	} else if err != nil {
		return nil, err
	}
	*bp = b
	audit.RequestFrom(ctx).Target(chainOf(b.DomainID), "idp_binding", b.ID)
	if subtle.ConstantTimeCompare([]byte(in.Flow), []byte(f.id)) != 1 {
		return nil, signInError(http.StatusBadRequest, "flow_binding_mismatch", "This sign-in was started in another browser.")
	}
	if in.Error != "" {
		return nil, signInError(http.StatusBadRequest, "idp_error", "The identity provider refused the sign-in.")
	}
	if in.Code == "" {
		return nil, signInError(http.StatusBadRequest, "invalid_code", "The authorization code is missing.")
	}
	c, err := s.exchange(ctx, b, f, in.Code)
	if err != nil {
		return nil, err
	}
	var created session.Created
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		id, domainID, isNew, err := s.provision(ctx, tx, b, f, c)
		if err != nil {
			return err
		}
		if err := s.syncGroups(ctx, tx, b, id, domainID, c.groups); err != nil {
			return err
		}
		if isNew {
			if err := s.admit(ctx, tx, b, domainID, id, c); err != nil {
				return err
			}
		}
		created, err = s.sessions.Create(ctx, tx, session.New{IdentityID: id, IdPBindingID: b.ID, ACR: c.acr, AMR: c.amr})
		if err != nil {
			return err
		}
		ar := audit.RequestFrom(ctx)
		ar.SetPrincipal(&principal.Principal{IdentityID: id, Kind: principal.User, DomainID: domainID})
		ar.Target(chainOf(domainID), "identity", id)
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	if sy, ok := s.tuples.(TupleSyncer); ok {
		if err := sy.Sync(ctx); err != nil {
			s.log.WarnContext(ctx, "tuple index sync after sign-in failed", "error", err)
		}
	}
	secure := s.sessions.Secure(in.TLS, in.ForwardedProto)
	cookies := append(s.sessions.Cookies(created, secure), http.Cookie{Name: FlowCookieName, Value: "", Path: callbackPath,
		MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	return &callbackOutput{Status: http.StatusSeeOther, Location: safeReturnTo(f.returnTo), CacheControl: "no-store", SetCookie: cookies}, nil
}

// exchange redeems the code with the PKCE verifier and verifies the ID
// token: signature, issuer, audience, expiry (go-oidc) and nonce.
func (s *Service) exchange(ctx context.Context, b *Binding, f *flow, code string) (*claims, error) {
	sealed, err := base64.StdEncoding.DecodeString(f.verifierSealed)
	if err != nil {
		return nil, err
	}
	verifier, err := s.keys.Open("oidc-verifier/"+f.id, sealed)
	if err != nil {
		return nil, err
	}
	p, err := s.provider(ctx, b)
	if err != nil {
		return nil, problem.New(http.StatusBadGateway, "idp_unreachable", "The identity provider could not be reached.").WithCause(err)
	}
	secret, err := s.clientSecret(b)
	if err != nil {
		return nil, err
	}
	cfg := oauth2.Config{ClientID: b.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: f.redirect, Scopes: b.Scopes}
	octx := context.WithValue(ctx, oauth2.HTTPClient, s.http)
	tok, err := cfg.Exchange(octx, code, oauth2.VerifierOption(string(verifier)))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, signInError(http.StatusBadRequest, "invalid_grant",
				"The identity provider rejected the authorization code (expired, replayed, or the PKCE verifier does not match).").WithCause(err)
		}
		return nil, problem.New(http.StatusBadGateway, "idp_exchange_failed", "The identity provider's token endpoint failed.").WithCause(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, problem.New(http.StatusBadGateway, "id_token_missing", "The identity provider returned no ID token.")
	}
	idt, err := p.VerifierContext(gooidc.ClientContext(ctx, s.http), &gooidc.Config{ClientID: b.ClientID, Now: s.now}).Verify(ctx, raw)
	var expired *gooidc.TokenExpiredError
	if errors.As(err, &expired) {
		return nil, signInError(http.StatusBadRequest, "id_token_expired", "The ID token has expired.").WithCause(err)
	}
	if err != nil {
		return nil, signInError(http.StatusBadRequest, "id_token_invalid",
			"The ID token failed verification (signature, issuer, audience or expiry).").WithCause(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return nil, signInError(http.StatusBadRequest, "nonce_mismatch", "The ID token does not answer this sign-in (nonce mismatch).")
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, signInError(http.StatusBadRequest, "id_token_invalid", "The ID token's claims could not be read.").WithCause(err)
	}
	c := &claims{subject: idt.Subject, email: str(all[b.claim("email")]), name: str(all[b.claim("display_name")]),
		acr: str(all["acr"]), amr: strs(all["amr"]), groups: strs(all[b.claim("groups")]),
		emailVerified: verified(all["email_verified"])}
	if c.subject == "" {
		return nil, signInError(http.StatusBadRequest, "id_token_invalid", "The ID token has no subject.")
	}
	return c, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// strs reads a claim that is a string array (or a single string).
func strs(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// provision finds the identity (binding scope, issuer, subject), creating
// it (created) if new — admit then applies the binding's jit_policy — and
// stamps the sign-in. The
// scope is the binding's Domain ("" for a platform binding): a Domain's
// binding never resolves an identity created through another Domain's or
// the platform's bindings, even for the same issuer (issue 7 row 8), since
// whoever administers a binding controls which keys it trusts.
func (s *Service) provision(ctx context.Context, tx *sql.Tx, b *Binding, f *flow, c *claims) (id, domainID string, created bool, err error) {
	now := store.Micros(s.now())
	err = tx.QueryRowContext(ctx, `SELECT id, COALESCE(domain_id, '') FROM identities
		WHERE idp_scope = $1 AND idp_issuer = $2 AND idp_subject = $3`+s.db.ForUpdate(),
		b.DomainID, b.Issuer, c.subject).Scan(&id, &domainID)
	switch {
	case err == nil:
		if domainID != f.domainID {
			return "", "", false, signInError(http.StatusBadRequest, "identity_domain_mismatch", "This identity belongs to another Domain.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE identities SET email = $2, display_name = $3, last_sign_in_at = $4, updated_at = $4
			WHERE id = $1`, id, c.email, displayName(c), now)
		return id, domainID, false, err
	case !errors.Is(err, sql.ErrNoRows):
		return "", "", false, err
	}
	id = uuid.Must(uuid.NewV7()).String()
	var domain any
	if f.domainID != "" {
		domain = f.domainID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO identities (id, kind, domain_id, display_name, idp_scope, idp_issuer,
		idp_subject, email, created_at, updated_at, last_sign_in_at) VALUES ($1, 'user', $2, $3, $4, $5, $6, $7, $8, $8, $8)`,
		id, domain, displayName(c), b.DomainID, b.Issuer, c.subject, c.email, now)
	if store.IsUniqueViolation(err) {
		return "", "", false, problem.Conflict("identity_conflict", "This identity signed in concurrently; try again.")
	}
	return id, f.domainID, err == nil, err
}

func displayName(c *claims) string {
	switch {
	case c.name != "":
		return c.name
	case c.email != "":
		return c.email
	}
	return c.subject
}
