package plexd

import (
	"fmt"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
)

// policyLine renders the firewall's status for `plexd status`.
func policyLine(p *agent.PolicyStatus) string {
	var s string
	switch {
	case p.Enforcing:
		s = fmt.Sprintf("%s, %s (%d rules), denied %d, logged %d", p.Backend, p.Fingerprint, p.Rules, p.Denied, p.Logged)
	default:
		s = fmt.Sprintf("%s, not enforcing", p.Backend)
	}
	if p.Error != "" {
		s += "; refused: " + p.Error
	}
	return s
}
