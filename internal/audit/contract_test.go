package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
)

// The public contract's audit schemas, decoded strictly: a required field
// that is missing or null fails, an AuditReason outside the contract's
// values fails, and a caveat_context that is not an object of string lists
// fails (as the generated client's decoder does).

// contractReason is the contract's AuditReason.
type contractReason string

func (r *contractReason) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "granted", "out_of_scope", "insufficient_relation", "caveat_violation", "unknown":
		*r = contractReason(s)
		return nil
	}
	return fmt.Errorf("AuditReason %q is not a contract value", s)
}

// requireKeys fails unless raw is an object holding every key, non-null.
func requireKeys(raw []byte, keys ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for _, k := range keys {
		if v, ok := m[k]; !ok || string(v) == "null" {
			return fmt.Errorf("required property %q missing", k)
		}
	}
	return nil
}

// strictInto checks keys, then decodes raw into v (an alias type, so that
// its UnmarshalJSON does not recurse).
func strictInto(raw []byte, v any, keys ...string) error {
	if err := requireKeys(raw, keys...); err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

type contractDecision struct {
	Result        contractReason      `json:"result"`
	CaveatContext map[string][]string `json:"caveat_context"`
}

func (d *contractDecision) UnmarshalJSON(b []byte) error {
	type plain contractDecision
	return strictInto(b, (*plain)(d), "result", "caveat_context")
}

type contractSubject struct {
	Pseudonym     string  `json:"pseudonym"`
	IdentityIDRef *string `json:"identity_id_ref"`
}

func (s *contractSubject) UnmarshalJSON(b []byte) error {
	type plain contractSubject
	return strictInto(b, (*plain)(s), "pseudonym")
}

type contractObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func (o *contractObject) UnmarshalJSON(b []byte) error {
	type plain contractObject
	return strictInto(b, (*plain)(o), "type", "id")
}

type contractEntry struct {
	Seq            int64            `json:"seq"`
	DomainID       string           `json:"domain_id"`
	OccurredAt     time.Time        `json:"occurred_at"`
	Reason         contractReason   `json:"reason"`
	Subject        contractSubject  `json:"subject"`
	Relation       string           `json:"relation"`
	Object         contractObject   `json:"object"`
	Decision       contractDecision `json:"decision"`
	CorrelationID  string           `json:"correlation_id"`
	RequestContext struct {
		IP        *string `json:"ip"`
		UserAgent *string `json:"user_agent"`
	} `json:"request_context"`
	EntryHash string `json:"entry_hash"`
	PrevHash  string `json:"prev_hash"`
}

func (e *contractEntry) UnmarshalJSON(b []byte) error {
	type plain contractEntry
	return strictInto(b, (*plain)(e), "seq", "domain_id", "occurred_at", "reason", "subject", "relation",
		"object", "decision", "correlation_id", "request_context", "entry_hash", "prev_hash")
}

type contractEntryList struct {
	Entries    []contractEntry `json:"entries"`
	NextCursor *string         `json:"next_cursor"`
}

type contractProof struct {
	Entry contractEntry `json:"entry"`
	Proof struct {
		PrevHash       string `json:"prev_hash"`
		EntryHash      string `json:"entry_hash"`
		CanonicalBytes string `json:"canonical_bytes"`
	} `json:"proof"`
}

type contractVerifyResult struct {
	OK          bool  `json:"ok"`
	SegmentFrom int64 `json:"segment_from"`
	SegmentTo   int64 `json:"segment_to"`
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// decodeContractList decodes a list answer as the contract's AuditEntryList.
func decodeContractList(raw []byte) (contractEntryList, error) {
	var l contractEntryList
	if err := requireKeys(raw, "entries"); err != nil {
		return l, err
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, err
	}
	for _, e := range l.Entries {
		if !hexHash.MatchString(e.EntryHash) || !hexHash.MatchString(e.PrevHash) ||
			!hexHash.MatchString(e.Subject.Pseudonym) {
			return l, fmt.Errorf("entry %d: hashes and pseudonym must be 64 lowercase hex", e.Seq)
		}
	}
	return l, nil
}

// decodeContractProof decodes a get answer as the contract's AuditEntryProof.
func decodeContractProof(raw []byte) (contractProof, error) {
	var p contractProof
	if err := requireKeys(raw, "entry", "proof"); err != nil {
		return p, err
	}
	var parts map[string]json.RawMessage
	json.Unmarshal(raw, &parts)
	if err := requireKeys(parts["proof"], "prev_hash", "entry_hash", "canonical_bytes"); err != nil {
		return p, err
	}
	return p, json.Unmarshal(raw, &p)
}

// TestContractDecoderRejectsOldForm holds the strict decoder to the forms
// we sent before issue 8, so that the API tests below would catch them.
func TestContractDecoderRejectsOldForm(t *testing.T) {
	good := `{"seq":1,"domain_id":"d","occurred_at":"2026-01-01T00:00:00Z","reason":"granted",
		"subject":{"pseudonym":"p"},"relation":"r","object":{"type":"t","id":"i"},
		"decision":{"result":"granted","caveat_context":{}},"correlation_id":"c","request_context":{},
		"entry_hash":"h","prev_hash":"h"}`
	var e contractEntry
	if err := json.Unmarshal([]byte(good), &e); err != nil {
		t.Fatalf("contract form refused: %v", err)
	}
	for name, old := range map[string][2]string{
		"caveat_context array": {`"caveat_context":{}`, `"caveat_context":[]`},
		"result allowed":       {`"result":"granted"`, `"result":"allowed"`},
		"free-text reason":     {`"reason":"granted"`, `"reason":"slug_conflict"`},
		"missing reason":       {`"reason":"granted",`, ``},
	} {
		if err := json.Unmarshal([]byte(strings.Replace(good, old[0], old[1], 1)), &e); err == nil {
			t.Errorf("%s: the strict decoder accepted the old form", name)
		}
	}
}

// Issue 8 (audit reads): all four audit reads, Domain and platform, list
// and get, decode as the contract's AuditEntryList and AuditEntryProof:
// decision.caveat_context is an object, and reason and decision.result are
// AuditReason values, with the stored values in reason_detail and
// decision.result_detail. Before the fix caveat_context was an array and
// reason/result were "slug_conflict"/"allowed", which this decoding refuses.
func TestAuditReadsDecodeAsContract(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			var d apiv1.Domain
			e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "10.1.0.0/16"}, &d)
			for _, slug := range []string{"one", "one"} { // the second fails after its check
				e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: slug, Slug: slug}, nil)
			}
			_, tok := e.NewUser(t, "outsider")
			if st, raw := e.DoAs(t, tok, "PATCH", "/v1/domains/"+d.ID, map[string]string{"name": "B"}, nil); st != 403 && st != 404 {
				t.Fatalf("outsider patch: %d %s", st, raw)
			}
			if st, _ := e.DoAs(t, "psk_dev_"+strings.Repeat("0", 40), "GET", "/v1/domains", nil, nil); st != 401 {
				t.Fatalf("forged token: %d", st)
			}

			seen := map[string]string{} // reason_detail → reason
			for _, base := range []string{"/v1/domains/" + d.ID + "/audit", "/v1/platform/audit"} {
				st, raw := e.Do(t, "GET", base+"/entries?limit=200", nil, nil)
				l, err := decodeContractList(raw)
				if st != 200 || err != nil || len(l.Entries) == 0 {
					t.Fatalf("%s list: %d %v\n%s", base, st, err, raw)
				}
				var ours apiv1.AuditList
				json.Unmarshal(raw, &ours)
				for i, ce := range l.Entries {
					if ce.Decision.Result != ce.Reason {
						t.Errorf("%s seq %d: decision.result %q is not the reason %q", base, ce.Seq, ce.Decision.Result, ce.Reason)
					}
					seen[ours.Items[i].ReasonDetail+"/"+ours.Items[i].Decision.ResultDetail] = string(ce.Reason)
					st, raw := e.Do(t, "GET", base+"/entries/"+strconv.FormatInt(ce.Seq, 10), nil, nil)
					p, err := decodeContractProof(raw)
					if st != 200 || err != nil || p.Entry.Seq != ce.Seq || p.Proof.EntryHash != ce.EntryHash {
						t.Fatalf("%s get %d: %d %v\n%s", base, ce.Seq, st, err, raw)
					}
				}
			}
			for detail, want := range map[string]string{
				"granted/allowed":               "granted",
				"project_slug_conflict/allowed": "granted",
				"unauthenticated/none":          "out_of_scope",
				"insufficient_relation/denied":  "insufficient_relation",
				"first_start/none":              "granted",
				"out_of_scope/denied":           "out_of_scope",
				"caveat_violation/denied":       "caveat_violation",
			} {
				if got, ok := seen[detail]; ok && got != want {
					t.Errorf("%s shown as %q, want %q", detail, got, want)
				}
			}
			for _, must := range []string{"project_slug_conflict/allowed", "unauthenticated/none"} {
				if _, ok := seen[must]; !ok {
					t.Errorf("no entry with %s: %v", must, seen)
				}
			}
			if seen["insufficient_relation/denied"] == "" && seen["out_of_scope/denied"] == "" {
				t.Errorf("the outsider's denial is not on a chain: %v", seen)
			}

			// The list filters on the reason shown, and on the stored one.
			var l apiv1.AuditList
			e.Do(t, "GET", "/v1/platform/audit/entries?reason=out_of_scope", nil, &l)
			if len(l.Items) == 0 {
				t.Fatal("reason=out_of_scope found nothing")
			}
			for _, it := range l.Items {
				if it.Reason != "out_of_scope" {
					t.Fatalf("reason=out_of_scope returned %+v", it)
				}
			}
			e.Do(t, "GET", "/v1/domains/"+d.ID+"/audit/entries?reason=granted&outcome=failed", nil, &l)
			if len(l.Items) != 1 || l.Items[0].ReasonDetail != "project_slug_conflict" {
				t.Fatalf("reason=granted&outcome=failed: %+v", l.Items)
			}
			e.Do(t, "GET", "/v1/platform/audit/entries?reason_detail=unauthenticated", nil, &l)
			if len(l.Items) == 0 || l.Items[0].ReasonDetail != "unauthenticated" {
				t.Fatalf("reason_detail=unauthenticated: %+v", l.Items)
			}
		})
	}
}

