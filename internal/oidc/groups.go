package oidc

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Bounds on the groups claim.
const (
	maxGroups     = 256
	maxGroupValue = 256
)

var slugStrip = regexp.MustCompile(`[^a-z0-9]+`)

// groupSlug derives a group slug (api.md §2.6) from a claim value; a short
// hash of the binding and the value keeps distinct values, and the same
// value from two IdP bindings of one Domain, apart.
func groupSlug(bindingID, value string) string {
	s := strings.Trim(slugStrip.ReplaceAllString(strings.ToLower(value), "-"), "-")
	sum := sha256.Sum256([]byte(bindingID + "\x00" + value))
	suffix := hex.EncodeToString(sum[:4])
	if len(s) > 54 {
		s = strings.Trim(s[:54], "-")
	}
	if s == "" {
		return "idp-" + suffix
	}
	return s + "-" + suffix
}

// syncGroups makes the user's IdP-synced group memberships under binding b
// equal the groups claim: groups are created (or renamed) per claim value,
// memberships added, and memberships the claim no longer names removed,
// with their group#member tuples, inside tx.
func (s *Service) syncGroups(ctx context.Context, tx *sql.Tx, b *Binding, userID, domainID string, values []string) error {
	want := map[string]bool{}
	for _, v := range values {
		if len(v) <= maxGroupValue && len(want) < maxGroups {
			want[v] = true
		}
	}
	now := store.Micros(s.now())
	desired := map[string]bool{}
	for _, v := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		gid, err := s.ensureGroup(ctx, tx, b, domainID, v, now)
		if err != nil {
			return err
		}
		desired[gid] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT m.group_id FROM principal_group_members m
		JOIN principal_groups g ON g.id = m.group_id
		WHERE g.idp_binding_id = $1 AND m.principal_kind = 'user' AND m.principal_id = $2`, b.ID, userID)
	if err != nil {
		return err
	}
	current := map[string]bool{}
	for rows.Next() {
		var gid string
		if err := rows.Scan(&gid); err != nil {
			rows.Close()
			return err
		}
		current[gid] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	user := authz.SubjectRef{Object: authz.ObjectRef{Type: authz.TypeUser, ID: userID}}
	var add, remove []authz.Tuple
	for gid := range desired {
		if current[gid] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO principal_group_members (group_id, principal_kind, principal_id, source, created_at)
			VALUES ($1, 'user', $2, 'idp', $3)`, gid, userID, now); err != nil {
			return fmt.Errorf("oidc: add group member: %w", err)
		}
		add = append(add, memberTuple(gid, user))
	}
	for gid := range current {
		if desired[gid] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM principal_group_members WHERE group_id = $1 AND principal_kind = 'user'
			AND principal_id = $2`, gid, userID); err != nil {
			return fmt.Errorf("oidc: remove group member: %w", err)
		}
		remove = append(remove, memberTuple(gid, user))
	}
	if len(add)+len(remove) == 0 {
		return nil
	}
	return s.tuples.Write(ctx, tx, add, remove)
}

func memberTuple(groupID string, user authz.SubjectRef) authz.Tuple {
	return authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypeGroup, ID: groupID}, Relation: "member", Subject: user}
}

// ensureGroup returns the id of the IdP-synced group for a claim value,
// creating it on first sight.
func (s *Service) ensureGroup(ctx context.Context, tx *sql.Tx, b *Binding, domainID, value string, now int64) (string, error) {
	var id, name string
	err := tx.QueryRowContext(ctx, `SELECT id, display_name FROM principal_groups WHERE idp_binding_id = $1 AND idp_claim_value = $2`,
		b.ID, value).Scan(&id, &name)
	if err == nil {
		if name != value {
			_, err = tx.ExecContext(ctx, `UPDATE principal_groups SET display_name = $2, updated_at = $3 WHERE id = $1`, id, value, now)
		}
		return id, err
	}
	if err != sql.ErrNoRows {
		return "", err
	}
	id = uuid.Must(uuid.NewV7()).String()
	var domain any
	if domainID != "" {
		domain = domainID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO principal_groups (id, domain_id, scope_key, slug, display_name, source,
		idp_binding_id, idp_claim_value, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'idp', $6, $7, $8, $8)`,
		id, domain, domainID, groupSlug(b.ID, value), value, b.ID, value, now)
	if err != nil {
		return "", fmt.Errorf("oidc: create group: %w", err)
	}
	return id, nil
}

// EnsureIdPGroup creates (or finds) the IdP-synced group that the claim
// value names under a binding, ahead of any sign-in, so that grants can
// name it (`plexsphere dev` seeds its demo roles this way).
func (s *Service) EnsureIdPGroup(ctx context.Context, bindingID, value string) (string, error) {
	var id string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		b, err := s.binding(ctx, tx, bindingID)
		if err != nil {
			return err
		}
		id, err = s.ensureGroup(ctx, tx, b, b.DomainID, value, store.Micros(s.now()))
		return err
	})
	return id, err
}
