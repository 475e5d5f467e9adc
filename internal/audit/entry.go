package audit

import (
	"bytes"
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

// Entry is one chain row.
type Entry struct {
	ChainID        string
	Seq            int64
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

// Canonical appends the RFC 8785 canonical bytes of e (without its hashes and
// identity reference) to dst. Keys are written in JCS order by hand, so the
// hot path needs no reflection and no maps; TestCanonicalMatchesJCS holds it
// to the general canonicaliser.
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
	dst = append(dst, `,"object":{"id":`...)
	dst = canonjson.AppendString(dst, e.ObjectID)
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
	dst = append(dst, `,"subject":{"pseudonym":`...)
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

// API renders e as the wire type.
func (e *Entry) API() apiv1.AuditEntry {
	names := e.caveats()
	if names == nil {
		names = []string{}
	}
	return apiv1.AuditEntry{
		Seq:            e.Seq,
		DomainID:       e.ChainID,
		OccurredAt:     e.OccurredAt.UTC(),
		Action:         e.Action,
		Outcome:        e.Outcome,
		Reason:         e.Reason,
		Subject:        apiv1.AuditSubject{Pseudonym: e.Pseudonym, IdentityIDRef: e.IdentityRef},
		Relation:       e.Relation,
		Object:         apiv1.AuditObject{Type: e.ObjectType, ID: e.ObjectID},
		Decision:       apiv1.AuditDecision{Result: e.DecisionResult, CaveatContext: names},
		CorrelationID:  e.CorrelationID,
		RequestContext: apiv1.AuditRequestContext{IP: e.IP, UserAgent: e.UserAgent},
		EntryHash:      hex.EncodeToString(e.EntryHash[:]),
		PrevHash:       hex.EncodeToString(e.PrevHash[:]),
	}
}
