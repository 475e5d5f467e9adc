package plexctl

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testNow is the clock of every test run.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// harness runs the plexctl tree in process against a recording fake API,
// with an environment of its own and a config file in a temp dir.
type harness struct {
	t   *testing.T
	srv *apiclienttest.Server
	env map[string]string
	cfg string // config file path
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, srv: apiclienttest.NewServer(t), env: map[string]string{}}
	h.cfg = filepath.Join(t.TempDir(), "plexctl", "config.yaml")
	h.env[envConfig] = h.cfg
	h.env[envServer] = h.srv.URL
	h.env[envToken] = "psk_dev_env"
	return h
}

// result is one run: exit code and captured output.
type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn(strings.NewReader(""), args...)
}

func (h *harness) runIn(stdin *strings.Reader, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(stdin, &out, &errb, func(k string) string { return h.env[k] })
	a.now = func() time.Time { return testNow }
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs args and fails the test unless the exit code is 0.
func (h *harness) ok(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != ExitOK {
		h.t.Fatalf("plexctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// writeConfig writes a config file verbatim.
func (h *harness) writeConfig(content string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.cfg), 0o700); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.cfg, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
