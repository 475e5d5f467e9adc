package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Config configures the embedded backend.
type Config struct {
	// DB holds the secret_values table. Required.
	DB *store.DB
	// KEKs wrap the data keys (LoadKEKs). Required.
	KEKs *KEKSet
	// Now stamps new versions (default time.Now).
	Now func() time.Time
}

// Backend is the embedded secret store. Safe for concurrent use.
type Backend struct {
	db   *store.DB
	keks *KEKSet
	now  func() time.Time
}

// maxPutAttempts bounds the retries of a write that lost a version number
// to a concurrent writer (PostgreSQL; SQLite serialises writers).
const maxPutAttempts = 64

// New returns the backend over cfg.DB.
func New(cfg Config) (*Backend, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("embedded: Config.DB is required")
	case cfg.KEKs == nil:
		return nil, errors.New("embedded: Config.KEKs is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Backend{db: cfg.DB, keks: cfg.KEKs, now: cfg.Now}, nil
}

// Name is "embedded".
func (b *Backend) Name() string { return "embedded" }

// Put writes data as the next version of p: max+1 inside a transaction,
// check-and-set in the same transaction.
func (b *Backend) Put(ctx context.Context, p backend.Path, data []byte, o backend.PutOptions) (int64, error) {
	if err := p.Check(); err != nil {
		return 0, err
	}
	if len(data) > backend.MaxValue {
		return 0, fmt.Errorf("embedded: put %s: value is %d bytes, at most %d", p, len(data), backend.MaxValue)
	}
	for attempt := 1; ; attempt++ {
		v, err := b.putOnce(ctx, p, data, o)
		switch {
		case err == nil:
			return v, nil
		case errors.Is(err, backend.ErrConflict):
			return 0, err
		case store.IsUniqueViolation(err) && attempt < maxPutAttempts && ctx.Err() == nil:
			continue // another writer took that version; count again
		}
		return 0, dbErr(ctx, "put", p, err)
	}
}

func (b *Backend) putOnce(ctx context.Context, p backend.Path, data []byte, o backend.PutOptions) (int64, error) {
	path := p.String()
	var v int64
	err := b.db.Tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(version), 0) FROM secret_values WHERE path = $1`, path).Scan(&cur); err != nil {
			return err
		}
		if o.CAS != nil && *o.CAS != cur {
			return fmt.Errorf("embedded: put %s: %w (current %d, expected %d)", p, backend.ErrConflict, cur, *o.CAS)
		}
		v = cur + 1
		s, err := seal(b.keks.active(), path, v, data)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO secret_values (path, version, kek_id, wrapped_key, ciphertext, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, path, v, s.kekID, s.wrappedKey, s.ciphertext, store.Micros(b.now()))
		return err
	})
	return v, err
}

// Get reads version of p (0 = current).
func (b *Backend) Get(ctx context.Context, p backend.Path, version int64) (backend.Value, error) {
	if err := p.Check(); err != nil {
		return backend.Value{}, err
	}
	if version < 0 {
		return backend.Value{}, fmt.Errorf("embedded: get %s: %w: version %d", p, backend.ErrVersionNotFound, version)
	}
	path := p.String()
	q := `SELECT version, kek_id, wrapped_key, ciphertext FROM secret_values WHERE path = $1 AND version = $2`
	args := []any{path, version}
	if version == 0 {
		q = `SELECT version, kek_id, wrapped_key, ciphertext FROM secret_values WHERE path = $1 ORDER BY version DESC LIMIT 1`
		args = args[:1]
	}
	var (
		v int64
		s sealed
	)
	err := b.db.QueryRowContext(ctx, q, args...).Scan(&v, &s.kekID, &s.wrappedKey, &s.ciphertext)
	if errors.Is(err, sql.ErrNoRows) {
		return backend.Value{}, b.missing(ctx, p, version)
	}
	if err != nil {
		return backend.Value{}, dbErr(ctx, "get", p, err)
	}
	data, err := open(b.keks, path, v, s)
	if err != nil {
		return backend.Value{}, fmt.Errorf("embedded: get: %w", err)
	}
	return backend.Value{Data: data, Version: v}, nil
}

// missing tells an unknown secret from an unknown version of one.
func (b *Backend) missing(ctx context.Context, p backend.Path, version int64) error {
	if version == 0 {
		return fmt.Errorf("embedded: get %s: %w", p, backend.ErrNotFound)
	}
	var n int64
	if err := b.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_values WHERE path = $1`, p.String()).Scan(&n); err != nil {
		return dbErr(ctx, "get", p, err)
	}
	if n == 0 {
		return fmt.Errorf("embedded: get %s: %w", p, backend.ErrNotFound)
	}
	return fmt.Errorf("embedded: get %s: %w: version %d", p, backend.ErrVersionNotFound, version)
}

// Metadata lists p's versions from its rows, never reading a value.
func (b *Backend) Metadata(ctx context.Context, p backend.Path) (backend.Metadata, error) {
	if err := p.Check(); err != nil {
		return backend.Metadata{}, err
	}
	rows, err := b.db.QueryContext(ctx,
		`SELECT version, created_at FROM secret_values WHERE path = $1 ORDER BY version`, p.String())
	if err != nil {
		return backend.Metadata{}, dbErr(ctx, "metadata", p, err)
	}
	defer rows.Close()
	var md backend.Metadata
	for rows.Next() {
		var (
			v  int64
			at int64
		)
		if err := rows.Scan(&v, &at); err != nil {
			return backend.Metadata{}, dbErr(ctx, "metadata", p, err)
		}
		md.Versions = append(md.Versions, backend.Version{Version: v, CreatedAt: store.Time(at)})
		md.Current = v
	}
	if err := rows.Err(); err != nil {
		return backend.Metadata{}, dbErr(ctx, "metadata", p, err)
	}
	if len(md.Versions) == 0 {
		return backend.Metadata{}, fmt.Errorf("embedded: metadata %s: %w", p, backend.ErrNotFound)
	}
	return md, nil
}

// Delete removes every version of p.
func (b *Backend) Delete(ctx context.Context, p backend.Path) error {
	if err := p.Check(); err != nil {
		return err
	}
	res, err := b.db.ExecContext(ctx, `DELETE FROM secret_values WHERE path = $1`, p.String())
	if err != nil {
		return dbErr(ctx, "delete", p, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("embedded: delete %s: %w", p, backend.ErrNotFound)
	}
	return nil
}

// dbErr reports a database failure as the backend being unavailable (or
// the context's own error).
func dbErr(ctx context.Context, op string, p backend.Path, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("embedded: %s %s: %w", op, p, ctx.Err())
	}
	return fmt.Errorf("embedded: %s %s: %w: %w", op, p, backend.ErrUnavailable, err)
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Named   = (*Backend)(nil)
)
