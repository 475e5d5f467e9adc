package store

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// migratedTo opens a fresh database of backend b with the embedded
// migrations applied up to version, and returns it with the goose provider
// so a migration test can seed rows, then step up (or down) itself.
func migratedTo(t *testing.T, b storetest.Backend, version int64) (*DB, *goose.Provider) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, Config{URL: storetest.DatabaseURL(t, b), SQLitePath: filepath.Join(t.TempDir(), "db.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	d := goose.DialectSQLite3
	if db.Dialect() == Postgres {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, db.DB, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		t.Fatal(err)
	}
	return db, p
}
