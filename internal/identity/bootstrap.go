package identity

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/store"
)

// PlatformID is the id of the singleton Platform (and its ReBAC object id).
const PlatformID = "platform"

// Bootstrap creates the Platform, a platform-admin identity and its first API
// token on an empty database, in one transaction. It returns the token
// plaintext, or "" when the Platform already existed. Concurrent first starts
// create exactly one Platform.
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	var token string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := store.Micros(s.now())
		res, err := tx.ExecContext(ctx, `INSERT INTO platform (id, name, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, PlatformID, "plexsphere", now)
		if err != nil {
			return fmt.Errorf("identity: create platform: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		adminID := uuid.Must(uuid.NewV7()).String()
		if _, err := tx.ExecContext(ctx, `INSERT INTO identities (id, kind, display_name, created_at, updated_at)
			VALUES ($1, 'user', 'platform-admin', $2, $2)`, adminID, now); err != nil {
			return fmt.Errorf("identity: create admin: %w", err)
		}
		admin := authz.Tuple{Resource: authz.Platform, Relation: "admin",
			Subject: authz.ObjectRef{Type: authz.TypeUser, ID: adminID}.Subject()}
		if err := s.tuples.Write(ctx, tx, []authz.Tuple{admin}, nil); err != nil {
			return fmt.Errorf("identity: grant admin: %w", err)
		}
		// The first admin token never expires and no IdP stands behind it:
		// it is the break-glass root credential (docs/identity.md).
		_, token, err = s.issue(ctx, tx, adminID, "prod", time.Time{}, lineage{breakGlass: true})
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Entry{
			ChainID: audit.PlatformChain, Action: "platform.bootstrap", Outcome: audit.Succeeded, Reason: "first_start",
			IdentityRef: "system", ObjectType: "platform", ObjectID: PlatformID,
		})
		return err
	})
	return token, err
}
