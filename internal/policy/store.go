package policy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// row is a policies row.
type row struct {
	apiv1.NetworkPolicy
	DomainID string
}

const policyColumns = `id, project_id, domain_id, slug, display_name, head_revision_id, created_at, updated_at`

const revisionColumns = `id, policy_id, parent_id, source_selector, destination_selector, rules, tests,
	created_by, created_at, correlation_id`

type scanner interface{ Scan(...any) error }

func scanPolicy(sc scanner) (row, error) {
	var (
		r                row
		created, updated int64
	)
	err := sc.Scan(&r.ID, &r.ProjectID, &r.DomainID, &r.Slug, &r.DisplayName, &r.HeadRevisionID, &created, &updated)
	r.CreatedAt, r.UpdatedAt = store.Time(created), store.Time(updated)
	return r, err
}

func scanRevision(sc scanner) (apiv1.PolicyRevision, error) {
	var (
		r            apiv1.PolicyRevision
		parent       sql.NullString
		rules, tests string
		created      int64
	)
	if err := sc.Scan(&r.ID, &r.PolicyID, &parent, &r.Selector.Source, &r.Selector.Destination, &rules, &tests,
		&r.CreatedBy, &created, &r.CorrelationID); err != nil {
		return r, err
	}
	r.ParentID, r.CreatedAt = parent.String, store.Time(created)
	if err := json.Unmarshal([]byte(rules), &r.Rules); err != nil {
		return r, fmt.Errorf("policy: revision %s: rules: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(tests), &r.Tests); err != nil {
		return r, fmt.Errorf("policy: revision %s: tests: %w", r.ID, err)
	}
	if r.Rules == nil {
		r.Rules = []apiv1.NetworkPolicyRule{}
	}
	return r, nil
}

// loadPolicy reads one Policy of project; a missing one, or one of another
// Project, is 404 policy_not_found. lock is "" or the dialect's FOR UPDATE
// (writers serialise on the Policy's row on PostgreSQL).
func loadPolicy(ctx context.Context, q store.Querier, projectID, id string, lock ...string) (row, error) {
	r, err := scanPolicy(q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = $1`+strings.Join(lock, ""), id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && r.ProjectID != projectID {
		return row{}, problem.NotFound(CodeNotFound, "No such Policy in this Project.")
	}
	if err != nil {
		return row{}, problem.Internal(err)
	}
	return r, nil
}

// loadRevision reads a revision of policyID; one of another Policy (or
// none) is 404 revision_not_visible, as the contract hides which.
func loadRevision(ctx context.Context, q store.Querier, policyID, id string) (apiv1.PolicyRevision, error) {
	r, err := scanRevision(q.QueryRowContext(ctx, `SELECT `+revisionColumns+` FROM policy_revisions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && r.PolicyID != policyID {
		return apiv1.PolicyRevision{}, problem.NotFound(CodeRevisionNotVisible, "No such revision of this Policy.")
	}
	if err != nil {
		return apiv1.PolicyRevision{}, problem.Internal(err)
	}
	return r, nil
}

// insertRevision appends rev. A second child of one parent violates the
// unique parent_id: that is the lost race of a compare-and-swap.
func insertRevision(ctx context.Context, tx *sql.Tx, rev apiv1.PolicyRevision) error {
	rules, err := json.Marshal(rev.Rules)
	if err != nil {
		return err
	}
	tests, err := json.Marshal(nonNil(rev.Tests))
	if err != nil {
		return err
	}
	var parent any
	if rev.ParentID != "" {
		parent = rev.ParentID
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO policy_revisions (id, policy_id, parent_id, source_selector,
		destination_selector, rules, rule_count, tests, created_by, created_at, correlation_id)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		rev.ID, rev.PolicyID, parent, rev.Selector.Source, rev.Selector.Destination, string(rules), len(rev.Rules),
		string(tests), rev.CreatedBy, store.Micros(rev.CreatedAt), rev.CorrelationID)
	if store.IsUniqueViolation(err) {
		return problem.Conflict(CodeRevisionConflict, "Another revision landed on the same head; re-read the Policy and retry.")
	}
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// HeadRevision is one Policy's head, as the compiler and delivery read it.
type HeadRevision struct {
	PolicyID  string
	ProjectID string
	Slug      string
	Revision  apiv1.PolicyRevision
}

// ForDomain returns the head revision of every Policy in the Domain, in
// policy id order (the order fingerprints are computed in).
func ForDomain(ctx context.Context, q store.Querier, domainID string) ([]HeadRevision, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.id, p.project_id, p.slug, r.id, r.policy_id, r.parent_id, r.source_selector,
		r.destination_selector, r.rules, r.tests, r.created_by, r.created_at, r.correlation_id
		FROM policies p JOIN policy_revisions r ON r.id = p.head_revision_id
		WHERE p.domain_id = $1 ORDER BY p.id`, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HeadRevision
	for rows.Next() {
		var h HeadRevision
		var rs struct{ scanner }
		rs.scanner = scanFunc(func(dest ...any) error {
			return rows.Scan(append([]any{&h.PolicyID, &h.ProjectID, &h.Slug}, dest...)...)
		})
		if h.Revision, err = scanRevision(rs); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
