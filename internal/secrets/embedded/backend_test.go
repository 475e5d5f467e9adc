package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/secrets/backend/backendtest"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// The embedded backend passes the one compliance suite, on SQLite and on
// PostgreSQL.
func TestCompliance(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		keks := mustLoad(t, keyFile(t), "")
		backendtest.Run(t, func(t *testing.T) backend.Backend { return mustNew(t, db, keks) })
	})
}

func TestNewNamesMissingFields(t *testing.T) {
	db := openDB(t, storetest.SQLite)
	if _, err := New(Config{KEKs: mustLoad(t, keyFile(t), "")}); err == nil || !strings.Contains(err.Error(), "Config.DB") {
		t.Errorf("no DB: %v", err)
	}
	if _, err := New(Config{DB: db}); err == nil || !strings.Contains(err.Error(), "Config.KEKs") {
		t.Errorf("no KEKs: %v", err)
	}
	b := mustNew(t, db, mustLoad(t, keyFile(t), ""))
	if b.Name() != "embedded" {
		t.Errorf("name %q", b.Name())
	}
}

// A row's value and data key are bound to its path and version: copied
// to another path, another version, or paired with another row's data
// key, it does not open, and the error carries no value.
func TestMovedRowFailsToOpen(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		b := mustNew(t, db, mustLoad(t, keyFile(t), ""))
		ctx := context.Background()
		p1, p2 := testPath("first"), testPath("second")
		mustPut(t, b, p1, "secret-one-v1")
		mustPut(t, b, p1, "secret-one-v2")
		mustPut(t, b, p2, "secret-two-v1")
		copyRow := func(fromPath string, fromVersion int64, toPath string, toVersion int64, cols string) {
			t.Helper()
			q := `UPDATE secret_values SET (` + cols + `) = (SELECT ` + cols + ` FROM secret_values WHERE path = $1 AND version = $2)
				WHERE path = $3 AND version = $4`
			if _, err := db.Exec(q, fromPath, fromVersion, toPath, toVersion); err != nil {
				t.Fatal(err)
			}
		}
		const all = "kek_id, wrapped_key, ciphertext"
		for _, c := range []struct {
			name  string
			move  func()
			check backend.Path
			ver   int64
		}{
			{"to another path", func() { copyRow(p1.String(), 1, p2.String(), 1, all) }, p2, 1},
			{"to another version", func() { copyRow(p1.String(), 1, p1.String(), 2, all) }, p1, 2},
		} {
			c.move()
			_, err := b.Get(ctx, c.check, c.ver)
			if !errors.Is(err, ErrUnseal) || strings.Contains(err.Error(), "secret-one") {
				t.Errorf("row moved %s: %v, want ErrUnseal without the value", c.name, err)
			}
		}
		p3 := testPath("third")
		mustPut(t, b, p3, "secret-three")
		mustPut(t, b, p3, "secret-three-v2")
		copyRow(p3.String(), 2, p3.String(), 1, "ciphertext") // v2's value under v1's data key
		if _, err := b.Get(ctx, p3, 1); !errors.Is(err, ErrUnseal) {
			t.Errorf("value swapped under another data key: %v, want ErrUnseal", err)
		}
		wantValue(t, b, p3, 2, "secret-three-v2")
	})
}

// A key set whose key under the row's id is not the one that wrapped it
// fails with ErrUnseal naming the KEK; a set without the id at all fails
// with ErrUnknownKEK naming it.
func TestWrongKEKFailsClearly(t *testing.T) {
	db := openDB(t, storetest.SQLite)
	right := mustLoad(t, keyFile(t), "")
	p := testPath("api-key")
	mustPut(t, mustNew(t, db, right), p, "the-value")
	id := right.ActiveID()

	other := make([]byte, 32)
	rand.Read(other)
	wrong := mustLoad(t, "", id+" "+base64.StdEncoding.EncodeToString(other))
	_, err := mustNew(t, db, wrong).Get(context.Background(), p, 1)
	if !errors.Is(err, ErrUnseal) || !strings.Contains(err.Error(), `KEK "`+id+`"`) || strings.Contains(err.Error(), "the-value") {
		t.Errorf("wrong key under the same id: %v", err)
	}
	stranger := mustLoad(t, "", base64.StdEncoding.EncodeToString(other))
	_, err = mustNew(t, db, stranger).Get(context.Background(), p, 1)
	if !errors.Is(err, ErrUnknownKEK) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), EnvKEK) {
		t.Errorf("set without the id: %v", err)
	}
}

// No value reaches the SQLite files in the clear (nor merely base64
// encoded): the database, its WAL and journal are scanned for a
// distinctive value after writes, before and after a checkpoint.
func TestNoPlaintextInDatabaseFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(dir, "plexsphere.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 12)
	rand.Read(raw)
	canary := "plexsphere-canary-" + hex.EncodeToString(raw)
	b := mustNew(t, db, mustLoad(t, keyFile(t), ""))
	for i := range 5 {
		mustPut(t, b, testPath("canary"), strings.Repeat(canary, i+1))
	}
	wantValue(t, b, testPath("canary"), 1, canary)
	scan := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "plexsphere.db*"))
		if len(files) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, needle := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary))[:24], hex.EncodeToString(raw)} {
				if bytes.Contains(data, []byte(needle)) {
					t.Errorf("%s: %s holds the value (%q)", when, filepath.Base(f), needle)
				}
			}
		}
	}
	scan("after writes")
	db.Close()
	scan("after close")
}
