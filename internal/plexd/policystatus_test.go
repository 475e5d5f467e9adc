package plexd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
)

func TestStatusShowsPolicy(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, agent.Status{NodeID: "n1", Policy: &agent.PolicyStatus{Backend: "nftables", Enforcing: true, Fingerprint: "fp", Rules: 3, Denied: 7, Logged: 2}})
	if !strings.Contains(b.String(), "Policy:") || !strings.Contains(b.String(), "nftables, fp (3 rules), denied 7, logged 2") {
		t.Fatalf("status:\n%s", b.String())
	}
	b.Reset()
	printStatus(&b, agent.Status{NodeID: "n1", Policy: &agent.PolicyStatus{Backend: "none", Error: "no nftables"}})
	if !strings.Contains(b.String(), "none, not enforcing; refused: no nftables") {
		t.Fatalf("status:\n%s", b.String())
	}
	b.Reset()
	printStatus(&b, agent.Status{NodeID: "n1"})
	if strings.Contains(b.String(), "Policy") {
		t.Fatalf("a node without a firewall shows a policy row:\n%s", b.String())
	}
}
