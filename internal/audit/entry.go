package audit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/canonjson"
)

// PlatformChain is the chain id (and the domain_id shown) of the platform chain.
const PlatformChain = "00000000-0000-0000-0000-000000000000"

// Outcomes of an audited request.
const (
	Succeeded = "succeeded"
	Denied    = "denied"
	Failed    = "failed"
)

// Hash rules (the hash_version column). Version 1, the rule of every entry
// written before issue 7 row 11, leaves identity_id_ref out of the hash.
// Version 2 hashes every field shown to readers: the identity reference
// through a salted commitment, so that erasing it keeps the chain whole.
//
// Version 3 (issue 16) also binds an object id that names an identity
// (object types identity, service_identity, user) through a salted
// commitment, so that erasure can clear it too.
const (
	HashV1 = 1
	HashV2 = 2
	HashV3 = 3
)

// hashCurrent is the rule new entries are written with (a variable only so
// that tests can write version 1 and 2 chains).
var hashCurrent = HashV3

// objectCommitLabel separates the object id commitment from every other
// SHA-256 input.
const objectCommitLabel = "plexsphere audit object_id v3\x00"

// NamesIdentity reports whether an object type's ids name an identity: a
// version 3 entry binds such an id through its commitment.
func NamesIdentity(objectType string) bool {
	switch objectType {
	case "identity", "service_identity", "user":
		return true
	}
	return false
}

