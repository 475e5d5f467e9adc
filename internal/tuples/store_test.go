package tuples_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

func openDB(t *testing.T, b apptest.Backend) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: apptest.DatabaseURL(t, b), SQLitePath: filepath.Join(t.TempDir(), "db.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func newStore(t *testing.T, db *store.DB) *tuples.Store {
	t.Helper()
	s, err := tuples.New(tuples.Config{DB: db, Schema: authz.DefaultSchema(), Index: authz.NewMemTuples()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func tuple(t *testing.T, s string) authz.Tuple {
	t.Helper()
	tu, err := authz.ParseTuple(s)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

func has(s *tuples.Store, tu authz.Tuple) bool {
	ok, _ := s.Index().HasTuple(context.Background(), tu.Resource, tu.Relation, tu.Subject)
	return ok
}

// TestWriteAndFollow checks the writer and the change-log follower on both
// databases: validation, the same-transaction rule, and replicas catching up.
func TestWriteAndFollow(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openDB(t, b)
			s1, s2 := newStore(t, db), newStore(t, db)
			grant := tuple(t, "project:p#viewer@group:g#member")
			member := tuple(t, "group:g#member@user:u")

			// An invalid tuple fails the write; a rolled-back write leaves nothing.
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				return s1.Write(ctx, tx, []authz.Tuple{grant, tuple(t, "project:p#nope@user:u")}, nil)
			})
			if !errors.Is(err, authz.ErrUnknownRelation) {
				t.Fatalf("invalid write: %v", err)
			}
			rollback := errors.New("rollback")
			if err := db.Tx(ctx, func(tx *sql.Tx) error {
				if err := s1.Write(ctx, tx, []authz.Tuple{grant}, nil); err != nil {
					return err
				}
				return rollback
			}); !errors.Is(err, rollback) {
				t.Fatal(err)
			}
			if err := s1.Sync(ctx); err != nil || has(s1, grant) {
				t.Fatalf("rolled-back write visible: %v", err)
			}

			if err := db.Tx(ctx, func(tx *sql.Tx) error { return s1.Write(ctx, tx, []authz.Tuple{grant, member}, nil) }); err != nil {
				t.Fatal(err)
			}
			if has(s1, grant) {
				t.Fatal("visible before Sync")
			}
			for _, s := range []*tuples.Store{s1, s2} {
				if err := s.Sync(ctx); err != nil || !has(s, grant) || !has(s, member) {
					t.Fatalf("after sync: %v", err)
				}
			}
			// Idempotent re-add logs nothing; a removal reaches the other replica.
			before := s1.Applied()
			if err := db.Tx(ctx, func(tx *sql.Tx) error { return s1.Write(ctx, tx, []authz.Tuple{grant}, nil) }); err != nil {
				t.Fatal(err)
			}
			if s1.Sync(ctx); s1.Applied() != before {
				t.Fatalf("a no-op write was logged: %d -> %d", before, s1.Applied())
			}
			if err := db.Tx(ctx, func(tx *sql.Tx) error { return s2.Write(ctx, tx, nil, []authz.Tuple{member}) }); err != nil {
				t.Fatal(err)
			}
			if err := s1.Sync(ctx); err != nil || has(s1, member) || !has(s1, grant) {
				t.Fatalf("removal: %v", err)
			}
			// A fresh replica loads the same state.
			s3 := newStore(t, db)
			if !has(s3, grant) || has(s3, member) || s3.Applied() != s1.Applied() {
				t.Fatalf("fresh load: grant %v member %v applied %d/%d", has(s3, grant), has(s3, member), s3.Applied(), s1.Applied())
			}
			// A change the follower cannot read stops it there instead of being skipped.
			if _, err := db.ExecContext(ctx, `INSERT INTO relation_tuple_changes (seq, changes, created_at) VALUES ($1, 'not json', 0)`, s1.Applied()+1); err != nil {
				t.Fatal(err)
			}
			if err := s1.Sync(ctx); err == nil || s1.Applied() != before+1 {
				t.Fatalf("bad change: %v, applied %d", err, s1.Applied())
			}
		})
	}
}

// TestStaleIndexIsUnhealthy: a replica that has not read the change log to
// its end within MaxLag reports ErrStale until it catches up again.
func TestStaleIndexIsUnhealthy(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, apptest.SQLite)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s, err := tuples.New(tuples.Config{DB: db, Schema: authz.DefaultSchema(), Index: authz.NewMemTuples(),
		MaxLag: 2 * time.Second, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Healthy(); !errors.Is(err, tuples.ErrStale) {
		t.Fatalf("before load: %v", err)
	}
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("after load: %v", err)
	}
	now.Add(int64(3 * time.Second))
	if err := s.Healthy(); !errors.Is(err, tuples.ErrStale) {
		t.Fatalf("3 s later: %v", err)
	}
	db.Close()
	if err := s.Sync(ctx); err == nil || !errors.Is(s.Healthy(), tuples.ErrStale) {
		t.Fatalf("a failed sync must not refresh: %v", err)
	}
}
