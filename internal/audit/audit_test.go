package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/canonjson"
	"github.com/plexsphere/plexsphere/internal/store"
)

func openLog(t testing.TB, b apptest.Backend) (*audit.Log, *store.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: apptest.DatabaseURL(t, b), SQLitePath: t.TempDir() + "/a.db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	pepper := make([]byte, 32)
	rand.Read(pepper)
	l, err := audit.New(audit.Config{DB: db, Pepper: pepper})
	if err != nil {
		t.Fatal(err)
	}
	return l, db
}

func entry(i int) audit.Entry {
	return audit.Entry{
		ChainID: audit.PlatformChain, Action: "domain.create", Outcome: audit.Succeeded, Reason: "granted",
		IdentityRef: "user:0190", Relation: "manage", ObjectType: "domain", ObjectID: fmt.Sprintf("id-%d", i),
		DecisionResult: "allowed", CaveatNames: []string{"ip", "time"}, CorrelationID: fmt.Sprintf("corr-%d", i),
		IP: "127.0.0.1", UserAgent: "ua <&> \u2028 \"quoted\"",
	}
}

// TestCanonicalMatchesJCS holds the hand-ordered encoder to the general RFC
// 8785 canonicaliser applied to the wire form minus the excluded fields: for
// hash version 1 the identity reference, its commitment and the version;
// for version 2 (issue 7 row 11) only the identity reference, which its
// hashed commitment stands for.
func TestCanonicalMatchesJCS(t *testing.T) {
	v2 := entry(2)
	v2.HashVersion, v2.IdentityCommit = audit.HashV2, strings.Repeat("c", 64)
	// Version 3 (issue 16): an object id naming an identity is hashed
	// through its commitment.
	v3 := entry(3)
	v3.HashVersion, v3.IdentityCommit, v3.ObjectType, v3.ObjectCommit = audit.HashV3, strings.Repeat("c", 64),
		"identity", strings.Repeat("d", 64)
	v3plain := entry(4)
	v3plain.HashVersion, v3plain.IdentityCommit = audit.HashV3, strings.Repeat("c", 64)
	for _, e := range []audit.Entry{entry(1), v2, v3, v3plain, {ChainID: "x", OccurredAt: time.Unix(1, 5000).UTC(), Seq: 7},
		{IP: "::1", HashVersion: audit.HashV2}, {UserAgent: "only"}} {
		wire := e.API()
		raw, _ := json.Marshal(wire)
		var m map[string]any
		json.Unmarshal(raw, &m)
		delete(m, "entry_hash")
		delete(m, "prev_hash")
		delete(m["subject"].(map[string]any), "identity_id_ref")
		// Issue 8: the hash covers the stored reason and decision, which
		// the wire shows as reason_detail and decision.result_detail, and
		// the caveat names, the keys of decision.caveat_context.
		m["reason"] = m["reason_detail"]
		delete(m, "reason_detail")
		dec := m["decision"].(map[string]any)
		names := []string{}
		for n := range dec["caveat_context"].(map[string]any) {
			names = append(names, n)
		}
		sort.Strings(names)
		m["decision"] = map[string]any{"result": dec["result_detail"], "caveat_context": names}
		if e.HashVersion < audit.HashV2 {
			delete(m, "hash_version")
		} else {
			m["subject"].(map[string]any)["identity_id_ref_commitment"] = e.IdentityCommit
		}
		if e.HashVersion >= audit.HashV3 && e.ObjectCommit != "" {
			delete(m["object"].(map[string]any), "id")
		}
		stripped, _ := json.Marshal(m)
		want, err := canonjson.Canonicalize(stripped)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Canonical(nil); !bytes.Equal(got, want) {
			t.Fatalf("canonical mismatch:\n got %s\nwant %s", got, want)
		}
	}
}

func TestAppendAndVerify(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, entry(i)); return err })
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			if err != nil || !res.OK || res.EntriesLooked != 40 || res.SegmentTo != 40 {
				t.Fatalf("verify: %+v %v", res, err)
			}
			if seg, _ := audit.Verify(ctx, db, audit.PlatformChain, 10, 20); !seg.OK || seg.EntriesLooked != 11 {
				t.Fatalf("segment: %+v", seg)
			}
			// A rolled-back append leaves no trace and no gap.
			db.Tx(ctx, func(tx *sql.Tx) error { l.Append(ctx, tx, entry(99)); return fmt.Errorf("abort") })
			if res, _ := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); !res.OK || res.SegmentTo != 40 {
				t.Fatalf("after rollback: %+v", res)
			}
			if _, err := db.Exec(`UPDATE audit_entries SET reason = 'x' WHERE seq = 17`); err != nil {
				t.Fatal(err)
			}
			res, _ = audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			if res.OK || res.DivergentSeq != 17 || res.Reason != audit.ReasonHashMismatch {
				t.Fatalf("tampered: %+v", res)
			}
		})
	}
}

// BenchmarkAppend measures appends on SQLite, one transaction per entry as a
// request makes it (goal ≥ 5,000 entries/s).
func BenchmarkAppend(b *testing.B) {
	l, db := openLog(b, apptest.SQLite)
	ctx := context.Background()
	e := entry(1)
	b.ResetTimer()
	for b.Loop() {
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerify measures full-chain verification of 100,000 entries on
// SQLite (goal ≥ 200,000 entries/s).
func BenchmarkVerify(b *testing.B) {
	l, db := openLog(b, apptest.SQLite)
	ctx := context.Background()
	const n = 100_000
	for i := 0; i < n; i += 5000 {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			for j := range 5000 {
				if _, err := l.Append(ctx, tx, entry(i+j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
		if err != nil || !res.OK {
			b.Fatal(res, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// TestParallelVerifyFindsTheEarliestBreak builds a chain long enough to be
// verified in parallel segments and breaks it inside a later segment and at
// a segment boundary.
func TestParallelVerifyFindsTheEarliestBreak(t *testing.T) {
	defer audit.SetParallelMin(1000)()
	l, db := openLog(t, apptest.SQLite)
	ctx := context.Background()
	const n = 2400
	for i := 0; i < n; i += 800 {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			for j := range 800 {
				if _, err := l.Append(ctx, tx, entry(i+j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); err != nil || !res.OK || res.EntriesLooked != n {
		t.Fatalf("untouched: %+v %v", res, err)
	}
	// The second segment starts at n/2+1 on two CPUs; break its first row's
	// link, then also a row in the first half: the earliest one is named.
	boundary := int64(n/2 + 1)
	db.Exec(`UPDATE audit_entries SET prev_hash = $1 WHERE seq = $2`, strings.Repeat("ab", 32), boundary)
	res, _ := audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
	if res.OK || res.DivergentSeq != boundary {
		t.Fatalf("boundary break: %+v", res)
	}
	db.Exec(`DELETE FROM audit_entries WHERE seq = 77`)
	res, _ = audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
	if res.OK || res.DivergentSeq != 77 || res.Reason != audit.ReasonMissingSeq {
		t.Fatalf("earliest break: %+v", res)
	}
}
