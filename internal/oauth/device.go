package oauth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// DefaultClientID names the device client when the request names none.
const DefaultClientID = "plexctl"

// verificationPath is the page (on this server) where a signed-in user
// enters the user code.
const verificationPath = "/device"

// Device authorization states.
const (
	statePending  = "pending"
	stateApproved = "approved"
	stateDenied   = "denied"
	stateConsumed = "consumed"
)

// origin is the scheme and host a request reached us at.
type origin struct {
	TLS            bool   `json:"-"`
	ForwardedProto string `json:"-"`
	Host           string `json:"-"`
}

// Resolve implements huma.Resolver.
func (o *origin) Resolve(ctx huma.Context) []error {
	o.TLS, o.ForwardedProto, o.Host = ctx.TLS() != nil, ctx.Header("X-Forwarded-Proto"), ctx.Host()
	return nil
}

type deviceCodeInput struct {
	origin
	Body apiv1.DeviceCodeRequest
}

type deviceCodeOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         apiv1.DeviceCode
}

type deviceTokenInput struct{ Body apiv1.DeviceTokenRequest }

type tokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         apiv1.AccessToken
}

type approveInput struct{ Body apiv1.DeviceApprove }

type approveOutput struct{ Body apiv1.DeviceApproved }

type revokeInput struct{ Body apiv1.RevokeToken }

// Register adds the device flow and token revocation.
func (s *Service) Register(api huma.API) {
	huma.Register(api, route.Op(http.MethodPost, "/v1/auth/device-code", "deviceCode", "auth.device_code", route.Public,
		"Start an RFC 8628 device login", "Auth"), s.deviceCode)
	op := route.Op(http.MethodPost, "/v1/auth/device-token", "deviceToken", "auth.device_token", route.Public,
		"Poll for the device-flow token, or exchange a refresh token", "Auth")
	op.Extensions = map[string]any{"x-plexsphere-once": true}
	huma.Register(api, op, s.deviceToken)
	// Approval takes a browser session only (cookie + CSRF): the user
	// proves who they are by the sign-in against the bound IdP. It mints a
	// credential, so it is sensitive: the session must meet the binding's
	// step-up requirements (issue 7 row 3).
	op = route.Sensitive(route.Op(http.MethodPost, "/v1/auth/device/approve", "deviceApprove", "auth.device_approve", route.Operator,
		"A signed-in browser approves a device login's user code (step-up applies)", "Auth"))
	op.Security = []map[string][]string{{"sessionCookie": {}, "csrfToken": {}}}
	huma.Register(api, op, s.approve)
	op = route.Op(http.MethodPost, "/v1/auth/revoke", "revokeOAuthToken", "auth.token_revoke", route.Public,
		"Revoke a device-flow or service token (RFC 7009); always 200", "Auth")
	huma.Register(api, op, s.revoke)
}

// userCodeAlphabet is RFC 4648 base32: no 0/1/8/9, no lowercase.
const userCodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func newUserCode() string {
	raw := make([]byte, 8)
	rand.Read(raw)
	for i, b := range raw {
		raw[i] = userCodeAlphabet[int(b)%len(userCodeAlphabet)]
	}
	return string(raw)
}

// normalizeUserCode uppercases and drops dashes and spaces.
func normalizeUserCode(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(v))
}

func displayUserCode(c string) string { return c[:4] + "-" + c[4:] }

func (s *Service) base(o origin) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if o.TLS || (s.proxy && o.ForwardedProto == "https") {
		scheme = "https"
	}
	return scheme + "://" + o.Host
}

