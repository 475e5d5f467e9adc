package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// vectorEntry is a fixed version 2 entry: every field set, so that the
// golden bytes below pin the hash rule of stored chains.
func vectorEntry() Entry {
	e := Entry{
		ChainID: "0190f1d2-0000-7000-8000-000000000001", Seq: 42, HashVersion: HashV2,
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC),
		Action:     "node.delete", Outcome: Denied, Reason: "insufficient_relation", Pseudonym: "p-7f3a",
		IdentityRef: "user:0190aaaa", Relation: "manage", ObjectType: "node", ObjectID: "n-1",
		DecisionResult: "denied", CaveatNames: []string{"ip"}, CorrelationID: "c-1",
		IP: "192.0.2.7", UserAgent: "plexctl/1.0", IdentitySalt: "00112233445566778899aabbccddeeff",
	}
	e.IdentityCommit = identityCommit(e.IdentitySalt, e.IdentityRef)
	return e
}

// TestEntryHashVector pins the entry hash rule with a golden vector, worked
// out independently of chainHash: entry_hash = SHA-256(prev_hash ‖
// SHA-256(canonical)), with the identity commitment inside the canonical
// bytes. Stored chains verify only while this rule is unchanged, and a rule
// that Append and Verify share could drift without any round-trip test
// noticing.
//
// Mutations (issue 17): leave prev_hash out of chainHash → the hash
// differs; hash a version 2 entry without its identity commitment → the
// canonical bytes differ. Either way this test fails.
func TestEntryHashVector(t *testing.T) {
	e := vectorEntry()
	// Worked out with Python's hashlib and json (sorted keys, no spaces).
	const (
		wantCommit    = "92c376a094a34be5e3972394bd3080a76694963c6fb0ef639e3ea47ea0967ec5"
		wantCanonical = `{"action":"node.delete","correlation_id":"c-1",` +
			`"decision":{"caveat_context":["ip"],"result":"denied"},` +
			`"domain_id":"0190f1d2-0000-7000-8000-000000000001","hash_version":2,` +
			`"object":{"id":"n-1","type":"node"},"occurred_at":"2026-01-02T03:04:05.6Z",` +
			`"outcome":"denied","reason":"insufficient_relation","relation":"manage",` +
			`"request_context":{"ip":"192.0.2.7","user_agent":"plexctl/1.0"},"seq":42,` +
			`"subject":{"identity_id_ref_commitment":"` + wantCommit + `","pseudonym":"p-7f3a"}}`
		wantHash = "2a88581f084dbb66a1323549a561d93f18b84d50aa1bdaaa30efe6e4ef7098ee"
	)
	if e.IdentityCommit != wantCommit {
		t.Errorf("identity commitment = %s, want %s", e.IdentityCommit, wantCommit)
	}
	canonical := e.Canonical(nil)
	if string(canonical) != wantCanonical {
		t.Errorf("canonical bytes:\n got %s\nwant %s", canonical, wantCanonical)
	}
	var prev [32]byte
	for i := range prev {
		prev[i] = byte(i)
	}
	inner := sha256.Sum256([]byte(wantCanonical))
	independent := sha256.Sum256(append(prev[:], inner[:]...))
	if hex.EncodeToString(independent[:]) != wantHash {
		t.Fatalf("the golden hash is not SHA-256(prev ‖ SHA-256(canonical)): %x", independent)
	}
	if got := chainHash(prev, canonical); hex.EncodeToString(got[:]) != wantHash {
		t.Errorf("chainHash = %x, want %s", got, wantHash)
	}
	// The predecessor is part of the hash: another prev, another hash.
	if a, b := chainHash(prev, canonical), chainHash([32]byte{}, canonical); a == b {
		t.Error("the entry hash does not depend on prev_hash")
	}
}

// TestObjectCommitVector pins the version 3 object id commitment and its
// place in the canonical bytes, and that an erased id (no id, no salt)
// stays bound while any other id does not.
func TestObjectCommitVector(t *testing.T) {
	e := vectorEntry()
	e.HashVersion, e.ObjectType, e.ObjectID, e.ObjectSalt = HashV3, "identity", "0190aaaa", "ffeeddccbbaa99887766554433221100"
	e.ObjectCommit = objectCommit(e.ObjectSalt, e.ObjectID)
	label := []byte("plexsphere audit object_id v3\x00")
	sum := sha256.Sum256(append(append(append(label, e.ObjectSalt...), 0), e.ObjectID...))
	if e.ObjectCommit != hex.EncodeToString(sum[:]) {
		t.Fatalf("object commitment %s is not SHA-256(label ‖ salt ‖ 0 ‖ id)", e.ObjectCommit)
	}
	c := string(e.Canonical(nil))
	if want := `,"object":{"id_commitment":"` + e.ObjectCommit + `","type":"identity"},`; !strings.Contains(c, want) ||
		strings.Contains(c, "0190aaaa\"") || !strings.Contains(c, `"hash_version":3`) {
		t.Fatalf("canonical bytes: %s", c)
	}
	if !e.objectBound() {
		t.Fatal("the object id does not open its own commitment")
	}
	erased := e
	erased.ObjectID, erased.ObjectSalt = "", ""
	if !erased.objectBound() || string(erased.Canonical(nil)) != c {
		t.Fatal("erasing the object id changed the hashed bytes or unbound the entry")
	}
	for _, bad := range []struct{ id, salt string }{{"0190bbbb", e.ObjectSalt}, {"0190aaaa", ""}, {"", e.ObjectSalt}} {
		x := e
		x.ObjectID, x.ObjectSalt = bad.id, bad.salt
		if x.objectBound() {
			t.Errorf("id %q with salt %q is bound", bad.id, bad.salt)
		}
	}
}
