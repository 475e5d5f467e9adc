package apiclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Chain names one audit hash chain: a Domain's or the platform's. The zero
// Chain is invalid, so that a forgotten Domain id cannot silently select
// the platform chain.
type Chain struct {
	domainID string
	platform bool
}

// DomainChain is the audit chain of one Domain.
func DomainChain(domainID string) Chain { return Chain{domainID: domainID} }

// PlatformChain is the platform audit chain.
func PlatformChain() Chain { return Chain{platform: true} }

// String is "platform" or "domain:<id>".
func (ch Chain) String() string {
	if ch.platform {
		return "platform"
	}
	return "domain:" + ch.domainID
}

// prefix is the path of the chain's audit resources.
func (ch Chain) prefix() (string, error) {
	switch {
	case ch.platform:
		return "/v1/platform/audit", nil
	case ch.domainID != "":
		return pathf("/v1/domains/", ch.domainID, "/audit"), nil
	default:
		return "", errors.New("apiclient: audit chain not set: use DomainChain or PlatformChain")
	}
}

// AuditFilter narrows an audit list (api.md §4.1, Audit). Empty fields and
// zero times are not sent.
type AuditFilter struct {
	Action        string
	Outcome       string
	CorrelationID string
	Subject       string
	Relation      string
	ObjectType    string
	ObjectID      string
	Reason        string
	ReasonDetail  string
	From          time.Time
	To            time.Time
}

func (f AuditFilter) addTo(q url.Values) {
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("action", f.Action)
	set("outcome", f.Outcome)
	set("correlation_id", f.CorrelationID)
	set("subject", f.Subject)
	set("relation", f.Relation)
	set("object_type", f.ObjectType)
	set("object_id", f.ObjectID)
	set("reason", f.Reason)
	set("reason_detail", f.ReasonDetail)
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339Nano))
	}
}

// ListAuditEntries calls GET …/audit/entries for one page. When the server
// sent only the deprecated `entries` alias, Items is filled from it.
func (c *Client) ListAuditEntries(ctx context.Context, ch Chain, f AuditFilter, opts ListOptions) (*apiv1.AuditList, error) {
	prefix, err := ch.prefix()
	if err != nil {
		return nil, err
	}
	q := opts.values()
	f.addTo(q)
	var out apiv1.AuditList
	if err := c.do(ctx, request{method: http.MethodGet, path: prefix + "/entries", query: q}, &out); err != nil {
		return nil, err
	}
	if len(out.Items) == 0 && len(out.Entries) > 0 {
		out.Items = out.Entries
	}
	if out.Items == nil {
		out.Items = []apiv1.AuditEntry{}
	}
	return &out, nil
}

// AuditPages adapts ListAuditEntries to a PageFunc for Pages, Items and
// Collect.
func (c *Client) AuditPages(ch Chain, f AuditFilter) PageFunc[apiv1.AuditEntry] {
	return func(ctx context.Context, opts ListOptions) (*apiv1.List[apiv1.AuditEntry], error) {
		l, err := c.ListAuditEntries(ctx, ch, f, opts)
		if err != nil {
			return nil, err
		}
		return &apiv1.List[apiv1.AuditEntry]{Items: l.Items, NextCursor: l.NextCursor}, nil
	}
}

// GetAuditEntry calls GET …/audit/entries/{seq}: one row and its proof.
func (c *Client) GetAuditEntry(ctx context.Context, ch Chain, seq int64) (*apiv1.AuditEntryWithProof, error) {
	prefix, err := ch.prefix()
	if err != nil {
		return nil, err
	}
	if seq < 1 {
		return nil, fmt.Errorf("apiclient: audit seq %d: sequence numbers start at 1", seq)
	}
	var out apiv1.AuditEntryWithProof
	p := prefix + "/entries/" + strconv.FormatInt(seq, 10)
	err = c.do(ctx, request{method: http.MethodGet, path: p}, &out)
	return result(&out, err)
}