// Issue 8 (audit verify): the contract's verify body is optional. No body,
// an empty body (with a JSON content type) and {} verify the whole chain on
// both scopes; before the fix the first two answered 400.
func TestAuditVerifyBodyOptional(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			var d apiv1.Domain
			e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "10.1.0.0/16"}, &d)
			e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "p", Slug: "p"}, nil)
			for _, base := range []string{"/v1/domains/" + d.ID + "/audit", "/v1/platform/audit"} {
				for name, body := range map[string]any{"no body": nil, "empty body": "", "{}": "{}"} {
					st, raw := e.Do(t, "POST", base+"/verify", body, nil)
					var res contractVerifyResult
					err := strictInto(raw, &res, "ok", "segment_from", "segment_to")
					if st != http.StatusOK || err != nil || !res.OK || res.SegmentFrom != 1 || res.SegmentTo < 1 {
						t.Fatalf("%s %s: %d %v %s", base, name, st, err, raw)
					}
				}
				st, raw := e.Do(t, "POST", base+"/verify", `{"from_seq":1,"to_seq":1}`, nil)
				var res contractVerifyResult
				if err := strictInto(raw, &res, "ok", "segment_from", "segment_to"); st != 200 || err != nil || res.SegmentTo != 1 {
					t.Fatalf("%s segment: %d %v %s", base, st, err, raw)
				}
			}
		})
	}
}

