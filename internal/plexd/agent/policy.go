package agent

import (
	"context"
	"log/slog"
	"sync"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Firewall enforces the node's compiled policy (internal/plexd/firewall:
// nftables or the userspace filter). Set takes the whole block each time
// (nil: not under policy control) and is a no-op for an unchanged
// fingerprint.
type Firewall interface {
	Set(ctx context.Context, p *nodeproto.NodeStatePolicy) error
	Stats() firewall.Stats
}

// Snapshotter is a ControlPlane that also returns the contract's state
// members (the policy block among them). *cpclient.Client implements it;
// a ControlPlane without it never puts the node under policy control.
type Snapshotter interface {
	Snapshot(ctx context.Context) (*nodeproto.StateSnapshot, error)
}

// enforcement remembers why the last block was refused.
type enforcement struct {
	// mu guards refused.
	mu      sync.Mutex
	refused string // the error of the last refused block ("" when enforced)
}

// fetchState pulls state and, where the control plane offers it, the
// policy block.
func (a *Agent) fetchState(ctx context.Context) (*nodeproto.StateResponse, *nodeproto.NodeStatePolicy, error) {
	if s, ok := a.opts.ControlPlane.(Snapshotter); ok && a.opts.Firewall != nil {
		snap, err := s.Snapshot(ctx)
		if err != nil {
			return nil, nil, err
		}
		return &snap.StateResponse, snap.Policy, nil
	}
	st, err := a.opts.ControlPlane.State(ctx)
	return st, nil, err
}

// enforce hands p to the firewall. A refused block is logged and
// reported; what was enforced before stays (the firewall keeps it).
func (a *Agent) enforce(ctx context.Context, p *nodeproto.NodeStatePolicy) {
	if a.opts.Firewall == nil {
		return
	}
	err := a.opts.Firewall.Set(ctx, p)
	a.fw.mu.Lock()
	defer a.fw.mu.Unlock()
	if err != nil {
		if a.fw.refused != err.Error() {
			a.log.LogAttrs(ctx, slog.LevelWarn, "policy refused; the previous one stays enforced", slog.String(logkey.Error, err.Error()))
		}
		a.fw.refused = err.Error()
		return
	}
	a.fw.refused = ""
}

// applyPolicyEvent takes a policy_updated payload: {} (level 1) asks for
// a state pull; a ruleset replaces the desired one.
func (a *Agent) applyPolicyEvent(p *nodeproto.PolicyUpdated) bool {
	if p.Policy == nil || a.opts.Firewall == nil {
		a.Trigger()
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.desired.Policy != nil && a.desired.Policy.Fingerprint == p.Policy.Fingerprint {
		return false
	}
	a.desired.Policy = p.Policy
	return true
}

// policyDrift reports a changed ruleset as drift (policy_added names the
// new fingerprint, policy_removed the old one).
func policyDrift(old, cur *nodeproto.NodeStatePolicy) []nodeproto.DriftCorrection {
	fp := func(p *nodeproto.NodeStatePolicy) string {
		if p == nil {
			return ""
		}
		return p.Fingerprint
	}
	if fp(old) == fp(cur) {
		return nil
	}
	var out []nodeproto.DriftCorrection
	if old != nil {
		out = append(out, nodeproto.DriftCorrection{Type: nodeproto.DriftPolicyRemoved, Detail: "ruleset " + old.Fingerprint})
	}
	if cur != nil {
		out = append(out, nodeproto.DriftCorrection{Type: nodeproto.DriftPolicyAdded, Detail: "ruleset " + cur.Fingerprint})
	}
	return out
}

// policyInfo is the heartbeat's policy member (nil when nothing is
// enforced and nothing was refused).
func (a *Agent) policyInfo() *nodeproto.PolicyInfo {
	if a.opts.Firewall == nil {
		return nil
	}
	s := a.opts.Firewall.Stats()
	a.fw.mu.Lock()
	refused := a.fw.refused
	a.fw.mu.Unlock()
	if !s.Enforcing && refused == "" && s.Denied == 0 && s.Logged == 0 {
		return nil
	}
	return &nodeproto.PolicyInfo{Fingerprint: s.Fingerprint, RevisionID: s.RevisionID, Backend: s.Backend,
		Denied: s.Denied, Logged: s.Logged, Error: refused}
}

// PolicyStatus is the firewall in `plexd status`.
type PolicyStatus struct {
	Backend     string `json:"backend"`
	Enforcing   bool   `json:"enforcing"`
	Fingerprint string `json:"fingerprint,omitempty"`
	RevisionID  string `json:"revision_id,omitempty"`
	Rules       int    `json:"rules"`
	Denied      uint64 `json:"denied"`
	Logged      uint64 `json:"logged"`
	Error       string `json:"error,omitempty"`
}

// policyStatus reports the firewall (nil without one).
func (a *Agent) policyStatus() *PolicyStatus {
	if a.opts.Firewall == nil {
		return nil
	}
	s := a.opts.Firewall.Stats()
	a.fw.mu.Lock()
	defer a.fw.mu.Unlock()
	return &PolicyStatus{Backend: s.Backend, Enforcing: s.Enforcing, Fingerprint: s.Fingerprint, RevisionID: s.RevisionID,
		Rules: s.Rules, Denied: s.Denied, Logged: s.Logged, Error: a.fw.refused}
}

// enforceApplied enforces the ruleset applied before a restart until the
// first state pull replaces it, so a node whose control plane is
// unreachable at start keeps filtering instead of opening up.
func (a *Agent) enforceApplied(ctx context.Context) {
	a.mu.Lock()
	p := a.applied.Policy
	a.mu.Unlock()
	if p != nil {
		a.enforce(ctx, p)
	}
}
