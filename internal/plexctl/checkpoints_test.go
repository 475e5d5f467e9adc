package plexctl

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 7 row 11: `plexctl audit checkpoints --file` keeps what the file
// already holds and appends only new checkpoints, so a checkpoint deleted
// from the server later is still in the operator's copy.
func TestAuditCheckpointsAppend(t *testing.T) {
	h := newHarness(t)
	cp := func(seq int64) apiv1.AuditCheckpoint {
		return apiv1.AuditCheckpoint{DomainID: dID, Seq: seq, EntryHash: strings.Repeat("a", 64), KID: "k",
			Algorithm: "EdDSA", PublicKey: "cHVi", Signature: "c2ln"}
	}
	served := []apiv1.AuditCheckpoint{cp(10), cp(20)}
	h.srv.Handle("GET /v1/domains/{id}/audit/checkpoints:export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, c := range served {
			enc.Encode(c)
		}
	})
	file := filepath.Join(t.TempDir(), "cp.jsonl")
	h.ok("audit", "checkpoints", "--domain", dID, "--file", file)
	served = []apiv1.AuditCheckpoint{cp(20), cp(30)} // the server lost seq 10
	r := h.ok("audit", "checkpoints", "--domain", dID, "--file", file)
	if !strings.Contains(r.stderr, "1 new checkpoint(s)") {
		t.Errorf("stderr %q", r.stderr)
	}
	var seqs []int64
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, file)), "\n") {
		var c apiv1.AuditCheckpoint
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, c.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 10 || seqs[1] != 20 || seqs[2] != 30 {
		t.Fatalf("file seqs %v", seqs)
	}
	if out := h.ok("audit", "checkpoints", "--domain", dID).stdout; strings.Count(out, "\n") != 2 {
		t.Errorf("stdout export: %q", out)
	}
}