// Issue 8: the list filter on the contract reason (SQL) agrees with the
// reason shown (Go) on every combination of stored reason, decision and
// outcome, on both databases.
func TestWireReasonSQL(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l, db := openLog(t, b)
			ctx := context.Background()
			var all []audit.Entry
			for _, reason := range []string{"granted", "out_of_scope", "insufficient_relation", "caveat_violation",
				"unknown", "unauthenticated", "first_start", ""} {
				for _, dec := range []string{"allowed", "denied", "none"} {
					for _, out := range []string{audit.Succeeded, audit.Denied, audit.Failed} {
						e := audit.Entry{ChainID: audit.PlatformChain, Action: "x", Outcome: out, Reason: reason,
							DecisionResult: dec, IdentityRef: "user:x"}
						if err := db.Tx(ctx, func(tx *sql.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
							t.Fatal(err)
						}
						all = append(all, e)
					}
				}
			}
			total := 0
			for _, want := range []string{"granted", "out_of_scope", "insufficient_relation", "caveat_violation", "unknown"} {
				got, err := l.List(ctx, audit.PlatformChain, audit.Filter{Reason: want}, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, e := range all {
					if audit.WireReason(e.Reason, e.DecisionResult, e.Outcome) == want {
						n++
					}
				}
				for _, e := range got {
					if r := audit.WireReason(e.Reason, e.DecisionResult, e.Outcome); r != want {
						t.Errorf("reason=%s matched %q/%q/%q, shown as %s", want, e.Reason, e.DecisionResult, e.Outcome, r)
					}
				}
				if len(got) != n {
					t.Errorf("reason=%s: SQL found %d, Go %d", want, len(got), n)
				}
				total += len(got)
			}
			if total != len(all) {
				t.Errorf("the five reasons cover %d of %d entries", total, len(all))
			}
			if got, _ := l.List(ctx, audit.PlatformChain, audit.Filter{Reason: "unauthenticated"}, 0, 1000); len(got) != 9 {
				t.Errorf("a stored reason as reason= found %d entries, want 9", len(got))
			}
		})
	}
}

