package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// eachDB runs fn on a fresh migrated SQLite database, and on a fresh
// PostgreSQL schema when PLEXSPHERE_TEST_POSTGRES_URL is set.
func eachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, openDB(t, b))
		})
	}
}

func openDB(t *testing.T, b storetest.Backend) *store.DB {
	t.Helper()
	ctx := context.Background()
	cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "plexsphere.db")}
	if b == storetest.Postgres {
		cfg = store.Config{URL: storetest.DatabaseURL(t, b)}
	}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// keyFile returns a fresh KEK file path (created by the first LoadKEKs).
func keyFile(t *testing.T) string {
	return filepath.Join(t.TempDir(), "data", "secrets-kek")
}

func mustLoad(t *testing.T, path, env string) *KEKSet {
	t.Helper()
	s, err := LoadKEKs(path, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustNew(t *testing.T, db *store.DB, keks *KEKSet) *Backend {
	t.Helper()
	b, err := New(Config{DB: db, KEKs: keks})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testPath(name string) backend.Path {
	return backend.Path{DomainID: "dom1", ProjectID: "prj1", Name: name}
}

func mustPut(t *testing.T, b *Backend, p backend.Path, val string) int64 {
	t.Helper()
	v, err := b.Put(context.Background(), p, []byte(val), backend.PutOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
	return v
}

func wantValue(t *testing.T, b *Backend, p backend.Path, version int64, want string) {
	t.Helper()
	got, err := b.Get(context.Background(), p, version)
	if err != nil || string(got.Data) != want {
		t.Fatalf("get %s v%d: %q, %v; want %q", p, version, got.Data, err, want)
	}
}

// bulkInsert seals n values (value-<i>, one version each of paths
// bulk-<i>) under keks' active key in one transaction: faster than n Puts.
func bulkInsert(t *testing.T, db *store.DB, keks *KEKSet, n int) map[backend.Path]string {
	t.Helper()
	want := map[backend.Path]string{}
	k := keks.active()
	err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		for i := range n {
			p := testPath(fmt.Sprintf("bulk-%d", i))
			val := fmt.Sprintf("value-%d", i)
			s, err := seal(k, p.String(), 1, []byte(val))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO secret_values (path, version, kek_id, wrapped_key, ciphertext, created_at)
				VALUES ($1, 1, $2, $3, $4, $5)`, p.String(), s.kekID, s.wrappedKey, s.ciphertext, store.Micros(time.Now())); err != nil {
				return err
			}
			want[p] = val
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// kekIDs counts the rows under each KEK id.
func kekIDs(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	m, err := rowsPerKEK(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeClock is a settable clock for the key set's re-read limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