// objectCommit is the lowercase hex SHA-256(label ‖ salt ‖ 0 ‖ id).
func objectCommit(salt, id string) string {
	b := make([]byte, 0, len(objectCommitLabel)+len(salt)+1+len(id))
	b = append(append(append(append(b, objectCommitLabel...), salt...), 0), id...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// identityCommitLabel separates the identity commitment from every other
// SHA-256 input.
const identityCommitLabel = "plexsphere audit identity_id_ref v2\x00"

// identityCommit is the lowercase hex SHA-256(label ‖ salt ‖ 0 ‖ ref):
// binding (ref cannot change while the commitment stands) and, thanks to the
// random salt, hiding once the salt and ref are erased.
func identityCommit(salt, ref string) string {
	sum := identityDigest(salt, ref)
	return hex.EncodeToString(sum[:])
}

func identityDigest(salt, ref string) [32]byte {
	var buf [256]byte
	b := append(buf[:0], identityCommitLabel...)
	b = append(b, salt...)
	b = append(b, 0)
	b = append(b, ref...)
	return sha256.Sum256(b)
}

// newSalt returns 16 random bytes as hex.
func newSalt() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Entry is one chain row.
type Entry struct {
	ChainID string
	Seq     int64
	// HashVersion is the rule EntryHash follows (HashV1 or HashV2).
	HashVersion    int
	OccurredAt     time.Time
	Action         string
	Outcome        string
	Reason         string
	Pseudonym      string
	IdentityRef    string
	Relation       string
	ObjectType     string
	ObjectID       string
	DecisionResult string
	CaveatNames    []string
	CorrelationID  string
	IP             string
	UserAgent      string
	PrevHash       [32]byte
	EntryHash      [32]byte
	// IdentitySalt and IdentityCommit bind IdentityRef into a version 2
	// hash: IdentityCommit = identityCommit(IdentitySalt, IdentityRef) is
	// hashed. Erasing an identity clears IdentityRef and IdentitySalt and
	// keeps IdentityCommit.
	IdentitySalt   string
	IdentityCommit string
	// ObjectSalt and ObjectCommit bind ObjectID into a version 3 hash when
	// the object names an identity (NamesIdentity): ObjectCommit =
	// objectCommit(ObjectSalt, ObjectID) is hashed instead of the id.
	// Erasure clears ObjectID and ObjectSalt and keeps ObjectCommit.
	ObjectSalt   string
	ObjectCommit string

	// caveatJSON is CaveatNames as stored: its canonical JSON array. Rows
	// read from the database keep it instead of parsing it, so verification
	// hashes exactly the stored bytes.
	caveatJSON []byte
}

// appendCaveats appends the canonical JSON array of names.
func appendCaveats(dst []byte, names []string) []byte {
	dst = append(dst, '[')
	for i, n := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = canonjson.AppendString(dst, n)
	}
	return append(dst, ']')
}

// clone detaches e from any buffer a scan reuses.
func (e Entry) clone() Entry {
	e.caveatJSON = bytes.Clone(e.caveatJSON)
	return e
}

// caveats returns the caveat names, parsing the stored form when needed.
func (e *Entry) caveats() []string {
	if e.CaveatNames != nil || len(e.caveatJSON) == 0 {
		return e.CaveatNames
	}
	var names []string
	if err := json.Unmarshal(e.caveatJSON, &names); err != nil {
		return []string{"<unreadable>"}
	}
	return names
}

// identityBound reports whether a version 2 entry's identity reference still
// matches its commitment; an erased reference (no ref, no salt) is bound.
func (e *Entry) identityBound() bool {
	if e.HashVersion < HashV2 || e.IdentitySalt == "" && e.IdentityRef == "" {
		return true
	}
	if e.IdentitySalt == "" || len(e.IdentityCommit) != 2*sha256.Size {
		return false
	}
	sum := identityDigest(e.IdentitySalt, e.IdentityRef)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	return string(hx[:]) == e.IdentityCommit
}

// objectBound reports whether a version 3 entry's object id still matches
// its commitment; an erased id (no id, no salt) is bound.
func (e *Entry) objectBound() bool {
	if e.HashVersion < HashV3 || e.ObjectCommit == "" || e.ObjectSalt == "" && e.ObjectID == "" {
		return true
	}
	return e.ObjectSalt != "" && objectCommit(e.ObjectSalt, e.ObjectID) == e.ObjectCommit
}

// Canonical appends the RFC 8785 canonical bytes of e to dst under its hash
// version: the wire form minus its hashes, with the identity reference left
// out (version 1) or replaced by its commitment (version 2). Keys are
// written in JCS order by hand, so the hot path needs no reflection and no
// maps; TestCanonicalMatchesJCS holds it to the general canonicaliser.
func (e *Entry) Canonical(dst []byte) []byte {
	dst = append(dst, `{"action":`...)
	dst = canonjson.AppendString(dst, e.Action)
	dst = append(dst, `,"correlation_id":`...)
	dst = canonjson.AppendString(dst, e.CorrelationID)
	dst = append(dst, `,"decision":{"caveat_context":`...)
	if e.caveatJSON != nil {
		dst = append(dst, e.caveatJSON...)
	} else {
		dst = appendCaveats(dst, e.CaveatNames)
	}
	dst = append(dst, `,"result":`...)
	dst = canonjson.AppendString(dst, e.DecisionResult)
	dst = append(dst, `},"domain_id":`...)
	dst = canonjson.AppendString(dst, e.ChainID)
	if e.HashVersion >= HashV2 {
		dst = append(dst, `,"hash_version":`...)
		dst = canonjson.AppendInt(dst, int64(e.HashVersion))
	}
	if e.HashVersion >= HashV3 && e.ObjectCommit != "" {
		dst = append(dst, `,"object":{"id_commitment":`...)
		dst = canonjson.AppendString(dst, e.ObjectCommit)
	} else {
		dst = append(dst, `,"object":{"id":`...)
		dst = canonjson.AppendString(dst, e.ObjectID)
	}
	dst = append(dst, `,"type":`...)
	dst = canonjson.AppendString(dst, e.ObjectType)
	dst = append(dst, `},"occurred_at":`...)
	dst = canonjson.AppendString(dst, e.OccurredAt.UTC().Format(time.RFC3339Nano))
	dst = append(dst, `,"outcome":`...)
	dst = canonjson.AppendString(dst, e.Outcome)
	dst = append(dst, `,"reason":`...)
	dst = canonjson.AppendString(dst, e.Reason)
	dst = append(dst, `,"relation":`...)
	dst = canonjson.AppendString(dst, e.Relation)
	dst = append(dst, `,"request_context":{`...)
	if e.IP != "" {
		dst = append(dst, `"ip":`...)
		dst = canonjson.AppendString(dst, e.IP)
		if e.UserAgent != "" {
			dst = append(dst, ',')
		}
	}
	if e.UserAgent != "" {
		dst = append(dst, `"user_agent":`...)
		dst = canonjson.AppendString(dst, e.UserAgent)
	}
	dst = append(dst, `},"seq":`...)
	dst = canonjson.AppendInt(dst, e.Seq)
	dst = append(dst, `,"subject":{`...)
	if e.HashVersion >= HashV2 {
		dst = append(dst, `"identity_id_ref_commitment":`...)
		dst = canonjson.AppendString(dst, e.IdentityCommit)
		dst = append(dst, ',')
	}
	dst = append(dst, `"pseudonym":`...)
	dst = canonjson.AppendString(dst, e.Pseudonym)
	return append(dst, `}}`...)
}

// chainHash is SHA-256(prev ‖ SHA-256(canonical)).
func chainHash(prev [32]byte, canonical []byte) [32]byte {
	inner := sha256.Sum256(canonical)
	var buf [64]byte
	copy(buf[:32], prev[:])
	copy(buf[32:], inner[:])
	return sha256.Sum256(buf[:])
}

// API renders e as the wire type: the stored values, with the reason, the
// decision's result and its caveat context in the contract's form (see
// WireReason); Canonical, not this, is what the hash covers.
func (e *Entry) API() apiv1.AuditEntry {
	reason := WireReason(e.Reason, e.DecisionResult, e.Outcome)
	v := e.HashVersion
	if v == 0 {
		v = HashV1
	}
	return apiv1.AuditEntry{
		Seq:          e.Seq,
		HashVersion:  v,
		DomainID:     e.ChainID,
		OccurredAt:   e.OccurredAt.UTC(),
		Action:       e.Action,
		Outcome:      e.Outcome,
		Reason:       reason,
		ReasonDetail: e.Reason,
		Subject: apiv1.AuditSubject{Pseudonym: e.Pseudonym, IdentityIDRef: e.IdentityRef,
			IdentityIDRefCommitment: e.IdentityCommit},
		Relation: e.Relation,
		Object:   apiv1.AuditObject{Type: e.ObjectType, ID: e.ObjectID, IDCommitment: e.ObjectCommit},
		Decision: apiv1.AuditDecision{Result: reason, ResultDetail: e.DecisionResult,
			CaveatContext: caveatContext(e.caveats())},
		CorrelationID:  e.CorrelationID,
		RequestContext: apiv1.AuditRequestContext{IP: e.IP, UserAgent: e.UserAgent},
		EntryHash:      hex.EncodeToString(e.EntryHash[:]),
		PrevHash:       hex.EncodeToString(e.PrevHash[:]),
	}
}
