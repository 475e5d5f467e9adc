package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
)

// TestDomainChainAPI drives the Domain chain operations and checks that
// they address that chain (not the platform's) and that a proof recomputes.
func TestDomainChainAPI(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var d apiv1.Domain
	e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "10.1.0.0/16"}, &d)
	for _, slug := range []string{"one", "two", "one"} { // the third fails and is audited too
		e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: slug, Slug: slug}, nil)
	}
	base := "/v1/domains/" + d.ID + "/audit"
	var list apiv1.AuditList
	if st, raw := e.Do(t, "GET", base+"/entries?limit=2", nil, &list); st != 200 || len(list.Items) != 2 || list.NextCursor == "" {
		t.Fatalf("list: %d %s", st, raw)
	}
	if list.Items[0].DomainID != d.ID || list.Items[0].Action != "project.create" || len(list.Entries) != 2 {
		t.Fatalf("first entry: %+v", list.Items[0])
	}
	var failed apiv1.AuditList
	e.Do(t, "GET", base+"/entries?outcome=failed", nil, &failed)
	if len(failed.Items) != 1 || failed.Items[0].Seq != 3 || !strings.HasSuffix(failed.Items[0].ReasonDetail, "slug_conflict") ||
		failed.Items[0].Reason != apiv1.AuditReasonGranted ||
		!strings.HasPrefix(failed.Items[0].Subject.IdentityIDRef, "user:") {
		t.Fatalf("failed filter: %+v", failed.Items)
	}
	var got apiv1.AuditEntryWithProof
	if st, raw := e.Do(t, "GET", base+"/entries/2", nil, &got); st != 200 || got.Entry.Seq != 2 {
		t.Fatalf("get: %d %s", st, raw)
	}
	inner := sha256.Sum256(got.Proof.CanonicalBytes)
	prev, _ := hex.DecodeString(got.Proof.PrevHash)
	sum := sha256.Sum256(append(prev, inner[:]...))
	if hex.EncodeToString(sum[:]) != got.Entry.EntryHash {
		t.Fatal("proof does not recompute the entry hash")
	}
	if st, _ := e.Do(t, "GET", base+"/entries/99", nil, nil); st != 404 {
		t.Fatalf("missing seq: %d", st)
	}
	var res apiv1.AuditVerifyResult
	if st, raw := e.Do(t, "POST", base+"/verify", apiv1.AuditVerifyRequest{}, &res); st != 200 || !res.OK || res.SegmentTo != 3 {
		t.Fatalf("verify: %d %s", st, raw)
	}
	_, raw := e.Do(t, "GET", base+"/entries:export?from_seq=2", nil, nil)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"seq":2`) {
		t.Fatalf("export: %s", raw)
	}
}

// Issue 7 row 11: the whole server checkpoints every chain, Domain chains
// under the Domain's signing key; the export verifies against the keys the
// signing-keys list shows, and the verify operation reports a chain rewound
// behind its newest stored checkpoint.
func TestCheckpointExportAPI(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			ctx := context.Background()
			var d apiv1.Domain
			e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "10.1.0.0/16"}, &d)
			for _, slug := range []string{"one", "two", "three"} {
				e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: slug, Slug: slug}, nil)
			}
			if _, err := e.Server.Checkpoints.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			base := "/v1/domains/" + d.ID + "/audit"
			st, raw := e.Do(t, "GET", base+"/checkpoints:export", nil, nil)
			cps, err := audit.ReadCheckpoints(bytes.NewReader(raw))
			if st != 200 || err != nil || len(cps) == 0 {
				t.Fatalf("export: %d %s %v", st, raw, err)
			}
			last := cps[len(cps)-1]
			if last.DomainID != d.ID || last.Seq != 3 {
				t.Fatalf("last checkpoint: %+v", last)
			}
			st, keysRaw := e.Do(t, "GET", "/v1/domains/"+d.ID+"/signing-keys", nil, nil)
			keys, err := audit.ReadKeys(bytes.NewReader(keysRaw))
			if st != 200 || err != nil || keys[last.KID] == nil {
				t.Fatalf("checkpoint key %s is not the Domain's: %s %v", last.KID, keysRaw, err)
			}
			if res, err := audit.VerifyWithCheckpoints(ctx, e.Server.DB, d.ID, cps, keys); err != nil || !res.OK {
				t.Fatalf("verify with pinned Domain keys: %+v %v", res, err)
			}
			_, praw := e.Do(t, "GET", "/v1/platform/audit/checkpoints:export", nil, nil)
			pcps, err := audit.ReadCheckpoints(bytes.NewReader(praw))
			if err != nil || len(pcps) == 0 || keys[pcps[0].KID] != nil {
				t.Fatalf("platform checkpoints: %s %v", praw, err)
			}
			if res, _ := audit.CheckCheckpoints(ctx, e.Server.DB, audit.PlatformChain, pcps, keys); res.OK {
				t.Fatal("a platform checkpoint verified under the Domain's pinned keys")
			}

			// A reader can check the identity reference against the hashed
			// commitment with the proof's salt.
			var got apiv1.AuditEntryWithProof
			e.Do(t, "GET", base+"/entries/2", nil, &got)
			if got.Entry.HashVersion != audit.HashV3 || got.Proof.IdentityIDRefSalt == "" ||
				apiclient.CheckProof(got.Proof) != nil || apiclient.CheckIdentity(&got) != nil {
				t.Fatalf("entry 2 does not check: %+v", got)
			}
			got.Entry.Subject.IdentityIDRef = "user:someone-else"
			if err := apiclient.CheckIdentity(&got); !errors.Is(err, apiclient.ErrIdentityMismatch) {
				t.Fatalf("altered identity reference: %v", err)
			}

			// Rewind the Domain chain by one entry.
			db := e.Server.DB
			db.Exec(`DELETE FROM audit_entries WHERE chain_id = $1 AND seq = 3`, d.ID)
			db.Exec(`UPDATE audit_chains SET last_seq = 2, last_hash = (SELECT entry_hash FROM audit_entries
				WHERE chain_id = $1 AND seq = 2) WHERE chain_id = $1`, d.ID)
			var res apiv1.AuditVerifyResult
			e.Do(t, "POST", base+"/verify", apiv1.AuditVerifyRequest{}, &res)
			if res.OK || res.DivergentSeq != 3 || res.Reason != audit.ReasonCheckpointMissing {
				t.Fatalf("verify after rewind: %+v", res)
			}
		})
	}
}
