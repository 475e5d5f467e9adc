package apiv1

import "time"

// AuditSubject identifies who acted, by pseudonym.
type AuditSubject struct {
	Pseudonym     string `json:"pseudonym"`
	IdentityIDRef string `json:"identity_id_ref,omitempty"`
	// IdentityIDRefCommitment is what a hash_version 2 entry hashes in place
	// of identity_id_ref: SHA-256("plexsphere audit identity_id_ref v2\x00" ‖
	// salt ‖ 0x00 ‖ identity_id_ref), lowercase hex; the salt is in the proof.
	IdentityIDRefCommitment string `json:"identity_id_ref_commitment,omitempty"`
}

// AuditObject names what was acted on.
type AuditObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// IDCommitment is what a hash_version 3 entry hashes in place of an id
	// that names an identity: SHA-256("plexsphere audit object_id v3\x00" ‖
	// salt ‖ 0x00 ‖ id), lowercase hex; the salt is in the proof. The id is
	// empty once the identity is erased.
	IDCommitment string `json:"id_commitment,omitempty"`
}

// The contract's AuditReason values: the ReBAC decision reason of an entry,
// shown as its reason and as its decision's result.
const (
	AuditReasonGranted              = "granted"
	AuditReasonOutOfScope           = "out_of_scope"
	AuditReasonInsufficientRelation = "insufficient_relation"
	AuditReasonCaveatViolation      = "caveat_violation"
	AuditReasonUnknown              = "unknown"
)

// AuditDecision records the authorization decision; caveat context carries
// names only.
type AuditDecision struct {
	Result string `json:"result" enum:"granted,out_of_scope,insufficient_relation,caveat_violation,unknown" doc:"The entry's reason (the contract's AuditReason)."`
	// ResultDetail is the decision as stored and hashed: allowed, denied, or
	// none when no ReBAC check was made.
	ResultDetail string `json:"result_detail" enum:"allowed,denied,none" doc:"The decision as the chain stores and hashes it."`
	// CaveatContext maps each caveat name to the names of its parameters
	// referenced by the check; values never appear.
	CaveatContext map[string][]string `json:"caveat_context" x-plexsphere-names-only:"true" doc:"Caveat name to the parameter names the check referenced; never values."`
}

// AuditRequestContext is where a request came from.
type AuditRequestContext struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// AuditEntry is one row of a tamper-evident chain (api.md §3.11).
type AuditEntry struct {
	Seq            int64               `json:"seq"`
	HashVersion    int                 `json:"hash_version" enum:"1,2,3" doc:"The hash rule: 1 leaves subject.identity_id_ref out; 2 hashes every field shown, the identity reference through its commitment; 3 also an object id that names an identity."`
	DomainID       string              `json:"domain_id" doc:"The Domain id, or the zero UUID for the platform chain."`
	OccurredAt     time.Time           `json:"occurred_at"`
	Action         string              `json:"action"`
	Outcome        string              `json:"outcome" enum:"succeeded,denied,failed"`
	Reason         string              `json:"reason" enum:"granted,out_of_scope,insufficient_relation,caveat_violation,unknown" doc:"The ReBAC decision reason (the contract's AuditReason); the precise cause is reason_detail."`
	ReasonDetail   string              `json:"reason_detail" doc:"The reason as the chain stores and hashes it: the decision reason, or the problem code of a refused or failed request (e.g. unauthenticated, rate_limited)."`
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
	// IdentityIDRefSalt opens subject.identity_id_ref_commitment (hash_version
	// 2); empty once the identity is erased.
	IdentityIDRefSalt string `json:"identity_id_ref_salt,omitempty"`
	// ObjectIDSalt opens object.id_commitment (hash_version 3); empty once
	// the identity is erased.
	ObjectIDSalt string `json:"object_id_salt,omitempty"`
}

// AuditEraseIdentityRequest names the identity to erase from a chain.
type AuditEraseIdentityRequest struct {
	IdentityID string `json:"identity_id" format:"uuid" doc:"The identity (user or service identity) to make unlinkable in the chain's past entries."`
}

// AuditEraseIdentityResponse reports an erasure.
type AuditEraseIdentityResponse struct {
	SubjectPseudonym string    `json:"subject_pseudonym" doc:"The pseudonym the chain knew the identity by (64 lowercase hex); after erasure nobody can derive it from the identity id."`
	ErasedAt         time.Time `json:"erased_at" doc:"When the audit.erase-identity entry was appended."`
	// Our additions.
	EntriesErased int64 `json:"entries_erased" doc:"Entries whose identity reference or identity-naming object id was cleared."`
	// EntriesNotErasable counts entries written before hash_version 3 whose
	// hashed object id names the identity: clearing it would break the chain.
	EntriesNotErasable int64 `json:"entries_not_erasable" doc:"Entries written before hash_version 3 whose hashed object id names the identity; they cannot be cleared without breaking the chain."`
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

// AuditCheckpoint is a signed statement that a chain had entry seq with
// entry_hash at signed_at. The signature is Ed25519 over
// "plexsphere audit checkpoint v1\n" followed by the RFC 8785 form of
// {domain_id, entry_hash, seq, signed_at}; public_key is carried so the
// export verifies without the database (pin keys with --keys).
type AuditCheckpoint struct {
	DomainID  string    `json:"domain_id" doc:"The Domain id, or the zero UUID for the platform chain."`
	Seq       int64     `json:"seq"`
	EntryHash string    `json:"entry_hash" doc:"Lowercase hex entry_hash of seq."`
	SignedAt  time.Time `json:"signed_at"`
	KID       string    `json:"kid"`
	Algorithm string    `json:"algorithm" enum:"EdDSA"`
	PublicKey string    `json:"public_key" doc:"Standard base64 Ed25519 public key of kid."`
	Signature string    `json:"signature" doc:"Standard base64 Ed25519 signature."`
}
