package audit_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"runtime"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// rehash rewrites entry seq's reason and recomputes its own entry_hash with
// the package's hash rule, so the entry verifies on its own and only the
// next entry's prev_hash gives it away. It returns a func restoring the row.
func rehash(t *testing.T, l *audit.Log, db *store.DB, seq int64) (restore func()) {
	t.Helper()
	ctx := context.Background()
	e, err := l.Get(ctx, audit.PlatformChain, seq)
	if err != nil {
		t.Fatal(err)
	}
	oldReason, oldHash := e.Reason, hex.EncodeToString(e.EntryHash[:])
	e.Reason = "rewritten"
	sum := audit.ChainHash(e.PrevHash, e.Canonical(nil))
	set := func(reason, hash string) {
		t.Helper()
		if _, err := db.Exec(`UPDATE audit_entries SET reason = $1, entry_hash = $2 WHERE chain_id = $3 AND seq = $4`,
			reason, hash, audit.PlatformChain, seq); err != nil {
			t.Fatal(err)
		}
	}
	set(e.Reason, hex.EncodeToString(sum[:]))
	return func() { set(oldReason, oldHash) }
}

// wantLinkBreak checks res names seq with a prev_hash mismatch.
func wantLinkBreak(t *testing.T, what string, res audit.Result, err error, seq int64) {
	t.Helper()
	if err != nil || res.OK || res.DivergentSeq != seq || res.Reason != audit.ReasonPrevMismatch {
		t.Fatalf("%s: %+v %v, want a %s at seq %d", what, res, err, audit.ReasonPrevMismatch, seq)
	}
}

// Issue 17 item 5: mutation: drop the `havePrv && e.PrevHash != s.last`
// case of segment.run in verify.go (the prev_hash = previous entry_hash
// check inside a segment) → this test fails. An entry rewritten together
// with its own hash verifies by itself; only the next entry's link catches
// it — online (Verify, whole chain and a segment), offline (the
// VerifyWithCheckpoints path of `plexsphere audit verify`), inside a later
// parallel segment and across a segment boundary.
func TestRewrittenEntryBreaksTheNextLink(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				for i := range 40 {
					if _, err := l.Append(ctx, tx, entry(i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			restore := rehash(t, l, db, 17)
			if e, err := l.Get(ctx, audit.PlatformChain, 17); err != nil || e.Reason != "rewritten" {
				t.Fatalf("rewrite: %+v %v", e, err)
			}
			res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			wantLinkBreak(t, "online", res, err, 18)
			res, err = audit.Verify(ctx, db, audit.PlatformChain, 10, 20)
			wantLinkBreak(t, "online segment", res, err, 18)
			res, err = audit.VerifyWithCheckpoints(ctx, db, audit.PlatformChain, nil, nil)
			wantLinkBreak(t, "offline", res, err, 18)
			restore()
			if res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); err != nil || !res.OK {
				t.Fatalf("restored: %+v %v", res, err)
			}

			// Two parallel segments, [1, 20] and [21, 40]: a rewrite of the
			// second segment's first entry is caught inside that segment,
			// one of the first segment's last entry across the boundary.
			defer audit.SetParallelMin(20)()
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
			restore = rehash(t, l, db, 21)
			res, err = audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			wantLinkBreak(t, "inside the second segment", res, err, 22)
			res, err = audit.VerifyWithCheckpoints(ctx, db, audit.PlatformChain, nil, nil)
			wantLinkBreak(t, "offline, second segment", res, err, 22)
			restore()
			restore = rehash(t, l, db, 20)
			res, err = audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			wantLinkBreak(t, "across the boundary", res, err, 21)
			restore()
		})
	}
}
