// Package storetest gives test suites the databases they run against:
// SQLite always, and a fresh schema of the PostgreSQL named by
// PLEXSPHERE_TEST_POSTGRES_URL when it is set. It imports nothing of the
// control plane, so every package's tests can use it without a cycle.
package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver, for schema setup
)

// PostgresEnv names the PostgreSQL URL the suites use when set.
const PostgresEnv = "PLEXSPHERE_TEST_POSTGRES_URL"

// Backend is one database a suite runs against.
type Backend string

// The backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Backends lists SQLite, plus PostgreSQL when PLEXSPHERE_TEST_POSTGRES_URL is
// set. Under CI (CI=true) a missing PostgreSQL is a failure, not a skip.
func Backends(t testing.TB) []Backend {
	t.Helper()
	if os.Getenv(PostgresEnv) != "" {
		return []Backend{SQLite, Postgres}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set under CI; run the suite through scripts/test", PostgresEnv)
	}
	return []Backend{SQLite}
}

// DatabaseURL returns "" for SQLite, or the URL of a fresh PostgreSQL schema
// (t_<random>, reached through search_path) that is dropped when the test
// ends.
func DatabaseURL(t testing.TB, b Backend) string {
	t.Helper()
	if b == SQLite {
		return ""
	}
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Fatalf("%s is not set", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "t_" + hex.EncodeToString(raw)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
