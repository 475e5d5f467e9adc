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

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Issue 16 item 6: after an identity is erased, `plexsphere audit verify`
// (offline, against checkpoints exported before the erasure) still passes,
// the database no longer names the identity, and putting its reference
// back is detected.
func TestAuditVerifyAfterErasure(t *testing.T) {
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
	id, other := uuid.NewString(), uuid.NewString()
	for i, e := range []audit.Entry{
		{IdentityRef: "user:" + id, Action: "session.create", ObjectType: "identity", ObjectID: id},
		{IdentityRef: "user:" + id, Action: "domain.update", ObjectType: "domain", ObjectID: "d-1"},
		{IdentityRef: "user:" + other, Action: "domain.update", ObjectType: "domain", ObjectID: "d-1"},
		{IdentityRef: "user:" + other, Action: "service_identity.create", ObjectType: "user", ObjectID: "user:" + id},
	} {
		e.ChainID, e.Outcome = audit.PlatformChain, audit.Succeeded
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
			t.Fatalf("entry %d: %v", i, err)
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
	names := func() int {
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE identity_id_ref LIKE $1 OR object_id LIKE $1`, "%"+id+"%").Scan(&n)
		return n
	}
	if names() != 3 {
		t.Fatalf("positive control: %d entries name the identity, want 3", names())
	}
	rep, err := l.EraseIdentity(ctx, nil, audit.PlatformChain, id)
	if err != nil || rep.Erased != 4 || rep.NotErasable != 0 {
		t.Fatalf("erase: %+v %v", rep, err)
	}
	if n := names(); n != 0 {
		t.Fatalf("%d entries still name the identity", n)
	}
	if out, err := run("--checkpoints", cpPath); err != nil || !strings.Contains(out, "ok (4 entries)") {
		t.Fatalf("after erasure: %q %v", out, err)
	}
	db.Exec(`UPDATE audit_entries SET identity_id_ref = $1 WHERE seq = 2`, "user:"+id)
	out, err := run("--checkpoints", cpPath)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "BROKEN at seq 2 (identity_ref_mismatch)") {
		t.Fatalf("re-linked after erasure: %q %v", out, err)
	}
	db.Exec(`UPDATE audit_entries SET identity_id_ref = '' WHERE seq = 2`)
	db.Exec(`UPDATE audit_entries SET object_id = $1 WHERE seq = 4`, "user:"+id)
	if out, err := run(); !errors.As(err, &ee) || !strings.Contains(out, "BROKEN at seq 4 (object_ref_mismatch)") {
		t.Fatalf("object id put back after erasure: %q %v", out, err)
	}
}
