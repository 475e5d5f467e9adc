package devidp

import (
	"context"
	"errors"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// The client_credentials grant: a confidential client authenticates with its
// secret and gets an access token for itself (plexsphere uses it to verify a
// service identity's credentials).

var _ op.ClientCredentialsStorage = (*storage)(nil)

// ClientCredentials implements op.ClientCredentialsStorage: only confidential
// clients with the right secret pass.
func (s *storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, clientID, clientSecret); err != nil {
		return nil, err
	}
	return s.clients[clientID], nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage; the
// token's subject is the client itself.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	if _, ok := s.clients[clientID]; !ok {
		return nil, errors.New("devidp: unknown client")
	}
	return &clientTokenRequest{clientID: clientID, scopes: scopes}, nil
}

type clientTokenRequest struct {
	clientID string
	scopes   []string
}

func (r *clientTokenRequest) GetSubject() string    { return r.clientID }
func (r *clientTokenRequest) GetAudience() []string { return []string{r.clientID} }
func (r *clientTokenRequest) GetScopes() []string   { return r.scopes }
func (r *clientTokenRequest) GetClientID() string   { return r.clientID }
