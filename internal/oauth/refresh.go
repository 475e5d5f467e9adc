package oauth

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// refreshGrant rotates a device-flow token family: a new access token and a
// new refresh token replace the old ones. Presenting a refresh token that
// was already rotated away revokes the whole family (RFC 9700 §4.14.2).
func (s *Service) refreshGrant(ctx context.Context, in apiv1.DeviceTokenRequest) (*tokenOutput, error) {
	if !strings.HasPrefix(in.RefreshToken, RefreshPrefix) {
		return nil, pollError("invalid_grant", "refresh_token is missing or not one of ours.")
	}
	h := hash(in.RefreshToken)
	var (
		out    *tokenOutput
		answer *problem.Problem
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var (
			id, identityID, clientID, current, domainID, kind string
			expires, revoked                                  *int64
		)
		err := tx.QueryRowContext(ctx, `SELECT t.id, t.identity_id, t.client_id, COALESCE(t.refresh_hash, ''),
				t.refresh_expires_at, t.revoked_at, COALESCE(i.domain_id, ''), i.kind
			FROM oauth_tokens t JOIN identities i ON i.id = t.identity_id
			JOIN idp_bindings b ON b.id = t.idp_binding_id AND b.status = 'active'
			WHERE t.refresh_hash = $1 OR t.prev_refresh_hash = $1`+s.db.ForUpdate(), h).
			Scan(&id, &identityID, &clientID, &current, &expires, &revoked, &domainID, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			answer = pollError("invalid_grant", "Unknown refresh token.")
			return nil
		}
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(chainOf(domainID), "oauth_token", id)
		audit.RequestFrom(ctx).SetPrincipal(&principal.Principal{IdentityID: identityID, Kind: principal.Kind(kind),
			DomainID: domainID, Credential: CredentialDevice, CredentialID: id})
		now := s.now()
		switch {
		case in.ClientID != "" && in.ClientID != clientID:
			answer = pollError("invalid_grant", "The refresh token was issued to another client.")
			return nil
		case revoked != nil || expires == nil || !now.Before(store.Time(*expires)):
			answer = pollError("invalid_grant", "The refresh token is expired or revoked; log in again.")
			return nil
		case current != h:
			// Reuse of a rotated refresh token: someone holds a copy.
			answer = pollError("invalid_grant", "The refresh token was already used; the login is revoked.")
			if err := s.revokeFamily(ctx, tx, id); err != nil {
				return err
			}
			return s.audit.Commit(ctx, tx)
		}
		access, refresh := newSecret(AccessPrefix), newSecret(RefreshPrefix)
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_tokens SET access_hash = $2, access_expires_at = $3,
			prev_refresh_hash = refresh_hash, refresh_hash = $4, refresh_expires_at = $5, refreshed_at = $6 WHERE id = $1`,
			id, hash(access), store.Micros(now.Add(s.accessTTL)), hash(refresh), store.Micros(now.Add(s.refresh)),
			store.Micros(now)); err != nil {
			return err
		}
		out = tokenAnswer(Issued{FamilyID: id, AccessToken: access, RefreshToken: refresh, ExpiresIn: s.accessTTL})
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

// revoke is RFC 7009: the access or refresh token's whole family is
// revoked, with the API tokens it minted; unknown tokens get the same 200,
// so the answer reveals nothing.
func (s *Service) revoke(ctx context.Context, in *revokeInput) (*struct{}, error) {
	h := hash(in.Body.Token)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id, domainID string
		err := tx.QueryRowContext(ctx, `SELECT t.id, COALESCE(i.domain_id, '') FROM oauth_tokens t
			JOIN identities i ON i.id = t.identity_id
			WHERE (t.access_hash = $1 OR t.refresh_hash = $1) AND t.revoked_at IS NULL`, h).Scan(&id, &domainID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(chainOf(domainID), "oauth_token", id)
		if err := s.revokeFamily(ctx, tx, id); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(err)
}
