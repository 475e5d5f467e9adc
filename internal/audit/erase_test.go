package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
	"github.com/plexsphere/plexsphere/internal/store"
)

// dumpTable renders every column of every row of table as text, one line a
// row, so that a test can search all that is stored.
func dumpTable(t *testing.T, db *store.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			fmt.Fprintf(&b, "%s=%s\t", cols[i], v.String)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// stored is everything the audit trail holds or gives out: both tables and
// the entry and checkpoint exports of the Domain and platform chains.
func stored(t *testing.T, f *oidctest.Fixture, dom string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(dumpTable(t, f.Server.DB, "audit_entries"))
	b.WriteString(dumpTable(t, f.Server.DB, "audit_pseudonym_keys"))
	for _, p := range []string{"/v1/domains/" + dom + "/audit", "/v1/platform/audit"} {
		for _, x := range []string{"/entries:export", "/checkpoints:export"} {
			resp, raw := f.Send(t, f.Token, "GET", p+x)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s%s: %d %s", p, x, resp.StatusCode, raw)
			}
			b.Write(raw)
		}
	}
	return b.String()
}

// Issue 16 item 6: after erase-identity no entry, column or export names
// the identity (its id, e-mail or IdP subject), the chains verify online
// and offline against checkpoints exported before the erasure, and
// tampering after the erasure is still detected. The user signs in through
// the real development OpenID Provider, so the entries are the ones a
// sign-in really writes.
func TestEraseIdentity(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			ctx := context.Background()
			db := f.Server.DB
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "erasure", "100.70.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})

			alice, bob := f.Browser(t), f.Browser(t)
			alice.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			bob.SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)
			var aliceID, bobID string
			db.QueryRow(`SELECT id FROM identities WHERE display_name = 'Alice Example'`).Scan(&aliceID)
			db.QueryRow(`SELECT id FROM identities WHERE display_name = 'Bob Example'`).Scan(&bobID)
			if _, err := uuid.Parse(aliceID); err != nil || bobID == "" {
				t.Fatalf("identities: %q %q", aliceID, bobID)
			}
			// Alice leaves entries on both chains: denied changes on the
			// Domain and on the platform.
			for _, r := range []struct{ method, path string }{
				{"PATCH", "/v1/domains/" + dom}, {"POST", "/v1/domains"}, {"DELETE", "/v1/domains/" + dom},
			} {
				resp, raw := alice.Do(t, r.method, r.path, map[string]any{"name": "x", "slug": "x", "mesh_cidr": "10.9.0.0/16"}, true, nil)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("alice %s %s: %d %s", r.method, r.path, resp.StatusCode, raw)
				}
			}
			resp, _ := bob.Do(t, "POST", "/v1/domains", map[string]any{"name": "y", "slug": "y", "mesh_cidr": "10.8.0.0/16"}, true, nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("bob: %d", resp.StatusCode)
			}
			// Checkpoints exported before the erasure, kept off the host.
			if _, err := f.Server.Checkpoints.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var cps []audit.Checkpoint
			for _, c := range []string{dom, audit.PlatformChain} {
				audit.ExportCheckpoints(ctx, db, c, 1, func(cp *audit.Checkpoint) error { cps = append(cps, *cp); return nil })
			}
			var file bytes.Buffer
			for _, cp := range cps {
				json.NewEncoder(&file).Encode(cp)
			}
			cps, err := audit.ReadCheckpoints(&file)
			if err != nil || len(cps) < 2 {
				t.Fatalf("checkpoints: %d %v", len(cps), err)
			}

			// Positive control: before the erasure the trail names alice
			// (her reference, and her id as the object of her sign-in).
			before := stored(t, f, dom)
			if !strings.Contains(before, aliceID) || !strings.Contains(before, bobID) {
				t.Fatal("positive control: the trail does not name alice and bob before the erasure")
			}
			var pseudonym string
			db.QueryRow(`SELECT subject_pseudonym FROM audit_entries WHERE chain_id = $1 AND identity_id_ref = $2`,
				dom, "user:"+aliceID).Scan(&pseudonym)

			// A caller who is no admin is refused, and the refusal audited.
			resp, raw := bob.Do(t, "POST", "/v1/domains/"+dom+"/audit/erase-identity", map[string]any{"identity_id": aliceID}, true, nil)
			if resp.StatusCode != http.StatusForbidden || count(t, db, `action = 'audit.erase-identity' AND outcome = 'denied'
				AND chain_id = $1`, dom) != 1 {
				t.Fatalf("bob erasing alice: %d %s", resp.StatusCode, raw)
			}
			var denied struct {
				Code          string `json:"code"`
				Reason        string `json:"reason"`
				CorrelationID string `json:"correlation_id"`
			}
			if json.Unmarshal(raw, &denied); denied.Code != "permission_denied" || denied.Reason == "" || denied.CorrelationID == "" {
				t.Fatalf("bob's refusal is no PermissionDenied: %s", raw)
			}
			// Made the Domain's admin, bob erases alice through his own
			// session; he still cannot erase on the platform chain or in
			// another Domain.
			if st, raw := f.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + bobID,
				Relation: "admin", Resource: "domain:" + dom}, nil); st != http.StatusCreated {
				t.Fatalf("grant: %d %s", st, raw)
			}
			other := f.Domain(t, "elsewhere", "100.71.0.0/16")
			for _, p := range []string{"/v1/platform/audit/erase-identity", "/v1/domains/" + other + "/audit/erase-identity"} {
				resp, raw := bob.Do(t, "POST", p, map[string]any{"identity_id": aliceID}, true, nil)
				if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
					t.Fatalf("bob erasing alice at %s: %d %s", p, resp.StatusCode, raw)
				}
			}
			var out apiv1.AuditEraseIdentityResponse
			resp, raw = bob.Do(t, "POST", "/v1/domains/"+dom+"/audit/erase-identity", map[string]any{"identity_id": aliceID}, true, nil)
			st := resp.StatusCode
			json.Unmarshal(raw, &out)
			if st != http.StatusAccepted || out.SubjectPseudonym != pseudonym || pseudonym == "" || out.EntriesErased < 3 ||
				out.EntriesNotErasable != 0 || out.ErasedAt.IsZero() {
				t.Fatalf("domain erasure: %d %s (alice's pseudonym %s)", st, raw, pseudonym)
			}
			// The Domain chain no longer names her; the platform chain still does.
			if n := count(t, db, `chain_id = $1 AND (identity_id_ref LIKE $2 OR object_id LIKE $2)`, dom, "%"+aliceID+"%"); n != 0 {
				t.Fatalf("%d Domain entries still name alice", n)
			}
			if n := count(t, db, `chain_id = $1 AND identity_id_ref = $2`, audit.PlatformChain, "user:"+aliceID); n == 0 {
				t.Fatal("a Domain erasure reached the platform chain")
			}
			// The erasure is an entry of its own naming the pseudonym.
			if n := count(t, db, `chain_id = $1 AND action = 'audit.erase-identity' AND outcome = 'succeeded'
				AND object_type = 'audit_subject' AND object_id = $2`, dom, pseudonym); n != 1 {
				t.Fatalf("erasure entries: %d", n)
			}

			st, raw = f.Do(t, "POST", "/v1/platform/audit/erase-identity", apiv1.AuditEraseIdentityRequest{IdentityID: aliceID}, &out)
			if st != http.StatusAccepted || out.EntriesErased == 0 {
				t.Fatalf("platform erasure: %d %s", st, raw)
			}
			after := stored(t, f, dom)
			for _, s := range []string{aliceID, "alice@example.test", "Alice Example", "=alice\t", `"alice"`} {
				if strings.Contains(after, s) {
					t.Errorf("after the erasure the trail still holds %q", s)
				}
			}
			if !strings.Contains(after, bobID) {
				t.Error("the erasure of alice erased bob too")
			}
			// Her pseudonym cannot be derived again: new entries of hers get
			// another one.
			resp, _ = alice.Do(t, "PATCH", "/v1/domains/"+dom, map[string]any{"name": "z"}, true, nil)
			var again string
			db.QueryRow(`SELECT subject_pseudonym FROM audit_entries WHERE chain_id = $1 AND identity_id_ref = $2`,
				dom, "user:"+aliceID).Scan(&again)
			if resp.StatusCode != http.StatusForbidden || again == "" || again == pseudonym {
				t.Fatalf("alice after erasure: %d, pseudonym %q (was %q)", resp.StatusCode, again, pseudonym)
			}

			// Online and offline (against the checkpoints exported before
			// the erasure) the chains still verify.
			for _, c := range []string{dom, audit.PlatformChain} {
				var res apiv1.AuditVerifyResult
				p := "/v1/platform/audit/verify"
				if c == dom {
					p = "/v1/domains/" + dom + "/audit/verify"
				}
				if st, raw := f.Do(t, "POST", p, nil, &res); st != 200 || !res.OK {
					t.Fatalf("online verify %s: %d %s", c, st, raw)
				}
				if res, err := audit.VerifyWithCheckpoints(ctx, db, c, cps, nil); err != nil || !res.OK {
					t.Fatalf("offline verify %s: %+v %v", c, res, err)
				}
			}

			// Tampering after the erasure is still detected: putting her
			// reference or her id back, or editing a field.
			var refSeq, objSeq int64
			db.QueryRow(`SELECT MIN(seq) FROM audit_entries WHERE chain_id = $1 AND identity_id_ref = ''
				AND action <> 'audit.erase-identity' AND hash_version >= 2`, audit.PlatformChain).Scan(&refSeq)
			db.QueryRow(`SELECT MIN(seq) FROM audit_entries WHERE chain_id = $1 AND object_type = 'identity'
				AND object_id = '' AND object_ref_commit <> ''`, dom).Scan(&objSeq)
			if refSeq == 0 || objSeq == 0 {
				t.Fatalf("no erased entries to tamper with: %d %d", refSeq, objSeq)
			}
			for _, tc := range []struct {
				chain, set, restore string
				seq                 int64
				reason              string
			}{
				{audit.PlatformChain, `identity_id_ref = 'user:` + aliceID + `'`, `identity_id_ref = ''`, refSeq, audit.ReasonIdentityRefMismatch},
				{dom, `object_id = '` + aliceID + `'`, `object_id = ''`, objSeq, audit.ReasonObjectRefMismatch},
				{dom, `object_ref_commit = '` + strings.Repeat("0", 64) + `'`, `object_id = ''`, objSeq, audit.ReasonHashMismatch},
			} {
				var commit string
				db.QueryRow(`SELECT object_ref_commit FROM audit_entries WHERE chain_id = $1 AND seq = $2`, tc.chain, tc.seq).Scan(&commit)
				if _, err := db.Exec(`UPDATE audit_entries SET `+tc.set+` WHERE chain_id = $1 AND seq = $2`, tc.chain, tc.seq); err != nil {
					t.Fatal(err)
				}
				res, err := audit.VerifyWithCheckpoints(ctx, db, tc.chain, cps, nil)
				if err != nil || res.OK || res.DivergentSeq != tc.seq || res.Reason != tc.reason {
					t.Fatalf("tampered (%s): %+v %v", tc.set, res, err)
				}
				db.Exec(`UPDATE audit_entries SET `+tc.restore+` WHERE chain_id = $1 AND seq = $2`, tc.chain, tc.seq)
				db.Exec(`UPDATE audit_entries SET object_ref_commit = $3 WHERE chain_id = $1 AND seq = $2`, tc.chain, tc.seq, commit)
				if res, _ := audit.Verify(ctx, db, tc.chain, 0, 0); !res.OK {
					t.Fatalf("restored: %+v", res)
				}
			}
		})
	}
}

