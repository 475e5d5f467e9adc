package apiv1

import "time"

// AuditSubject identifies who acted, by pseudonym.
type AuditSubject struct {
	Pseudonym     string `json:"pseudonym"`
	IdentityIDRef string `json:"identity_id_ref,omitempty"`
}

// AuditObject names what was acted on.
type AuditObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditDecision records the authorization decision; caveat context carries
// field names only.
type AuditDecision struct {
	Result        string   `json:"result" enum:"allowed,denied,none"`
	CaveatContext []string `json:"caveat_context" x-plexsphere-names-only:"true"`
}

// AuditRequestContext is where a request came from.
type AuditRequestContext struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// AuditEntry is one row of a tamper-evident chain (api.md §3.11).
type AuditEntry struct {
	Seq            int64               `json:"seq"`
	DomainID       string              `json:"domain_id" doc:"The Domain id, or the zero UUID for the platform chain."`
	OccurredAt     time.Time           `json:"occurred_at"`
	Action         string              `json:"action"`
	Outcome        string              `json:"outcome" enum:"succeeded,denied,failed"`
	Reason         string              `json:"reason"`
	Subject        AuditSubject        `json:"subject"`
	Relation       string              `json:"relation"`
	Object         AuditObject         `json:"object"`
	Decision       AuditDecision       `json:"decision"`
	CorrelationID  string              `json:"correlation_id"`
	RequestContext AuditRequestContext `json:"request_context"`
	EntryHash      string              `json:"entry_hash"`
	PrevHash       string              `json:"prev_hash"`
}

// AuditList is the audit list envelope: items plus the contract's `entries`
// alias (api.md §6 row 4).
type AuditList struct {
	Items      []AuditEntry `json:"items" nullable:"false"`
	Entries    []AuditEntry `json:"entries" nullable:"false" doc:"Deprecated alias of items."`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// AuditProof lets a client recompute one entry's hash.
type AuditProof struct {
	PrevHash       string `json:"prev_hash"`
	EntryHash      string `json:"entry_hash"`
	CanonicalBytes []byte `json:"canonical_bytes" doc:"base64 of the RFC 8785 canonical entry."`
}

// AuditEntryWithProof is the answer of GET …/audit/entries/{seq}.
type AuditEntryWithProof struct {
	Entry AuditEntry `json:"entry"`
	Proof AuditProof `json:"proof"`
}

// AuditVerifyRequest selects a segment of a chain; both ends are optional.
type AuditVerifyRequest struct {
	FromSeq int64 `json:"from_seq,omitempty" minimum:"0"`
	ToSeq   int64 `json:"to_seq,omitempty" minimum:"0"`
}

// AuditVerifyResult reports tampering as data.
type AuditVerifyResult struct {
	OK            bool   `json:"ok"`
	DivergentSeq  int64  `json:"divergent_seq,omitempty"`
	ExpectedHash  string `json:"expected_hash,omitempty"`
	ObservedHash  string `json:"observed_hash,omitempty"`
	Reason        string `json:"reason,omitempty"`
	SegmentFrom   int64  `json:"segment_from"`
	SegmentTo     int64  `json:"segment_to"`
	EntriesLooked int64  `json:"entries_checked"`
}
