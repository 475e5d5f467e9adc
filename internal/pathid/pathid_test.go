package pathid

import (
	"errors"
	"testing"

	"github.com/plexsphere/plexsphere/internal/problem"
)

// TestParse: only a 36-character, non-nil UUID passes, canonicalised;
// anything else is 400 invalid_<kind>_id.
func TestParse(t *testing.T) {
	if got, err := Parse("node", "0190C0DE-0000-7000-8000-000000000001"); err != nil || got != "0190c0de-0000-7000-8000-000000000001" {
		t.Fatalf("valid id: %q %v", got, err)
	}
	for _, bad := range []string{"", "not-a-uuid", "00000000-0000-0000-0000-000000000000",
		"{0190c0de-0000-7000-8000-000000000001}", "urn:uuid:0190c0de-0000-7000-8000-000000000001",
		"0190c0de00007000800000000000000001"} {
		_, err := Parse("node", bad)
		var p *problem.Problem
		if !errors.As(err, &p) || p.Status != 400 || p.Code != "invalid_node_id" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