// An entry written before hash_version 3 hashes its object id as it is:
// erasure cannot clear it without breaking the chain, so it is left, counted
// as not erasable, while the identity reference is cleared.
func TestEraseLeavesHashedObjectIDs(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			id := uuid.NewString()
			add := func(v int, objType, objID string) {
				t.Helper()
				restore := audit.SetHashVersion(v)
				defer restore()
				e := entry(0)
				e.IdentityRef, e.ObjectType, e.ObjectID = "user:"+id, objType, objID
				if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
					t.Fatal(err)
				}
			}
			add(audit.HashV2, "identity", id)
			add(audit.HashV3, "identity", id)
			add(audit.HashV3, "domain", "d-1")
			restore := audit.SetHashVersion(audit.HashV3)
			defer restore()
			old := audit.EraseBatch
			audit.EraseBatch = 1 // one entry a transaction: the batches must loop
			defer func() { audit.EraseBatch = old }()
			rep, err := l.EraseIdentity(ctx, nil, audit.PlatformChain, id)
			if err != nil || rep.Erased != 4 || rep.NotErasable != 1 || rep.Ref != "user:"+id {
				t.Fatalf("erase: %+v %v", rep, err)
			}
			if n := count(t, db, `identity_id_ref <> ''`); n != 0 {
				t.Fatalf("%d references left", n)
			}
			if n := count(t, db, `object_id = $1`, id); n != 1 {
				t.Fatalf("object ids left: %d, want the version 2 one", n)
			}
			if res, err := audit.Verify(ctx, db, audit.PlatformChain, 0, 0); err != nil || !res.OK || res.EntriesLooked != 3 {
				t.Fatalf("verify: %+v %v", res, err)
			}
			// An identity with no entries erases to nothing, under a pseudonym all the same.
			rep, err = l.EraseIdentity(ctx, []string{audit.PlatformChain}, audit.PlatformChain, uuid.NewString())
			if err != nil || rep.Erased != 0 || len(rep.Pseudonym) != 64 {
				t.Fatalf("erase nobody: %+v %v", rep, err)
			}
		})
	}
}

// BenchmarkAppendPseudonymKey compares appends of an identity's entry,
// which look up (or create) its per-(chain, identity) pseudonym key, with
// appends of an anonymous entry, which need none; SQLite, one transaction
// per entry.
func BenchmarkAppendPseudonymKey(b *testing.B) {
	for _, ref := range []string{"user:0190", "anonymous"} {
		b.Run(strings.SplitN(ref, ":", 2)[0], func(b *testing.B) {
			l, db := openLog(b, apptest.SQLite)
			ctx := context.Background()
			e := entry(1)
			e.IdentityRef = ref
			for b.Loop() {
				if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
