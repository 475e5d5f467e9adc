package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Issue 7 row 20: the SQLite database and its WAL and shared-memory files
// hold every credential hash and audit entry; they are created 0600 (not
// SQLite's 0644) under the usual umask, in a data directory created 0700,
// and an existing database left 0644 by an older version is tightened.
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "plexsphere.db")
	for _, pre := range []bool{false, true} {
		if pre {
			os.Chmod(path, 0o644)
			os.Chmod(path+"-wal", 0o644)
		}
		db, err := Open(context.Background(), Config{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (v TEXT); INSERT INTO t VALUES ('x')`); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("existing=%v: %s has mode %o, want 600", pre, filepath.Base(p), m)
			}
		}
		db.Close()
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v %v, want 700", fi.Mode().Perm(), err)
	}
}