func (s *Service) deviceCode(ctx context.Context, in *deviceCodeInput) (*deviceCodeOutput, error) {
	// Without domain_id the platform-scoped bindings serve the login.
	if _, err := uuid.Parse(in.Body.DomainID); in.Body.DomainID != "" && err != nil {
		return nil, problem.BadRequest("invalid_domain_id", "domain_id must be a UUID.")
	}
	b, err := s.bindings.ResolveBinding(ctx, in.Body.DomainID, in.Body.IdPBindingID, in.Body.IdPBindingAlias)
	if err != nil {
		return nil, problem.From(err)
	}
	clientID := in.Body.ClientID
	if clientID == "" {
		clientID = DefaultClientID
	}
	id, deviceCode, userCode := uuid.Must(uuid.NewV7()).String(), newSecret("psdc_"), newUserCode()
	audit.RequestFrom(ctx).Target(chainOf(in.Body.DomainID), "device_authorization", id)
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Requests past their expiry are dropped as new ones start.
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_authorizations WHERE expires_at < $1`,
			store.Micros(now.Add(-time.Hour))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO device_authorizations (id, device_code_hash, user_code, domain_id,
			idp_binding_id, client_id, status, interval_seconds, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, id, hash(deviceCode), userCode, in.Body.DomainID, b.ID,
			clientID, statePending, int64(s.interval/time.Second), store.Micros(now), store.Micros(now.Add(s.deviceTTL)))
		if err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.Internal(err)
	}
	uri := s.base(in.origin) + verificationPath
	return &deviceCodeOutput{CacheControl: "no-store", Body: apiv1.DeviceCode{
		DeviceCode: deviceCode, UserCode: displayUserCode(userCode), VerificationURI: uri,
		VerificationURIComplete: uri + "?" + url.Values{"user_code": {displayUserCode(userCode)}, "idp_binding_id": {b.ID}}.Encode(),
		ExpiresIn:               int(s.deviceTTL / time.Second), Interval: int(s.interval / time.Second),
	}}, nil
}

// approve lets a signed-in browser session approve (or deny) a pending
// user code. The session must come from the binding the device login
// resolved, so the approver proved their identity against that IdP.
func (s *Service) approve(ctx context.Context, in *approveInput) (*approveOutput, error) {
	p := principal.From(ctx)
	if p.Credential != principal.CredentialSession {
		return nil, problem.Unauthenticated()
	}
	code := normalizeUserCode(in.Body.UserCode)
	var out approveOutput
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var (
			id, domainID, binding, status string
			expires                       int64
		)
		err := tx.QueryRowContext(ctx, `SELECT id, domain_id, idp_binding_id, status, expires_at FROM device_authorizations
			WHERE user_code = $1`+s.db.ForUpdate(), code).Scan(&id, &domainID, &binding, &status, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound("device_code_not_found", "No device login has this user code.")
		}
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(chainOf(domainID), "device_authorization", id)
		switch {
		case !s.now().Before(store.Time(expires)):
			return problem.Conflict("device_code_expired", "This user code has expired; start the login again.")
		case status != statePending:
			return problem.Conflict("device_code_already_approved", "This user code was already used.")
		case p.IdPBindingID != binding:
			return problem.New(http.StatusForbidden, "device_binding_mismatch",
				"Sign in through the identity provider this device login uses, then approve it.")
		}
		out.Body.Status, status = stateApproved, stateApproved
		if in.Body.Deny {
			out.Body.Status, status = stateDenied, stateDenied
		}
		// The device login carries the approving sign-in's strength, never
		// more (issue 7 row 3).
		amr := p.AMR
		if amr == nil {
			amr = []string{}
		}
		amrJSON, _ := json.Marshal(amr)
		var authTime *int64
		if !p.AuthTime.IsZero() {
			at := store.Micros(p.AuthTime)
			authTime = &at
		}
		if _, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET status = $2, identity_id = $3, approved_at = $4,
			acr = $5, amr = $6, auth_time = $7 WHERE id = $1`, id, status, p.IdentityID, store.Micros(s.now()),
			p.ACR, string(amrJSON), authTime); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &out, nil
}

func pollError(code, detail string) *problem.Problem {
	return problem.BadRequest(code, detail)
}

