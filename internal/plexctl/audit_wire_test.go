package plexctl

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 8: the server shows reason and decision.result as the contract's
// AuditReason and keeps what the chain stores in reason_detail and
// decision.result_detail; plexctl shows both, and still reads a server
// that sends only the contract's fields.
func TestAuditEntryRendersStoredDetail(t *testing.T) {
	e := apiv1.AuditEntry{Reason: "out_of_scope", ReasonDetail: "unauthenticated",
		Decision: apiv1.AuditDecision{Result: "out_of_scope", ResultDetail: "none",
			CaveatContext: map[string][]string{"time_of_day": {}, "source_ip": {"cidr"}}}}
	if got := reasonOf(e); got != "out_of_scope (unauthenticated)" {
		t.Errorf("reason: %q", got)
	}
	if got := decisionOf(e.Decision); got != "none" {
		t.Errorf("decision: %q", got)
	}
	if got := caveatNames(e.Decision); got != "source_ip, time_of_day" {
		t.Errorf("caveats: %q", got)
	}
	contractOnly := apiv1.AuditEntry{Reason: "granted", Decision: apiv1.AuditDecision{Result: "granted"}}
	if reasonOf(contractOnly) != "granted" || decisionOf(contractOnly.Decision) != "granted" ||
		caveatNames(contractOnly.Decision) != "" {
		t.Errorf("contract-only entry: %q %q", reasonOf(contractOnly), decisionOf(contractOnly.Decision))
	}
}
