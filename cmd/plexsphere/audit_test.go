package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Issue 7 row 11: `plexsphere audit verify` passes a chain whose tail was
// deleted and whose head was rewound; with --checkpoints (an export kept
// elsewhere) it exits 1 naming the checkpointed seq that is gone.
func TestAuditVerifyCheckpoints(t *testing.T) {
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
	pepper := make([]byte, 32)
	rand.Read(pepper)
	l, _ := audit.New(audit.Config{DB: db, Pepper: pepper})
	for range 4 {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := l.Append(ctx, tx, audit.Entry{ChainID: audit.PlatformChain, Action: "x", Outcome: audit.Succeeded})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	kr, _ := keyring.LoadOrCreate(filepath.Join(dir, "master.key"))
	keys, _ := signing.NewLocal(signing.LocalConfig{DB: db, Keyring: kr})
	cpr, _ := audit.NewCheckpointer(audit.CheckpointConfig{DB: db, Signer: keys})
	if n, err := cpr.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("flush: %d %v", n, err)
	}
	var file bytes.Buffer
	audit.ExportCheckpoints(ctx, db, audit.PlatformChain, 1, func(cp *audit.Checkpoint) error {
		return json.NewEncoder(&file).Encode(cp)
	})
	cpPath := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	os.WriteFile(cpPath, file.Bytes(), 0o600)

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := rootCommand(&out, io.Discard)
		root.SetArgs(append([]string{"audit", "verify", "--data-dir", dir}, args...))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	if out, err := run("--checkpoints", cpPath); err != nil || !strings.Contains(out, "ok (4 entries)") {
		t.Fatalf("intact: %q %v", out, err)
	}
	db.Exec(`DELETE FROM audit_entries WHERE seq = 4`)
	db.Exec(`DELETE FROM audit_checkpoints`)
	db.Exec(`UPDATE audit_chains SET last_seq = 3, last_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 3)`)
	if out, err := run(); err != nil || !strings.Contains(out, "ok (3 entries)") {
		t.Fatalf("truncated chain without checkpoints: %q %v", out, err)
	}
	out, err := run("--checkpoints", cpPath)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "BROKEN at seq 4 (checkpoint_entry_missing)") {
		t.Fatalf("truncated chain with checkpoints: %q %v", out, err)
	}
}
