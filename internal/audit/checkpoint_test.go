package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
)

// fakeClock is a settable clock.
type fakeClock struct {
	// mu guards t.
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// appendN appends n entries to chain, one transaction each.
func appendN(t testing.TB, l *audit.Log, db *store.DB, chain string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		e := entry(i)
		e.ChainID = chain
		if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
			t.Fatal(err)
		}
	}
}

// newCheckpointer signs with the real local key manager.
func newCheckpointer(t testing.TB, db *store.DB, every int64, interval time.Duration, now func() time.Time,
	logw io.Writer) *audit.Checkpointer {
	t.Helper()
	kr, err := keyring.LoadOrCreate(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := signing.NewLocal(signing.LocalConfig{DB: db, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.NewCheckpointer(audit.CheckpointConfig{DB: db, Signer: keys, Every: every, Interval: interval, Now: now,
		Logger: slog.New(slog.NewTextHandler(logw, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// exportFile is the checkpoint export as an operator keeps it off the host.
func exportFile(t testing.TB, db *store.DB, chain string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := audit.ExportCheckpoints(context.Background(), db, chain, 1, func(cp *audit.Checkpoint) error {
		return enc.Encode(cp)
	}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFile(t testing.TB, raw []byte) []audit.Checkpoint {
	t.Helper()
	cps, err := audit.ReadCheckpoints(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return cps
}

// Issue 7 row 11: identity_id_ref was not covered by the entry hash, so it
// could be rewritten without verification noticing. Entries written now
// (hash_version 2) bind it through a salted commitment; erasing it (ref and
// salt cleared) keeps the chain valid; version 1 entries still verify under
// their own rule.
func TestIdentityRefIsHashed(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			restore := audit.SetHashVersion(audit.HashV1)
			appendN(t, l, db, audit.PlatformChain, 3)
			restore()
			appendN(t, l, db, audit.PlatformChain, 4)
			if res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); err != nil || !res.OK || res.EntriesLooked != 7 {
				t.Fatalf("mixed v1/v2 chain: %+v %v", res, err)
			}
			var v1, v2 int
			db.QueryRow(`SELECT hash_version FROM audit_entries WHERE seq = 2`).Scan(&v1)
			db.QueryRow(`SELECT hash_version FROM audit_entries WHERE seq = 5`).Scan(&v2)
			if v1 != audit.HashV1 || v2 != audit.HashV3 {
				t.Fatalf("hash versions: %d %d", v1, v2)
			}
			// Erasure of a version 2 entry's identity keeps the chain whole.
			if _, err := db.Exec(`UPDATE audit_entries SET identity_id_ref = '', identity_ref_salt = '' WHERE seq = 4`); err != nil {
				t.Fatal(err)
			}
			if res, _ := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); !res.OK {
				t.Fatalf("after erasure: %+v", res)
			}
			if _, err := db.Exec(`UPDATE audit_entries SET identity_id_ref = 'user:someone-else' WHERE seq = 6`); err != nil {
				t.Fatal(err)
			}
			res, _ := audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			if res.OK || res.DivergentSeq != 6 || res.Reason != audit.ReasonIdentityRefMismatch {
				t.Fatalf("tampered identity_id_ref verified: %+v", res)
			}
			// Rewriting the commitment to match breaks the entry hash instead.
			e, _ := l.Get(ctx, audit.PlatformChain, 6)
			db.Exec(`UPDATE audit_entries SET identity_ref_commit = $1 WHERE seq = 6`,
				strings.Repeat("0", 64))
			res, _ = audit.Verify(ctx, db, audit.PlatformChain, 0, 0)
			if res.OK || res.DivergentSeq != 6 || res.Reason != audit.ReasonHashMismatch || e.IdentityCommit == "" {
				t.Fatalf("tampered commitment: %+v", res)
			}
		})
	}
}

// Issue 7 row 11: deleting a chain's newest entries and rewinding its head
// verified as ok; nothing in the database can show it, since an attacker
// who writes the database rewrites the head too. A signed checkpoint kept
// elsewhere names a seq the chain no longer holds. Rewriting the chain from
// the rewound head (new entries, recomputed hashes) is caught the same way,
// and so is a tampered checkpoint.
func TestCheckpointsDetectTruncation(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			cpr := newCheckpointer(t, db, 5, time.Hour, clk.Now, io.Discard)
			appendN(t, l, db, audit.PlatformChain, 10)
			if n, err := cpr.Tick(ctx); err != nil || n != 1 {
				t.Fatalf("first tick: %d %v", n, err)
			}
			file := exportFile(t, db, audit.PlatformChain)
			cps := readFile(t, file)
			if len(cps) != 1 || cps[0].Seq != 10 || cps[0].KID == "" {
				t.Fatalf("export: %s", file)
			}
			if res, err := audit.VerifyWithCheckpoints(ctx, db, audit.PlatformChain, cps, nil); err != nil || !res.OK {
				t.Fatalf("intact chain: %+v %v", res, err)
			}

			// The attack: delete seq 8..10, rewind the head to 7, drop the
			// stored checkpoints.
			var hash7 string
			db.QueryRow(`SELECT entry_hash FROM audit_entries WHERE seq = 7`).Scan(&hash7)
			for _, q := range []string{`DELETE FROM audit_entries WHERE seq > 7`, `DELETE FROM audit_checkpoints`} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Exec(`UPDATE audit_chains SET last_seq = 7, last_hash = $1`, hash7); err != nil {
				t.Fatal(err)
			}
			// Without checkpoints the truncated chain verifies: that is why
			// they are needed.
			if res, _ := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); !res.OK || res.SegmentTo != 7 {
				t.Fatalf("truncated chain without checkpoints: %+v", res)
			}
			res, _ := audit.VerifyWithCheckpoints(ctx, db, audit.PlatformChain, cps, nil)
			if res.OK || res.DivergentSeq != 10 || res.Reason != audit.ReasonCheckpointMissing {
				t.Fatalf("truncation with checkpoints: %+v", res)
			}
			// Rewriting the tail with fresh entries and valid hashes.
			appendN(t, l, db, audit.PlatformChain, 3)
			res, _ = audit.VerifyWithCheckpoints(ctx, db, audit.PlatformChain, cps, nil)
			if res.OK || res.DivergentSeq != 10 || res.Reason != audit.ReasonCheckpointMismatch {
				t.Fatalf("rewritten tail: %+v", res)
			}

			// A forged checkpoint: moved to the rewritten hash, or signed by
			// another key than the pinned one.
			forged := cps[0]
			db.QueryRow(`SELECT entry_hash FROM audit_entries WHERE seq = 10`).Scan(&forged.EntryHash)
			res, _ = audit.CheckCheckpoints(ctx, db, audit.PlatformChain, []audit.Checkpoint{forged}, nil)
			if res.OK || res.DivergentSeq != 10 || res.Reason != audit.ReasonCheckpointSignature {
				t.Fatalf("checkpoint moved to another hash: %+v", res)
			}
			bad := cps[0]
			sig, _ := base64.StdEncoding.DecodeString(bad.Signature)
			sig[0] ^= 1
			bad.Signature = base64.StdEncoding.EncodeToString(sig)
			if res, _ := audit.CheckCheckpoints(ctx, db, audit.PlatformChain, []audit.Checkpoint{bad}, nil); res.OK ||
				res.Reason != audit.ReasonCheckpointSignature {
				t.Fatalf("tampered signature: %+v", res)
			}
			pub, priv, _ := ed25519.GenerateKey(rand.Reader)
			self := forged
			self.PublicKey = base64.StdEncoding.EncodeToString(pub)
			self.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, audit.CheckpointMessage(&self)))
			if res, _ := audit.CheckCheckpoints(ctx, db, audit.PlatformChain, []audit.Checkpoint{self}, nil); !res.OK {
				t.Fatalf("a self-signed checkpoint is valid under its own key: %+v", res)
			}
			realPub, _ := base64.StdEncoding.DecodeString(cps[0].PublicKey)
			pinned := audit.Keys{cps[0].KID: realPub}
			if res, _ := audit.CheckCheckpoints(ctx, db, audit.PlatformChain, []audit.Checkpoint{self}, pinned); res.OK ||
				res.Reason != audit.ReasonCheckpointUntrusted {
				t.Fatalf("self-signed checkpoint against pinned keys: %+v", res)
			}
		})
	}
}

