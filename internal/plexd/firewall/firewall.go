package firewall

import (
	"context"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Backend names.
const (
	BackendNftables  = "nftables"
	BackendUserspace = "userspace"
)

// Backend enforces a node's policy. Set takes the whole compiled block
// each time: nil stops enforcing (the node is not under policy control),
// an unchanged fingerprint is a no-op, a block that does not validate is
// refused and the previous enforcement stays.
type Backend interface {
	Set(ctx context.Context, p *nodeproto.NodeStatePolicy) error
	Stats() Stats
	Close() error
}

// Stats is what a backend reports for the heartbeat and `plexd status`.
// Denied and Logged count packets since the backend started: dropped
// packets (by a deny rule or by default), and first packets of flows a
// log rule passed.
type Stats struct {
	Backend     string
	Enforcing   bool
	RevisionID  string
	Fingerprint string
	Rules       int
	Denied      uint64
	Logged      uint64
}

// same reports whether p is what rs enforces (both nil: not enforcing).
func same(rs *Ruleset, p *nodeproto.NodeStatePolicy) bool {
	if rs == nil || p == nil {
		return rs == nil && p == nil
	}
	return rs.Fingerprint == p.Fingerprint
}
