package tuples

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults.
const (
	// DefaultPollInterval is how often a replica tails the change log.
	DefaultPollInterval = 250 * time.Millisecond
	// notifyChannel is the PostgreSQL channel a commit notifies.
	notifyChannel = "plexsphere_relation_tuples"
	// tailBatch bounds the change-log rows read per query.
	tailBatch = 1000
	// DefaultMaxLag is how old the last successful change-log read may be
	// before [Store.Healthy] reports the index stale.
	DefaultMaxLag = 5 * time.Second
)

// ErrNotFound reports a tuple id that does not exist.
var ErrNotFound = errors.New("tuples: relation tuple not found")

// ErrStale reports an index that has not caught up with the change log
// recently: decisions from it could rest on revoked grants.
var ErrStale = errors.New("tuples: relation tuple index is stale")

// ErrExists reports that an added tuple is already stored (WriteRows with
// Strict).
var ErrExists = errors.New("tuples: relation tuple already exists")

// Config configures a [Store].
type Config struct {
	DB *store.DB
	// Schema validates writes. Required.
	Schema *authz.Schema
	// Index is the in-memory index this replica's engine reads. Required.
	Index *authz.MemTuples
	// Logger; nil discards.
	Logger *slog.Logger
	// PollInterval is the change-log tail period; 0 means DefaultPollInterval.
	PollInterval time.Duration
	// MaxLag is the staleness bound of [Store.Healthy]; 0 means DefaultMaxLag.
	MaxLag time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store writes relation tuples and keeps Index in step with the database.
type Store struct {
	db     *store.DB
	schema *authz.Schema
	index  *authz.MemTuples
	log    *slog.Logger
	poll   time.Duration
	maxLag time.Duration
	now    func() time.Time

	// syncMu serialises applying the change log; it guards last.
	syncMu sync.Mutex
	last   int64
	// syncedAt is when the change log was last read to its end (Unix
	// nanoseconds; 0 before Load).
	syncedAt atomic.Int64

	wake   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New validates cfg and returns a Store. Call [Store.Load] before serving
// and [Store.Start] to follow other replicas' writes.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("tuples: Config.DB is required")
	case cfg.Schema == nil:
		return nil, errors.New("tuples: Config.Schema is required")
	case cfg.Index == nil:
		return nil, errors.New("tuples: Config.Index is required")
	case cfg.PollInterval < 0:
		return nil, fmt.Errorf("tuples: Config.PollInterval must not be negative, got %s", cfg.PollInterval)
	case cfg.MaxLag < 0:
		return nil, fmt.Errorf("tuples: Config.MaxLag must not be negative, got %s", cfg.MaxLag)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxLag == 0 {
		cfg.MaxLag = DefaultMaxLag
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{db: cfg.DB, schema: cfg.Schema, index: cfg.Index, log: cfg.Logger, poll: cfg.PollInterval,
		maxLag: cfg.MaxLag, now: cfg.Now, wake: make(chan struct{}, 1)}, nil
}

// Index returns the in-memory index the Store maintains.
func (s *Store) Index() *authz.MemTuples { return s.index }

// Row is one stored tuple with its bookkeeping.
type Row struct {
	ID    string
	Tuple authz.Tuple
	// DomainID and ProjectID scope the tuple for listing and delete guards
	// (empty for none).
	DomainID, ProjectID string
	// Structural marks object-graph tuples (a Project's Domain, a Resource's
	// Project, …) that tenancy writes with the object; delete guards and the
	// relation-tuple API ignore them.
	Structural bool
	CreatedAt  time.Time
}

// change is one change-log row's payload.
type change struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Write adds and removes tuples inside tx: adding a stored tuple or removing
// a missing one does nothing. Every tuple is validated against the schema
// first. Call [Store.Sync] after tx commits to see the change at once.
//
// A write holds the change-log counter's row lock until tx ends; to keep one
// lock order, write tuples before appending the transaction's audit entry.
func (s *Store) Write(ctx context.Context, tx *sql.Tx, add, remove []authz.Tuple) error {
	rows := make([]Row, len(add))
	for i, t := range add {
		rows[i] = Row{Tuple: t}
	}
	_, err := s.WriteRows(ctx, tx, rows, remove, false)
	return err
}

// WriteRows is Write with scoping metadata. It returns the added rows with
// their ids and times; with strict, an already stored tuple is ErrExists
// (otherwise it is skipped and not returned).
func (s *Store) WriteRows(ctx context.Context, tx *sql.Tx, add []Row, remove []authz.Tuple, strict bool) ([]Row, error) {
	for _, r := range add {
		if err := s.schema.ValidateTuple(r.Tuple); err != nil {
			return nil, fmt.Errorf("tuples: %w", err)
		}
	}
	for _, t := range remove {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("tuples: %w", err)
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil, nil
	}
	var ch change
	for _, t := range remove {
		res, err := tx.ExecContext(ctx, `DELETE FROM relation_tuples WHERE resource_type = $1 AND resource_id = $2
			AND relation = $3 AND subject_type = $4 AND subject_id = $5 AND subject_relation = $6`, tupleArgs(t)...)
		if err != nil {
			return nil, fmt.Errorf("tuples: delete %s: %w", t, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ch.Remove = append(ch.Remove, t.String())
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var out []Row
	for _, r := range add {
		if r.ID == "" { // a replacement (Replace) keeps its id
			r.ID = uuid.Must(uuid.NewV7()).String()
		}
		r.CreatedAt = now
		args := append(tupleArgs(r.Tuple), r.ID, nullString(r.DomainID), nullString(r.ProjectID), r.Structural, store.Micros(now))
		res, err := tx.ExecContext(ctx, `INSERT INTO relation_tuples
			(resource_type, resource_id, relation, subject_type, subject_id, subject_relation, id, domain_id, project_id, structural, created_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
			ON CONFLICT (resource_type, resource_id, relation, subject_type, subject_id, subject_relation) DO NOTHING`, args...)
		if err != nil {
			return nil, fmt.Errorf("tuples: insert %s: %w", r.Tuple, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if strict {
				return nil, fmt.Errorf("%w: %s", ErrExists, r.Tuple)
			}
			continue
		}
		ch.Add = append(ch.Add, r.Tuple.String())
		out = append(out, r)
	}
	if len(ch.Add) == 0 && len(ch.Remove) == 0 {
		return out, nil
	}
	return out, s.appendChange(ctx, tx, ch, now)
}

// appendChange takes the next sequence number (holding the counter's row lock
// until commit) and logs ch under it.
func (s *Store) appendChange(ctx context.Context, tx *sql.Tx, ch change, now time.Time) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE relation_tuple_log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return fmt.Errorf("tuples: next change seq: %w", err)
	}
	raw, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO relation_tuple_changes (seq, changes, created_at) VALUES ($1, $2, $3)`,
		seq, string(raw), store.Micros(now)); err != nil {
		return fmt.Errorf("tuples: log change: %w", err)
	}
	if s.db.Dialect() == store.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
			return fmt.Errorf("tuples: notify: %w", err)
		}
	}
	return nil
}

// DeleteByID removes the non-structural tuple id inside tx and returns it;
// ErrNotFound when there is none (or it is structural).
func (s *Store) DeleteByID(ctx context.Context, tx *sql.Tx, id string) (Row, error) {
	r, err := scanRow(tx.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM relation_tuples WHERE id = $1 AND structural = FALSE`+s.db.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("tuples: read %s: %w", id, err)
	}
	if _, err := s.WriteRows(ctx, tx, nil, []authz.Tuple{r.Tuple}, false); err != nil {
		return r, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO relation_tuple_tombstones (id, resource_type, resource_id, project_id, deleted_at)
		VALUES ($1, $2, $3, $4, $5)`, r.ID, r.Tuple.Resource.Type, r.Tuple.Resource.ID, nullString(r.ProjectID),
		store.Micros(s.now())); err != nil {
		return r, fmt.Errorf("tuples: tombstone %s: %w", r.ID, err)
	}
	return r, nil
}

// Replace swaps the non-structural tuple id for repl (its tuple and scope)
// inside tx, keeping the id (delete-then-write, one change-log entry). It returns the old
// and the new row; ErrNotFound when id is not stored, ErrExists when t is
// already stored as another tuple. Replacing a tuple by itself changes
// nothing and returns the stored row twice.
func (s *Store) Replace(ctx context.Context, tx *sql.Tx, id string, repl Row) (old, added Row, err error) {
	old, err = scanRow(tx.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM relation_tuples WHERE id = $1 AND structural = FALSE`+s.db.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return old, old, ErrNotFound
	}
	if err != nil {
		return old, old, fmt.Errorf("tuples: read %s: %w", id, err)
	}
	if old.Tuple == repl.Tuple && old.DomainID == repl.DomainID && old.ProjectID == repl.ProjectID {
		return old, old, nil
	}
	repl.ID, repl.Structural = old.ID, false
	rows, err := s.WriteRows(ctx, tx, []Row{repl}, []authz.Tuple{old.Tuple}, true)
	if err != nil {
		return old, old, err
	}
	return old, rows[0], nil
}

// Tombstone reads what DeleteByID remembered of a deleted tuple: its id,
// resource and Project (the subject and relation are not kept).
func (s *Store) Tombstone(ctx context.Context, q store.Querier, id string) (Row, error) {
	var r Row
	err := q.QueryRowContext(ctx, `SELECT id, resource_type, resource_id, COALESCE(project_id, '')
		FROM relation_tuple_tombstones WHERE id = $1`, id).Scan(&r.ID, &r.Tuple.Resource.Type, &r.Tuple.Resource.ID, &r.ProjectID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// RemoveObject removes every tuple stored on resource (structural ones and
// grants) inside tx: the object is being deleted.
func (s *Store) RemoveObject(ctx context.Context, tx *sql.Tx, resource authz.ObjectRef) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+rowColumns+` FROM relation_tuples WHERE resource_type = $1 AND resource_id = $2`,
		resource.Type, resource.ID)
	if err != nil {
		return fmt.Errorf("tuples: read %s: %w", resource, err)
	}
	var remove []authz.Tuple
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			rows.Close()
			return err
		}
		remove = append(remove, r.Tuple)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = s.WriteRows(ctx, tx, nil, remove, false)
	return err
}

// Get reads one non-structural tuple by id.
func (s *Store) Get(ctx context.Context, q store.Querier, id string) (Row, error) {
	r, err := scanRow(q.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM relation_tuples WHERE id = $1 AND structural = FALSE`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// ListProject returns up to limit non-structural tuples of a Project with id
// greater than after, in id (creation) order.
func (s *Store) ListProject(ctx context.Context, q store.Querier, projectID, after string, limit int) ([]Row, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+rowColumns+` FROM relation_tuples
		WHERE project_id = $1 AND structural = FALSE AND id > $2 ORDER BY id LIMIT $3`, projectID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const rowColumns = `id, resource_type, resource_id, relation, subject_type, subject_id, subject_relation,
	COALESCE(domain_id, ''), COALESCE(project_id, ''), structural, created_at`

func scanRow(row interface{ Scan(...any) error }) (Row, error) {
	var (
		r       Row
		created int64
	)
	t := &r.Tuple
	err := row.Scan(&r.ID, &t.Resource.Type, &t.Resource.ID, &t.Relation, &t.Subject.Object.Type, &t.Subject.Object.ID,
		&t.Subject.Relation, &r.DomainID, &r.ProjectID, &r.Structural, &created)
	r.CreatedAt = store.Time(created)
	return r, err
}

func tupleArgs(t authz.Tuple) []any {
	return []any{t.Resource.Type, t.Resource.ID, t.Relation, t.Subject.Object.Type, t.Subject.Object.ID, t.Subject.Relation}
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
