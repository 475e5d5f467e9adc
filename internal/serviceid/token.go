package serviceid

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/oauth"
	"github.com/plexsphere/plexsphere/internal/oidc"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

type tokenInput struct {
	ContentType   string `header:"Content-Type"`
	Authorization string `header:"Authorization"`
	RawBody       []byte
}

type tokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         apiv1.AccessToken
}

func (s *Service) registerToken(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/auth/service/token", "serviceToken", "auth.service_token", route.Public,
		"Exchange a service identity's credentials for a short-lived bearer token", "Auth")
	schema := huma.SchemaFromType(api.OpenAPI().Components.Schemas, reflect.TypeOf(apiv1.ServiceTokenRequest{}))
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json":                  {Schema: schema},
		"application/x-www-form-urlencoded": {Schema: schema},
	}}
	// The body is JSON or a form; the handler parses either.
	op.SkipValidateBody = true
	op.Extensions = map[string]any{"x-plexsphere-once": true}
	huma.Register(api, op, s.token)
}

// parseTokenRequest reads a JSON or form body, then HTTP Basic client
// authentication (RFC 6749 §2.3.1) when the body names no client.
func parseTokenRequest(in *tokenInput) (apiv1.ServiceTokenRequest, error) {
	var req apiv1.ServiceTokenRequest
	mt, _, _ := mime.ParseMediaType(in.ContentType)
	switch mt {
	case "application/x-www-form-urlencoded":
		f, err := url.ParseQuery(string(in.RawBody))
		if err != nil {
			return req, problem.BadRequest("invalid_body", "The form body does not parse.")
		}
		req = apiv1.ServiceTokenRequest{GrantType: f.Get("grant_type"), ClientID: f.Get("client_id"),
			ClientSecret: f.Get("client_secret"), ClientAssertion: f.Get("client_assertion"),
			ClientAssertionType: f.Get("client_assertion_type"), Scope: f.Get("scope")}
	case "application/json", "":
		if err := json.Unmarshal(in.RawBody, &req); err != nil {
			return req, problem.BadRequest("invalid_body", "The JSON body does not parse.")
		}
	default:
		return req, problem.New(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send application/json or application/x-www-form-urlencoded.")
	}
	if req.ClientID == "" && in.Authorization != "" {
		r := http.Request{Header: http.Header{"Authorization": {in.Authorization}}}
		if id, secret, ok := r.BasicAuth(); ok {
			// Basic credentials are form-encoded first (RFC 6749 §2.3.1).
			uid, err1 := url.QueryUnescape(id)
			usecret, err2 := url.QueryUnescape(secret)
			if err1 != nil || err2 != nil {
				return req, invalidClient()
			}
			req.ClientID, req.ClientSecret = uid, usecret
		}
	}
	return req, nil
}

func invalidClient() *problem.Problem {
	return problem.New(http.StatusUnauthorized, "invalid_client", "The client credentials were refused.").
		WithHeader("WWW-Authenticate", `Basic realm="plexsphere"`)
}

// client is a service identity as the token endpoint sees it.
type client struct {
	id, domainID, binding, kind, clientID string
	disabled                              bool
}

// clients lists the service identities with this client id (one per IdP
// binding at most).
func (s *Service) clients(ctx context.Context, clientID string) ([]client, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, domain_id, idp_binding_id, federation_kind, client_id,
		disabled_at IS NOT NULL FROM service_identities WHERE client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []client
	for rows.Next() {
		var c client
		if err := rows.Scan(&c.id, &c.domainID, &c.binding, &c.kind, &c.clientID, &c.disabled); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Service) token(ctx context.Context, in *tokenInput) (*tokenOutput, error) {
	req, err := parseTokenRequest(in)
	if err != nil {
		return nil, err
	}
	var kind string
	switch req.GrantType {
	case apiv1.GrantClientCredentials:
		kind = KindClientCredentials
	case apiv1.GrantJWTBearer:
		kind = KindJWTBearer
	default:
		return nil, problem.BadRequest("unsupported_grant_type", "grant_type must be client_credentials or jwt-bearer.")
	}
	cs, err := s.clients(ctx, req.ClientID)
	if err != nil {
		return nil, problem.Internal(err)
	}
	if kind == KindJWTBearer {
		return nil, jwtBearer(cs)
	}
	if req.ClientID == "" || req.ClientSecret == "" {
		return nil, invalidClient()
	}
	c, err := s.verify(ctx, cs, kind, req.ClientSecret)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(c.domainID, "service_identity", c.id)
	var out tokenOutput
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		iss, err := s.tokens.IssueService(ctx, tx, c.id, c.binding, c.clientID)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).SetPrincipal(&principal.Principal{IdentityID: c.id, Kind: principal.ServiceIdentity,
			DomainID: c.domainID, Credential: oauth.CredentialService, CredentialID: iss.FamilyID})
		out.Body = apiv1.AccessToken{AccessToken: iss.AccessToken, TokenType: "Bearer", ExpiresIn: int(iss.ExpiresIn / time.Second)}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.Internal(err)
	}
	out.CacheControl = "no-store"
	return &out, nil
}

// verify picks the service identity the IdP vouches for. An identity of
// the other federation kind is 403 federation_kind_mismatch; an unknown or
// disabled one, or refused credentials, is 401 invalid_client.
func (s *Service) verify(ctx context.Context, cs []client, kind, secret string) (client, error) {
	mismatch := false
	for _, c := range cs {
		switch {
		case c.disabled:
			continue
		case c.kind != kind:
			mismatch = true
			continue
		}
		err := s.bindings.VerifyClientCredentials(ctx, c.binding, c.clientID, secret)
		switch {
		case err == nil:
			return c, nil
		case errors.Is(err, oidc.ErrInvalidClient):
			continue
		}
		audit.RequestFrom(ctx).Target(c.domainID, "service_identity", c.id)
		return client{}, problem.New(http.StatusBadGateway, "idp_unreachable",
			"The identity provider could not verify the credentials.").WithCause(err)
	}
	if mismatch {
		return client{}, problem.New(http.StatusForbidden, "federation_kind_mismatch",
			"This grant does not match the service identity's federation_kind.")
	}
	return client{}, invalidClient()
}

// jwtBearer answers a jwt-bearer grant: 403 federation_kind_mismatch when
// the named client is a client_credentials identity only, else 501 until
// SPIFFE JWT-SVID verification is built.
func jwtBearer(cs []client) error {
	mismatch := len(cs) > 0
	for _, c := range cs {
		if c.kind == KindJWTBearer {
			mismatch = false
		}
	}
	if mismatch {
		return problem.New(http.StatusForbidden, "federation_kind_mismatch",
			"This grant does not match the service identity's federation_kind.")
	}
	return problem.NotProvisioned("spiffe")
}