// Issue 7 row 11: checkpoints are written every N entries or T, and never
// for a head behind its last checkpoint.
func TestCheckpointCadence(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			var logs bytes.Buffer
			cpr := newCheckpointer(t, db, 5, time.Hour, clk.Now, &logs)
			tick := func(want int) {
				t.Helper()
				if n, err := cpr.Tick(ctx); err != nil || n != want {
					t.Fatalf("tick: %d checkpoints, want %d (%v)", n, want, err)
				}
			}
			tick(0) // no chain yet
			appendN(t, l, db, audit.PlatformChain, 2)
			tick(1) // a chain's first checkpoint is due at once
			tick(0)
			appendN(t, l, db, audit.PlatformChain, 4)
			tick(0) // 4 < N and T not reached
			appendN(t, l, db, audit.PlatformChain, 1)
			tick(1) // N reached
			appendN(t, l, db, audit.PlatformChain, 1)
			clk.Advance(time.Hour)
			tick(1) // T reached
			appendN(t, l, db, audit.PlatformChain, 1)
			tick(0)
			if n, err := cpr.Flush(ctx); err != nil || n != 1 { // Flush ignores N and T
				t.Fatalf("flush: %d %v", n, err)
			}
			clk.Advance(2 * time.Hour)
			tick(0) // nothing new
			var seqs []int64
			audit.ExportCheckpoints(ctx, db, audit.PlatformChain, 1, func(cp *audit.Checkpoint) error {
				seqs = append(seqs, cp.Seq)
				return nil
			})
			if len(seqs) != 4 || seqs[0] != 2 || seqs[1] != 7 || seqs[2] != 8 || seqs[3] != 9 {
				t.Fatalf("checkpoint seqs %v", seqs)
			}
			// A rewound head is not signed over, and is reported once.
			db.Exec(`DELETE FROM audit_entries WHERE seq > 6`)
			db.Exec(`UPDATE audit_chains SET last_seq = 6, last_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 6)`)
			clk.Advance(2 * time.Hour)
			tick(0)
			tick(0)
			if n := strings.Count(logs.String(), "behind its last checkpoint"); n != 1 {
				t.Fatalf("rewound head reported %d times: %s", n, logs.String())
			}
			// A head that names no stored entry is not signed either.
			db.Exec(`UPDATE audit_chains SET last_seq = 99`)
			tick(0)
			if n := strings.Count(logs.String(), "does not match its entry"); n != 1 {
				t.Fatalf("mismatched head reported %d times: %s", n, logs.String())
			}
		})
	}
}