// VerifyAudit calls POST …/audit/verify. Tampering is reported as data
// (OK false), not as an error.
func (c *Client) VerifyAudit(ctx context.Context, ch Chain, in apiv1.AuditVerifyRequest) (*apiv1.AuditVerifyResult, error) {
	prefix, err := ch.prefix()
	if err != nil {
		return nil, err
	}
	var out apiv1.AuditVerifyResult
	err = c.do(ctx, request{method: http.MethodPost, path: prefix + "/verify", body: in}, &out)
	return result(&out, err)
}

// ErrProofMismatch is wrapped by CheckProof when the hashes disagree.
var ErrProofMismatch = errors.New("audit proof does not match entry_hash")

// CheckProof recomputes entry_hash = SHA-256(prev_hash ‖ SHA-256(canonical
// bytes)) from a proof (api.md §3.11), offline. Hashes are lowercase hex
// on the wire.
func CheckProof(p apiv1.AuditProof) error {
	prev, err := hex.DecodeString(p.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return fmt.Errorf("apiclient: audit proof: prev_hash is not 32 bytes of hex")
	}
	want, err := hex.DecodeString(p.EntryHash)
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("apiclient: audit proof: entry_hash is not 32 bytes of hex")
	}
	inner := sha256.Sum256(p.CanonicalBytes)
	got := sha256.Sum256(append(prev, inner[:]...))
	if !bytes.Equal(got[:], want) {
		return fmt.Errorf("apiclient: %w: computed %x", ErrProofMismatch, got)
	}
	return nil
}

// ErrIdentityMismatch is wrapped by CheckIdentity when the identity
// reference does not open its commitment.
var ErrIdentityMismatch = errors.New("audit identity_id_ref does not match its hashed commitment")

// identityCommitLabel prefixes the identity commitment (hash_version 2).
const identityCommitLabel = "plexsphere audit identity_id_ref v2\x00"

// CheckIdentity checks, offline, that a hash_version 2 entry's
// subject.identity_id_ref opens subject.identity_id_ref_commitment, which
// is what its hash covers: SHA-256(label ‖ salt ‖ 0x00 ‖ identity_id_ref)
// with the proof's salt (its hex text). An erased identity (no reference,
// no salt) and version 1 entries, which do not bind the reference, pass.
func CheckIdentity(e *apiv1.AuditEntryWithProof) error {
	sub, salt := e.Entry.Subject, e.Proof.IdentityIDRefSalt
	if e.Entry.HashVersion < 2 || salt == "" && sub.IdentityIDRef == "" {
		return checkObject(e)
	}
	h := sha256.New()
	h.Write([]byte(identityCommitLabel))
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(sub.IdentityIDRef))
	if got := hex.EncodeToString(h.Sum(nil)); salt == "" || got != sub.IdentityIDRefCommitment {
		return fmt.Errorf("apiclient: %w", ErrIdentityMismatch)
	}
	return checkObject(e)
}

// objectCommitLabel prefixes the object id commitment (hash_version 3).
const objectCommitLabel = "plexsphere audit object_id v3\x00"

// checkObject checks that a hash_version 3 entry's object.id opens
// object.id_commitment with the proof's object_id_salt, when the entry
// binds its object id that way; an erased id (no id, no salt) passes.
func checkObject(e *apiv1.AuditEntryWithProof) error {
	obj, salt := e.Entry.Object, e.Proof.ObjectIDSalt
	if e.Entry.HashVersion < 3 || obj.IDCommitment == "" || salt == "" && obj.ID == "" {
		return nil
	}
	h := sha256.New()
	h.Write([]byte(objectCommitLabel))
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(obj.ID))
	if got := hex.EncodeToString(h.Sum(nil)); salt == "" || got != obj.IDCommitment {
		return fmt.Errorf("apiclient: %w", ErrIdentityMismatch)
	}
	return nil
}
