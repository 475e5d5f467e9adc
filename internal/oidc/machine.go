package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// What the device flow and service identities need from IdP bindings.

// BindingRef is the part of a binding other contexts may see.
type BindingRef struct {
	ID string
	// DomainID is "" for a platform-scoped binding.
	DomainID string
	Active   bool
	// SpiffeBundleURL is the trust bundle of jwt_bearer identities ("" when
	// not configured).
	SpiffeBundleURL string
}

// ErrInvalidClient is returned by VerifyClientCredentials when the IdP
// refuses the client's credentials.
var ErrInvalidClient = errors.New("oidc: the identity provider refused the client credentials")

// ResolveBinding picks the binding of a device login exactly as for a
// browser sign-in (api.md §3.2): explicit id → alias → the Domain's primary
// → its single active binding, falling back to the platform's. Problems
// (404 binding_not_found, 400 idp_binding_required) pass through.
func (s *Service) ResolveBinding(ctx context.Context, domainID, bindingID, alias string) (BindingRef, error) {
	b, err := s.resolveBinding(ctx, apiv1.SignIn{DomainID: domainID, IdPBindingID: bindingID, IdPBindingAlias: alias})
	if err != nil {
		return BindingRef{}, err
	}
	return BindingRef{ID: b.ID, DomainID: b.DomainID, Active: b.Status == "active"}, nil
}

// LookupBinding reads one binding; a missing one is a 404 binding_not_found
// problem.
func (s *Service) LookupBinding(ctx context.Context, id string) (BindingRef, error) {
	b, err := s.binding(ctx, s.db, id)
	if errors.Is(err, errBindingNotFound) {
		return BindingRef{}, problem.NotFound("binding_not_found", "No such IdP binding.")
	}
	if err != nil {
		return BindingRef{}, err
	}
	return BindingRef{ID: b.ID, DomainID: b.DomainID, Active: b.Status == "active", SpiffeBundleURL: b.SpiffeBundleURL}, nil
}

// VerifyClientCredentials asks the binding's IdP to run a client_credentials
// grant for clientID/secret at its token endpoint; plexsphere keeps no
// secret of a service identity. The IdP's token is discarded. It returns
// ErrInvalidClient when the IdP refuses the credentials, and another error
// when the IdP cannot be reached or answers unexpectedly.
func (s *Service) VerifyClientCredentials(ctx context.Context, bindingID, clientID, secret string) error {
	b, err := s.binding(ctx, s.db, bindingID)
	if err != nil {
		return fmt.Errorf("oidc: client credentials: %w", err)
	}
	p, err := s.provider(ctx, b)
	if err != nil {
		return err
	}
	cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: p.Endpoint().TokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
	_, err = cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, s.http))
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.Response != nil && (re.Response.StatusCode == http.StatusBadRequest ||
		re.Response.StatusCode == http.StatusUnauthorized || re.Response.StatusCode == http.StatusForbidden):
		return ErrInvalidClient
	}
	return fmt.Errorf("oidc: client credentials: %w", err)
}