// Issue 8 (audit verify): a segment that starts after its end or after the
// head is the caller's mistake (400 invalid_audit_segment), not tampering;
// before the fix both answered ok false with head_mismatch. A Domain whose
// chain was never written verifies as an empty segment (it answered ok
// false, chain_not_found, which a contract client cannot tell from
// tampering); an id that is no Domain is 404; a chain whose head is gone
// while its entries remain still fails.
func TestAuditVerifySegments(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			var d apiv1.Domain
			e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "A", Slug: "a", MeshCIDR: "10.1.0.0/16"}, &d)
			base := "/v1/domains/" + d.ID + "/audit/verify"
			var res apiv1.AuditVerifyResult
			if st, raw := e.Do(t, "POST", base, nil, &res); st != 200 || !res.OK || res.Reason != "" {
				t.Fatalf("never written chain: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "POST", "/v1/domains/0190c0de-0000-7000-8000-000000000001/audit/verify", nil, nil); st != 404 {
				t.Fatalf("unknown Domain: %d %s", st, raw)
			}
			for _, slug := range []string{"one", "two"} {
				e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: slug, Slug: slug}, nil)
			}
			for _, body := range []string{`{"from_seq":2,"to_seq":1}`, `{"from_seq":50}`, `{"from_seq":3,"to_seq":9}`} {
				st, raw := e.Do(t, "POST", base, body, nil)
				if st != 400 || !bytes.Contains(raw, []byte(`"invalid_audit_segment"`)) {
					t.Fatalf("%s: %d %s", body, st, raw)
				}
			}
			if st, raw := e.Do(t, "POST", base, `{"from_seq":2,"to_seq":9}`, &res); st != 200 || !res.OK || res.SegmentTo != 2 {
				t.Fatalf("segment past the head: %d %s", st, raw)
			}
			e.Server.DB.Exec(`DELETE FROM audit_chains WHERE chain_id = $1`, d.ID)
			if st, raw := e.Do(t, "POST", base, nil, &res); st != 200 || res.OK || res.Reason != audit.ReasonChainNotFound {
				t.Fatalf("head gone, entries left: %d %s", st, raw)
			}
		})
	}
}
