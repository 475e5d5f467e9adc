package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/secrets/embedded"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Issue 11: `plexsphere secrets rotate-kek` on a SQLite data directory
// makes a new KEK active and re-wraps every stored version under it, the
// values still read afterwards (by a fresh server and by one that loaded
// the old key set), and `drop-unused-keks` then removes the old key.
func TestSecretsRotateKEK(t *testing.T) {
	t.Setenv(embedded.EnvKEK, "")
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(dir, "plexsphere.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	kekFile := filepath.Join(dir, "secrets-kek")
	running, err := embedded.LoadKEKs(kekFile, "")
	if err != nil {
		t.Fatal(err)
	}
	old := running.ActiveID()
	server, _ := embedded.New(embedded.Config{DB: db, KEKs: running})
	want := map[string]string{"db-password": "hunter2", "api-key": "k-123", "tls-key": "-----BEGIN KEY-----"}
	for name, val := range want {
		p := backend.Path{DomainID: "dom", ProjectID: "prj", Name: name}
		server.Put(ctx, p, []byte("old "+val), backend.PutOptions{})
		if _, err := server.Put(ctx, p, []byte(val), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		root := rootCommand(&out, &errOut)
		root.SetArgs(append(args, "--data-dir", dir))
		err := root.ExecuteContext(ctx)
		return out.String(), errOut.String(), err
	}
	out, progress, err := run("secrets", "rotate-kek", "-o", "json")
	if err != nil {
		t.Fatalf("rotate-kek: %v (stderr %q)", err, progress)
	}
	var res embedded.RotateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("rotate-kek output %q: %v", out, err)
	}
	if res.Active == old || res.Rewrapped != 2*len(want) || res.Unreadable != 0 || res.Remaining[old] != 0 || len(res.Remaining) != 1 {
		t.Fatalf("rotate-kek result %+v (old key %s)", res, old)
	}
	if progress != "re-wrapped 6/6\n" {
		t.Errorf("progress on stderr: %q", progress)
	}
	var underOld int
	db.QueryRow(`SELECT COUNT(*) FROM secret_values WHERE kek_id <> $1`, res.Active).Scan(&underOld)
	if underOld != 0 {
		t.Errorf("%d rows not under the new key", underOld)
	}
	readAll := func(who string, b *embedded.Backend) {
		t.Helper()
		for name, val := range want {
			got, err := b.Get(ctx, backend.Path{DomainID: "dom", ProjectID: "prj", Name: name}, 0)
			if err != nil || string(got.Data) != val {
				t.Errorf("%s reads %s: %q %v", who, name, got.Data, err)
			}
		}
	}
	readAll("the running server", server)
	if running.ActiveID() != res.Active {
		t.Errorf("running server's active key %s, want %s", running.ActiveID(), res.Active)
	}

	out, _, err = run("secrets", "drop-unused-keks", "-o", "json")
	var drop struct{ Dropped, Kept []string }
	if err != nil || json.Unmarshal([]byte(out), &drop) != nil {
		t.Fatalf("drop-unused-keks: %q %v", out, err)
	}
	if !slices.Equal(drop.Dropped, []string{old}) || !slices.Equal(drop.Kept, []string{res.Active}) {
		t.Errorf("drop-unused-keks: %+v", drop)
	}
	text, _ := os.ReadFile(kekFile)
	if strings.Contains(string(text), old) || !strings.Contains(string(text), res.Active) {
		t.Errorf("key file after drop:\n%s", text)
	}
	fresh, err := embedded.LoadKEKs(kekFile, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := embedded.New(embedded.Config{DB: db, KEKs: fresh})
	readAll("a fresh server", b)

	if out, _, err := run("secrets", "drop-unused-keks"); err != nil || !strings.Contains(out, "no unused KEK to drop") {
		t.Errorf("second drop: %q %v", out, err)
	}
	if out, _, err := run("secrets", "rotate-kek"); err != nil || !strings.Contains(out, "(unused: drop-unused-keks removes it)") {
		t.Errorf("text output: %q %v", out, err)
	}
}

// The commands refuse clearly: keys from PLEXSPHERE_KEK (no file to
// change), a data directory without a KEK file, an unknown -o.
func TestSecretsCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) error {
		root := rootCommand(&bytes.Buffer{}, &bytes.Buffer{})
		root.SetArgs(append(args, "--data-dir", dir))
		return root.ExecuteContext(context.Background())
	}
	t.Setenv(embedded.EnvKEK, "")
	if err := run("secrets", "rotate-kek"); err == nil || !strings.Contains(err.Error(), "no KEK file at "+filepath.Join(dir, "secrets-kek")) {
		t.Errorf("no key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plexsphere.db")); err == nil {
		t.Error("a refused rotation created a database")
	}
	if err := run("secrets", "rotate-kek", "-o", "yaml"); err == nil || !strings.Contains(err.Error(), "want text or json") {
		t.Errorf("-o yaml: %v", err)
	}
	t.Setenv(embedded.EnvKEK, "k1 "+strings.Repeat("A", 43)+"=")
	if err := run("secrets", "rotate-kek"); err == nil || !strings.Contains(err.Error(), "--rewrap-only") {
		t.Errorf("rotate-kek with %s: %v", embedded.EnvKEK, err)
	}
	if err := run("secrets", "drop-unused-keks"); err == nil || !strings.Contains(err.Error(), embedded.EnvKEK) {
		t.Errorf("drop-unused-keks with %s: %v", embedded.EnvKEK, err)
	}
}