func (s *Service) deviceToken(ctx context.Context, in *deviceTokenInput) (*tokenOutput, error) {
	switch in.Body.GrantType {
	case "", apiv1.GrantDeviceCode:
	case apiv1.GrantRefreshToken:
		return s.refreshGrant(ctx, in.Body)
	default:
		return nil, problem.BadRequest("unsupported_grant_type", "grant_type must be the device_code grant or refresh_token.")
	}
	if in.Body.DeviceCode == "" {
		return nil, pollError("invalid_grant", "device_code is required.")
	}
	var (
		out *tokenOutput
		// answer is a poll refusal whose transaction still commits.
		answer *problem.Problem
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var (
			id, domainID, clientID, status string
			binding                        string
			identity                       *string
			interval, expires              int64
			polled                         *int64
			si                             signIn
		)
		err := tx.QueryRowContext(ctx, `SELECT id, domain_id, idp_binding_id, client_id, status, identity_id,
			interval_seconds, expires_at, last_polled_at, acr, amr, auth_time
			FROM device_authorizations WHERE device_code_hash = $1`+s.db.ForUpdate(),
			hash(in.Body.DeviceCode)).Scan(&id, &domainID, &binding, &clientID, &status, &identity, &interval, &expires, &polled,
			&si.acr, &si.amr, &si.authTime)
		if errors.Is(err, sql.ErrNoRows) {
			return pollError("invalid_grant", "Unknown device code.")
		}
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(chainOf(domainID), "device_authorization", id)
		now := s.now()
		switch {
		case in.Body.ClientID != "" && in.Body.ClientID != clientID:
			return pollError("invalid_grant", "The device code was issued to another client.")
		case status == stateConsumed:
			return pollError("invalid_grant", "The device code was already redeemed.")
		case !now.Before(store.Time(expires)):
			return pollError("expired_token", "The device code has expired; start the login again.")
		case status == stateDenied:
			if _, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET status = $2, consumed_at = $3 WHERE id = $1`,
				id, stateConsumed, store.Micros(now)); err != nil {
				return err
			}
			answer = pollError("access_denied", "The login was refused.")
			return s.audit.Commit(ctx, tx)
		case status == statePending:
			answer, err = s.pending(ctx, tx, id, interval, polled, now)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET status = $2, consumed_at = $3 WHERE id = $1`,
			id, stateConsumed, store.Micros(now)); err != nil {
			return err
		}
		iss, err := s.issue(ctx, tx, *identity, binding, grantDevice, clientID, true, si)
		if err != nil {
			return err
		}
		// The audit entry names the user the login was approved for.
		audit.RequestFrom(ctx).SetPrincipal(&principal.Principal{IdentityID: *identity, Kind: principal.User,
			DomainID: domainID, Credential: CredentialDevice, CredentialID: iss.FamilyID})
		out = tokenAnswer(iss)
		return s.audit.Commit(ctx, tx)
	})
	switch {
	case err != nil:
		return nil, problem.From(err)
	case answer != nil:
		return nil, answer
	}
	return out, nil
}

// pending records a poll of a pending request: authorization_pending, or
// slow_down (and a longer interval) when it came too soon after the last.
func (s *Service) pending(ctx context.Context, tx *sql.Tx, id string, interval int64, polled *int64, now time.Time) (*problem.Problem, error) {
	code, detail := "authorization_pending", "The user has not approved the login yet."
	if polled != nil && now.Sub(store.Time(*polled)) < time.Duration(interval)*time.Second {
		code, detail = "slow_down", "Polling too fast; wait the interval (now longer) between polls."
		interval += int64(slowDownStep / time.Second)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET last_polled_at = $2, interval_seconds = $3
		WHERE id = $1`, id, store.Micros(now), interval); err != nil {
		return nil, err
	}
	return pollError(code, detail), nil
}

func tokenAnswer(iss Issued) *tokenOutput {
	return &tokenOutput{CacheControl: "no-store", Body: apiv1.AccessToken{AccessToken: iss.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(iss.ExpiresIn / time.Second), RefreshToken: iss.RefreshToken}}
}
