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
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/oauth"
	"github.com/plexsphere/plexsphere/internal/oidc"
	"github.com/plexsphere/plexsphere/internal/pathid"
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
		req = apiv1.ServiceTokenRequest{GrantType: f.Get("grant_type"), DomainID: f.Get("domain_id"), ClientID: f.Get("client_id"),
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

// resolve finds the one service identity a token request names (issue 7
// row 1): with domain_id, that Domain's identity with this IdP client_id;
// without, the identity whose id is client_id. A client_id alone never
// matches identities of several Domains, so a secret can only ever be
// offered to the IdP the named identity is bound to. ok is false when
// nothing (or, for rows older than the per-Domain uniqueness check, more
// than one identity) matches.
func (s *Service) resolve(ctx context.Context, req apiv1.ServiceTokenRequest) (c client, ok bool, err error) {
	if req.ClientID == "" {
		return c, false, nil
	}
	q := `SELECT id, domain_id, idp_binding_id, federation_kind, client_id, disabled_at IS NOT NULL
		FROM service_identities WHERE `
	var args []any
	if req.DomainID != "" {
		domainID, err := pathid.Parse("domain", req.DomainID)
		if err != nil {
			return c, false, err
		}
		q, args = q+`domain_id = $1 AND client_id = $2 LIMIT 2`, []any{domainID, req.ClientID}
	} else {
		id, err := uuid.Parse(req.ClientID)
		if err != nil || len(req.ClientID) != 36 {
			return c, false, problem.BadRequest("domain_id_required",
				"Name the service identity: send domain_id with the IdP client_id, or the service identity's id as client_id.")
		}
		q, args = q+`id = $1`, []any{id.String()}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return c, false, problem.Internal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := rows.Scan(&c.id, &c.domainID, &c.binding, &c.kind, &c.clientID, &c.disabled); err != nil {
			return client{}, false, problem.Internal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return client{}, false, problem.Internal(err)
	}
	if n != 1 {
		return client{}, false, nil
	}
	return c, true, nil
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
	c, found, err := s.resolve(ctx, req)
	if err != nil {
		return nil, err
	}
	if found {
		audit.RequestFrom(ctx).Target(c.domainID, "service_identity", c.id)
	}
	if kind == KindJWTBearer {
		return nil, jwtBearer(c, found)
	}
	if !found || c.disabled || req.ClientSecret == "" {
		return nil, invalidClient()
	}
	if err := s.verify(ctx, c, kind, req.ClientSecret); err != nil {
		return nil, err
	}
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

// verify lets the IdP the identity is bound to, and only that one, check
// the secret. An identity of the other federation kind is 403
// federation_kind_mismatch; a binding that is gone, inactive or of another
// Domain, or refused credentials, is 401 invalid_client.
func (s *Service) verify(ctx context.Context, c client, kind, secret string) error {
	if c.kind != kind {
		return problem.New(http.StatusForbidden, "federation_kind_mismatch",
			"This grant does not match the service identity's federation_kind.")
	}
	ref, err := s.bindings.LookupBinding(ctx, c.binding)
	var p *problem.Problem
	switch {
	case errors.As(err, &p) && p.Status == http.StatusNotFound:
		return invalidClient()
	case err != nil:
		return problem.Internal(err)
	case !ref.Active || (ref.DomainID != "" && ref.DomainID != c.domainID):
		return invalidClient()
	}
	err = s.bindings.VerifyClientCredentials(ctx, c.binding, c.clientID, secret)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oidc.ErrInvalidClient):
		return invalidClient()
	}
	return problem.New(http.StatusBadGateway, "idp_unreachable",
		"The identity provider could not verify the credentials.").WithCause(err)
}

// jwtBearer answers a jwt-bearer grant: 403 federation_kind_mismatch when
// the named identity is a client_credentials one, else 501 not_provisioned
// (the contract's code for this grant) until SPIFFE JWT-SVID verification is
// built.
func jwtBearer(c client, found bool) error {
	if found && c.kind != KindJWTBearer {
		return problem.New(http.StatusForbidden, "federation_kind_mismatch",
			"This grant does not match the service identity's federation_kind.")
	}
	return problem.New(http.StatusNotImplemented, "not_provisioned",
		"SPIFFE JWT-SVID service tokens (jwt-bearer) are not provisioned on this server yet.")
}
