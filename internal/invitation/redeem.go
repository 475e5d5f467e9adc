package invitation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/oidc"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// Redeem implements oidc.Invitations: at a first sign-in into r.DomainID
// whose ID token carries r.Email verified, it accepts the Domain's pending,
// unexpired invitation for that address (if any), once: it writes the
// staged tuples granted to the new user and an invitation.redeem entry on
// the Domain's chain, all in tx. An expired one is marked so and redeems
// nothing.
func (s *Service) Redeem(ctx context.Context, tx *sql.Tx, r oidc.Redemption) (bool, error) {
	if !r.EmailVerified || r.DomainID == "" || r.IdentityID == "" {
		return false, nil
	}
	var (
		id, raw string
		expires int64
	)
	err := tx.QueryRowContext(ctx, `SELECT id, initial_tuples, expires_at FROM invitations
		WHERE domain_id = $1 AND subject_pseudonym = $2 AND status = 'pending'`+s.db.ForUpdate(),
		r.DomainID, s.pseudonym(r.DomainID, r.Email)).Scan(&id, &raw, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("invitation: redeem: %w", err)
	}
	now := s.now()
	if !now.Before(store.Time(expires)) {
		_, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'expired', expired_at = expires_at
			WHERE id = $1 AND status = 'pending'`, id)
		return false, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'accepted', accepted_at = $2, accepted_user_id = $3
		WHERE id = $1 AND status = 'pending'`, id, store.Micros(now), r.IdentityID)
	if err != nil {
		return false, fmt.Errorf("invitation: redeem: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil // redeemed or revoked concurrently: single use
	}
	var staged []apiv1.InvitationTuple
	if err := json.Unmarshal([]byte(raw), &staged); err != nil {
		return false, fmt.Errorf("invitation: redeem: %w", err)
	}
	if err := s.grant(ctx, tx, r.DomainID, r.IdentityID, staged); err != nil {
		return false, err
	}
	ar := audit.RequestFrom(ctx)
	_, err = s.audit.Append(ctx, tx, audit.Entry{ChainID: r.DomainID, Action: "invitation.redeem", Outcome: audit.Succeeded,
		Reason: "granted", IdentityRef: "user:" + r.IdentityID, ObjectType: "invitation", ObjectID: id,
		CorrelationID: ar.CorrelationID, IP: ar.IP, UserAgent: ar.UserAgent})
	return err == nil, err
}

// grant writes the staged tuples for the user, skipping objects deleted
// since the invitation was made; group grants also record the membership.
func (s *Service) grant(ctx context.Context, tx *sql.Tx, domainID, userID string, staged []apiv1.InvitationTuple) error {
	user := authz.ObjectRef{Type: authz.TypeUser, ID: userID}.Subject()
	var rows []tuples.Row
	for _, t := range staged {
		obj, err := authz.ParseObjectRef(t.Object)
		if err != nil {
			continue
		}
		row := tuples.Row{Tuple: authz.Tuple{Resource: obj, Relation: t.Relation, Subject: user}, DomainID: domainID}
		var n int
		switch obj.Type {
		case authz.TypeDomain:
			n = 1
		case authz.TypeProject:
			row.ProjectID = obj.ID
			err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE id = $1 AND domain_id = $2`, obj.ID, domainID).Scan(&n)
		case authz.TypeGroup:
			err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM principal_groups WHERE id = $1 AND domain_id = $2 AND source = 'manual'`, obj.ID, domainID).Scan(&n)
			if err == nil && n > 0 {
				_, err = tx.ExecContext(ctx, `INSERT INTO principal_group_members (group_id, principal_kind, principal_id, source,
					created_at) VALUES ($1, 'user', $2, 'manual', $3) ON CONFLICT DO NOTHING`, obj.ID, userID, store.Micros(s.now()))
			}
		}
		if err != nil {
			return fmt.Errorf("invitation: redeem: %w", err)
		}
		if n > 0 {
			rows = append(rows, row)
		}
	}
	if _, err := s.tuples.WriteRows(ctx, tx, rows, nil, false); err != nil {
		return fmt.Errorf("invitation: redeem: %w", err)
	}
	return nil
}
