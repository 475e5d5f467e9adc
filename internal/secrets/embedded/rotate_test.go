package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// Rotation re-wraps every row (over several batches) under the new key,
// values untouched, and reports the old key unused; dropping it leaves a
// file that a fresh server reads everything with.
func TestRotateRewrapsEveryRow(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		path := keyFile(t)
		keks := mustLoad(t, path, "")
		old := keks.ActiveID()
		want := bulkInsert(t, db, keks, 2*rewrapBatch+7)
		var calls [][2]int
		res, err := RotateKEK(ctx, db, path, func(done, total int) { calls = append(calls, [2]int{done, total}) })
		if err != nil {
			t.Fatal(err)
		}
		if res.Active == old || res.Rewrapped != len(want) || res.Unreadable != 0 || len(res.Remaining) != 1 || res.Remaining[old] != 0 {
			t.Fatalf("result %+v (old key %s)", res, old)
		}
		if len(calls) != 3 || calls[2] != [2]int{len(want), len(want)} || calls[0][0] != rewrapBatch {
			t.Errorf("progress calls %v", calls)
		}
		if got := kekIDs(t, db); len(got) != 1 || got[res.Active] != len(want) {
			t.Errorf("rows per key after rotation: %v", got)
		}
		dropped, err := DropUnusedKEKs(ctx, db, path)
		if err != nil || !slices.Equal(dropped, []string{old}) {
			t.Fatalf("drop: %v %v", dropped, err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode after rewrite: %v", fi.Mode().Perm())
		}
		fresh := mustLoad(t, path, "")
		if !slices.Equal(fresh.IDs(), []string{res.Active}) {
			t.Errorf("ids after drop: %v", fresh.IDs())
		}
		b := mustNew(t, db, fresh)
		for p, v := range want {
			wantValue(t, b, p, 1, v)
		}
		if again, err := DropUnusedKEKs(ctx, db, path); err != nil || again != nil {
			t.Errorf("second drop: %v %v", again, err)
		}
	})
}

// A server keeps working through a rotation run by another process: it
// reads re-wrapped rows by re-reading the file, a write it wrapped under
// the old key in the meantime keeps that key in use (drop leaves it), and
// a second run moves it.
func TestRotateThroughAnotherReplica(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		path := keyFile(t)
		keks := mustLoad(t, path, "")
		clock := newClock()
		keks.now = clock.now
		old := keks.ActiveID()
		b := mustNew(t, db, keks)
		early, late := testPath("early"), testPath("late")
		mustPut(t, b, early, "before the rotation")

		res, err := RotateKEK(ctx, db, path, nil)
		if err != nil || res.Rewrapped != 1 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		mustPut(t, b, late, "written under the old key") // within a second of its last file check
		if got := kekIDs(t, db); got[old] != 1 || got[res.Active] != 1 {
			t.Fatalf("rows per key: %v", got)
		}
		wantValue(t, b, early, 1, "before the rotation") // unknown id: re-reads the file
		if keks.ActiveID() != res.Active {
			t.Errorf("server active key %s after re-reading, want %s", keks.ActiveID(), res.Active)
		}
		if dropped, err := DropUnusedKEKs(ctx, db, path); err != nil || dropped != nil {
			t.Fatalf("drop while the late row uses the old key: %v %v", dropped, err)
		}
		second, err := RotateKEK(ctx, db, path, nil)
		if err != nil || second.Rewrapped != 2 || second.Remaining[old] != 0 || second.Remaining[res.Active] != 0 {
			t.Fatalf("second rotation: %+v %v", second, err)
		}
		dropped, err := DropUnusedKEKs(ctx, db, path)
		if err != nil || len(dropped) != 2 || !slices.Contains(dropped, old) {
			t.Fatalf("drop after the second run: %v %v", dropped, err)
		}
		clock.advance(2 * time.Second)
		wantValue(t, b, late, 1, "written under the old key")
		wantValue(t, mustNew(t, db, mustLoad(t, path, "")), late, 1, "written under the old key")
		v := mustPut(t, b, late, "after")
		if got := kekIDs(t, db); got[second.Active] != 3 {
			t.Errorf("rows per key after a write: %v (v%d)", got, v)
		}
	})
}

// Writers running through a rotation lose nothing: every version reads
// back afterwards, under the new or (written late) the old key.
func TestRotateWhileWriting(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		path := keyFile(t)
		b := mustNew(t, db, mustLoad(t, path, ""))
		want := bulkInsert(t, db, mustLoad(t, path, ""), 300)
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for w := range 4 {
			wg.Go(func() {
				for i := range 25 {
					p := testPath(fmt.Sprintf("bulk-%d", (w*25+i)%300))
					val := fmt.Sprintf("writer-%d-%d", w, i)
					v, err := b.Put(ctx, p, []byte(val), backend.PutOptions{})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					want[backend.Path{DomainID: p.DomainID, ProjectID: p.ProjectID, Name: fmt.Sprintf("%s@%d", p.Name, v)}] = val
					mu.Unlock()
				}
			})
		}
		res, err := RotateKEK(ctx, db, path, nil)
		wg.Wait()
		if err != nil || res.Unreadable != 0 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		reader := mustNew(t, db, mustLoad(t, path, ""))
		for p, val := range want {
			version := int64(1)
			if name, v, ok := strings.Cut(p.Name, "@"); ok {
				p.Name = name
				fmt.Sscan(v, &version)
			}
			wantValue(t, reader, p, version, val)
		}
	})
}

// Rows under a key the file does not hold are counted, left alone, and
// reported under their id.
func TestRewrapReportsUnreadableRows(t *testing.T) {
	db := openDB(t, storetest.SQLite)
	path := keyFile(t)
	b := mustNew(t, db, mustLoad(t, path, ""))
	mustPut(t, b, testPath("fine"), "ok")
	mustPut(t, b, testPath("ghost"), "lost")
	db.Exec(`UPDATE secret_values SET kek_id = 'ghost' WHERE path = $1`, testPath("ghost").String())
	res, err := RotateKEK(context.Background(), db, path, nil)
	if err != nil || res.Rewrapped != 1 || res.Unreadable != 1 || res.Remaining["ghost"] != 1 {
		t.Fatalf("rotate: %+v %v", res, err)
	}
}

// One rotation or drop at a time per file; a missing file is not
// rotated (nor created).
func TestRotateRefusals(t *testing.T) {
	db := openDB(t, storetest.SQLite)
	ctx := context.Background()
	path := keyFile(t)
	mustLoad(t, path, "")
	unlock, err := lockKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RotateKEK(ctx, db, path, nil); !errors.Is(err, ErrKEKBusy) {
		t.Errorf("rotate while locked: %v", err)
	}
	if _, err := DropUnusedKEKs(ctx, db, path); !errors.Is(err, ErrKEKBusy) {
		t.Errorf("drop while locked: %v", err)
	}
	unlock()
	missing := keyFile(t)
	os.MkdirAll(filepath.Dir(missing), 0o700)
	if _, err := RotateKEK(ctx, db, missing, nil); err == nil || !strings.Contains(err.Error(), "no KEK file") {
		t.Errorf("rotate a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rotation created the file: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := RotateKEK(ctx, db, path, nil); !errors.Is(err, ErrKEKFileMode) {
		t.Errorf("rotate a 0644 file: %v", err)
	}
}