// TestReadKeys accepts a signing-keys list answer, JSON Lines and
// arrays, and refuses malformed keys.
func TestReadKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	p := base64.StdEncoding.EncodeToString(pub)
	for _, in := range []string{
		`{"items":[{"kid":"a","public_key":"` + p + `","status":"active"}]}`,
		`{"kid":"a","public_key":"` + p + `"}` + "\n",
		`[{"kid":"a","public_key":"` + p + `"}]`,
	} {
		keys, err := audit.ReadKeys(strings.NewReader(in))
		if err != nil || !keys["a"].Equal(pub) {
			t.Fatalf("%s: %v %v", in, keys, err)
		}
	}
	for _, in := range []string{``, `{"kid":"a","public_key":"AAAA"}`, `{"items":[]}`, `nope`} {
		if _, err := audit.ReadKeys(strings.NewReader(in)); err == nil {
			t.Fatalf("%q accepted", in)
		}
	}
}

// FuzzReadCheckpoints: the checkpoint file is read by the offline verifier
// and must never panic.
func FuzzReadCheckpoints(f *testing.F) {
	f.Add([]byte(`{"domain_id":"x","seq":1,"entry_hash":"` + strings.Repeat("a", 64) + `"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cps, err := audit.ReadCheckpoints(bytes.NewReader(b))
		for _, cp := range cps {
			if err == nil && (cp.Seq < 1 || len(cp.EntryHash) != 64) {
				t.Fatalf("accepted %+v", cp)
			}
		}
		audit.ReadKeys(bytes.NewReader(b))
	})
}
