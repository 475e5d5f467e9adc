package apiclient

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// CheckIdentity also opens a hash_version 3 entry's object id commitment
// (issue 16): the id matches, an erased id passes, another id does not.
func TestCheckIdentityObjectCommitment(t *testing.T) {
	salt, id := "00112233445566778899aabbccddeeff", "0190aaaa-0000-7000-8000-000000000001"
	sum := sha256.Sum256([]byte("plexsphere audit object_id v3\x00" + salt + "\x00" + id))
	e := apiv1.AuditEntryWithProof{
		Entry: apiv1.AuditEntry{HashVersion: 3, Object: apiv1.AuditObject{Type: "identity", ID: id,
			IDCommitment: hex.EncodeToString(sum[:])}},
		Proof: apiv1.AuditProof{ObjectIDSalt: salt},
	}
	if err := CheckIdentity(&e); err != nil {
		t.Fatalf("matching object id: %v", err)
	}
	erased := e
	erased.Entry.Object.ID, erased.Proof.ObjectIDSalt = "", ""
	if err := CheckIdentity(&erased); err != nil {
		t.Fatalf("erased object id: %v", err)
	}
	e.Entry.Object.ID = "0190bbbb-0000-7000-8000-000000000001"
	if err := CheckIdentity(&e); !errors.Is(err, ErrIdentityMismatch) {
		t.Fatalf("another object id: %v", err)
	}
}
