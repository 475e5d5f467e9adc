package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
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
	if len(failed.Items) != 1 || failed.Items[0].Seq != 3 || failed.Items[0].Reason != "slug_conflict" ||
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
