// Package apptest starts a real control plane for tests: the whole
// composition root on a temporary SQLite file or on a fresh schema of the
// PostgreSQL named by PLEXSPHERE_TEST_POSTGRES_URL, served over loopback
// HTTP, with the first-start admin token ready to use.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// The databases a suite runs against, from storetest (kept here so that
// suites built on the whole control plane need only this package).
const (
	PostgresEnv = storetest.PostgresEnv
	SQLite      = storetest.SQLite
	Postgres    = storetest.Postgres
)

// Backend is one database a suite runs against.
type Backend = storetest.Backend

// Backends lists SQLite, plus PostgreSQL when PLEXSPHERE_TEST_POSTGRES_URL is
// set; see storetest.Backends.
func Backends(t testing.TB) []Backend {
	t.Helper()
	return storetest.Backends(t)
}

// DatabaseURL returns "" for SQLite, or the URL of a fresh PostgreSQL schema
// dropped when the test ends; see storetest.DatabaseURL.
func DatabaseURL(t testing.TB, b Backend) string {
	t.Helper()
	return storetest.DatabaseURL(t, b)
}

// Env is a running control plane.
type Env struct {
	Server  *app.Server
	URL     string
	Token   string
	DataDir string
	Config  config.Config
	// Logs holds the control plane's log lines (StartLogged only).
	Logs *Logs
}

// Start assembles and serves a control plane on backend b.
func Start(t testing.TB, b Backend) *Env {
	t.Helper()
	return StartConfig(t, b, nil)
}

// StartConfig is Start with the configuration adjusted by tune (when
// non-nil) before it is validated; the data directory and database are
// set already.
func StartConfig(t testing.TB, b Backend, tune func(*config.Config)) *Env {
	t.Helper()
	return start(t, b, tune, nil)
}

// StartLogged is StartConfig keeping every log line of the control plane,
// at debug level, in Env.Logs: for tests that search the logs (for a
// secret that must never appear there, say).
func StartLogged(t testing.TB, b Backend, tune func(*config.Config)) *Env {
	t.Helper()
	logs := &Logs{}
	e := start(t, b, tune, logs)
	e.Logs = logs
	return e
}

// Logs is a log sink safe for concurrent writers.
type Logs struct {
	// mu guards b.
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was logged so far.
func (l *Logs) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func start(t testing.TB, b Backend, tune func(*config.Config), logs *Logs) *Env {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = DatabaseURL(t, b)
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PLEXSPHERE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
