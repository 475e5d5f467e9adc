package meshkeys

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/store"
)

// Rotation states and origins (mesh_key_rotations.state, .origin).
const (
	statePending   = "pending"
	stateCompleted = "completed"

	originOperator = "operator"
	originSchedule = "schedule"
)

// wrapKeyVersion is the version of the key PSKs are wrapped under at rest:
// the master key, which has a single version so far.
const wrapKeyVersion = 1

// initialKID names the PSK generation a pair gets when it forms, before
// either side rotated.
const initialKID = "enrolment"

// rotation is one mesh_key_rotations row.
type rotation struct {
	ID, NodeID, DomainID, State string
	NewPublicKey, KID           string
	WrapKeyVersion              int
	CompletedAt                 *int64
}

// nodeRow is what rotation reads of a live node: its key, when it joined,
// and the highest protocol level it announced (at registration or since).
type nodeRow struct {
	ID, DomainID, PublicKey string
	CreatedAt               int64
	Level                   int
}

const rotationColumns = `id, node_id, domain_id, state, new_public_key, kid, wrap_key_version, completed_at`

func scanRotation(row interface{ Scan(...any) error }) (rotation, error) {
	var r rotation
	err := row.Scan(&r.ID, &r.NodeID, &r.DomainID, &r.State, &r.NewPublicKey, &r.KID, &r.WrapKeyVersion, &r.CompletedAt)
	return r, err
}

// loadNode reads a live node; lock is "" or the dialect's FOR UPDATE. It
// returns sql.ErrNoRows for an unknown or removed node.
func loadNode(ctx context.Context, q store.Querier, id, lock string) (nodeRow, error) {
	var n nodeRow
	var agent *int
	err := q.QueryRowContext(ctx, `SELECT id, domain_id, public_key, created_at, registered_level,
		(SELECT protocol_level FROM node_agents WHERE node_id = nodes.id)
		FROM nodes WHERE id = $1 AND revoked_at IS NULL`+lock, id).
		Scan(&n.ID, &n.DomainID, &n.PublicKey, &n.CreatedAt, &n.Level, &agent)
	if agent != nil && *agent > n.Level {
		n.Level = *agent
	}
	return n, err
}

// pendingOf returns the node's pending rotation, if any.
func pendingOf(ctx context.Context, q store.Querier, nodeID, lock string) (rotation, bool, error) {
	r, err := scanRotation(q.QueryRowContext(ctx, `SELECT `+rotationColumns+` FROM mesh_key_rotations
		WHERE node_id = $1 AND state = 'pending'`+lock, nodeID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// lastCompleted returns the node's most recent completed rotation, if any.
func lastCompleted(ctx context.Context, q store.Querier, nodeID string) (rotation, bool, error) {
	r, err := scanRotation(q.QueryRowContext(ctx, `SELECT `+rotationColumns+` FROM mesh_key_rotations
		WHERE node_id = $1 AND state = 'completed' ORDER BY completed_at DESC, id DESC LIMIT 1`, nodeID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// keyInstalledAt is when the node's current key was installed: its last
// completed rotation, else its registration.
func keyInstalledAt(ctx context.Context, q store.Querier, n nodeRow) (time.Time, error) {
	last, ok, err := lastCompleted(ctx, q, n.ID)
	if err != nil {
		return time.Time{}, err
	}
	if ok && last.CompletedAt != nil {
		return store.Time(*last.CompletedAt), nil
	}
	return store.Time(n.CreatedAt), nil
}

// insertPending records a pending rotation of n unless one is pending
// already; it returns the pending rotation's id and whether this call
// inserted it. Concurrent callers (a repeated trigger, replicas running the
// schedule) insert one row: the partial unique index settles the race.
func insertPending(ctx context.Context, tx *sql.Tx, n nodeRow, origin string, now time.Time) (string, bool, error) {
	id := uuid.Must(uuid.NewV7()).String()
	res, err := tx.ExecContext(ctx, `INSERT INTO mesh_key_rotations (id, node_id, domain_id, state, origin,
		requested_at, old_public_key) VALUES ($1, $2, $3, 'pending', $4, $5, $6)
		ON CONFLICT (node_id) WHERE state = 'pending' DO NOTHING`,
		id, n.ID, n.DomainID, origin, store.Micros(now), n.PublicKey)
	if err != nil {
		return "", false, err
	}
	if k, err := res.RowsAffected(); err != nil {
		return "", false, err
	} else if k == 1 {
		return id, true, nil
	}
	r, ok, err := pendingOf(ctx, tx, n.ID, "")
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, errors.New("meshkeys: pending rotation vanished")
	}
	return r.ID, false, nil
}

// Pending reports whether a rotation of nodeID is pending (the heartbeat's
// rotate_keys flag at level 2).
func (s *Service) Pending(ctx context.Context, nodeID string) (bool, error) {
	_, ok, err := pendingOf(ctx, s.cfg.DB, nodeID, "")
	return ok, err
}
