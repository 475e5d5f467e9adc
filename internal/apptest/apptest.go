// Package apptest starts a real control plane for tests: the whole
// composition root on a temporary SQLite file or on a fresh schema of the
// PostgreSQL named by PLEXSPHERE_TEST_POSTGRES_URL, served over loopback
// HTTP, with the first-start admin token ready to use.
package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver, for schema setup

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/config"
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
	if os.Getenv(PostgresEnv) != "" {
		return []Backend{SQLite, Postgres}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set under CI; run the suite through scripts/test", PostgresEnv)
	}
	return []Backend{SQLite}
}

// DatabaseURL returns "" for SQLite, or the URL of a fresh PostgreSQL schema
// that is dropped when the test ends.
func DatabaseURL(t testing.TB, b Backend) string {
	t.Helper()
	if b == SQLite {
		return ""
	}
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Fatalf("%s is not set", PostgresEnv)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "t_" + hex.EncodeToString(raw)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Env is a running control plane.
type Env struct {
	Server  *app.Server
	URL     string
	Token   string
	DataDir string
	Config  config.Config
}

// Start assembles and serves a control plane on backend b.
func Start(t testing.TB, b Backend) *Env {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = DatabaseURL(t, b)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PLEXSPHERE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx := context.Background()
	srv, err := app.Open(ctx, cfg, log)
	if err != nil {
		t.Fatalf("open control plane: %v", err)
	}
	tok, err := srv.Bootstrap(ctx)
	if err != nil || tok == "" {
		t.Fatalf("bootstrap: token %q, %v", tok, err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &Env{Server: srv, URL: hs.URL, Token: tok, DataDir: cfg.DataDir, Config: cfg}
}

// AdminTokenFile is where Bootstrap wrote the admin token.
func (e *Env) AdminTokenFile() string { return filepath.Join(e.DataDir, "admin-token") }

// Do sends a JSON request with the admin token and decodes a JSON answer
// into out (when non-nil). It returns the status and raw body.
func (e *Env) Do(t testing.TB, method, path string, body, out any) (int, []byte) {
	t.Helper()
	return e.DoAs(t, e.Token, method, path, body, out)
}

// DoAs is Do with another bearer token ("" for none).
func (e *Env) DoAs(t testing.TB, token, method, path string, body, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}
