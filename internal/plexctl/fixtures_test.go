package plexctl

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func at(minutes int) time.Time { return testNow.Add(time.Duration(minutes) * time.Minute) }

func ptr[T any](v T) *T { return &v }

var testDomains = []apiv1.Domain{
	{ID: "0190c0de-0000-7000-8000-000000000001", Name: "Acme Corp", Slug: "acme", Region: "eu-west",
		MeshCIDR: "100.64.0.0/16", CreatedAt: at(-600), UpdatedAt: at(-60),
		Reachability: apiv1.Reachability{HeartbeatInterval: "30s", StaleAfter: "90s", UnreachableAfter: "300s"}},
	{ID: "0190c0de-0000-7000-8000-000000000002", Name: "Lab", Slug: "lab", Description: "test\tbed",
		MeshCIDR: "fd00:64::/48", CreatedAt: at(-300), UpdatedAt: at(-300)},
	{ID: "0190c0de-0000-7000-8000-000000000003", Name: "Zeta \x1b[31mred", Slug: "zeta",
		MeshCIDR: "100.65.0.0/16", CreatedAt: at(-10), UpdatedAt: at(-10)},
}

var testTokens = []apiv1.APIToken{
	{ID: "0190c0de-0000-7000-8000-0000000000a1", EnvPrefix: "prod", Prefix: "psk_prod_3x", CreatedAt: at(-1440),
		ExpiresAt: ptr(at(43200)), LastUsedAt: ptr(at(-5))},
	{ID: "0190c0de-0000-7000-8000-0000000000a2", EnvPrefix: "dev", Prefix: "psk_dev_9q", CreatedAt: at(-60),
		ExpiresAt: ptr(apiv1.NeverExpires), NeverExpires: true, RotatedAt: ptr(at(-30))},
}

// auditChain builds n entries of a valid hash chain, with the canonical
// bytes each proof carries.
func auditChain(n int) ([]apiv1.AuditEntry, [][]byte) {
	entries := make([]apiv1.AuditEntry, n)
	canon := make([][]byte, n)
	prev := make([]byte, sha256.Size)
	for i := range entries {
		seq := int64(i + 1)
		e := apiv1.AuditEntry{Seq: seq, DomainID: testDomains[0].ID, OccurredAt: at(i), Action: "domain.update",
			Outcome: "succeeded", Reason: "granted", Relation: "manage",
			Subject:        apiv1.AuditSubject{Pseudonym: strings.Repeat(fmt.Sprintf("%x", i%16), 64)},
			Object:         apiv1.AuditObject{Type: "domain", ID: testDomains[0].ID},
			Decision:       apiv1.AuditDecision{Result: "granted", ResultDetail: "allowed", CaveatContext: map[string][]string{}},
			CorrelationID:  fmt.Sprintf("corr-%03d", seq),
			RequestContext: apiv1.AuditRequestContext{IP: "192.0.2.7", UserAgent: "plexctl/test"}}
		canon[i], _ = json.Marshal(map[string]any{"seq": seq, "action": e.Action})
		inner := sha256.Sum256(canon[i])
		sum := sha256.Sum256(append(append([]byte{}, prev...), inner[:]...))
		e.PrevHash, e.EntryHash = hex.EncodeToString(prev), hex.EncodeToString(sum[:])
		prev = sum[:]
		entries[i] = e
	}
	return entries, canon
}

// ndjson renders entries as the export stream does.
func ndjson(entries []apiv1.AuditEntry) string {
	var b strings.Builder
	for _, e := range entries {
		line, _ := json.Marshal(e)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}
