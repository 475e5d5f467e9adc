package tenancy

import (
	"net/netip"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// DefaultReachability is the platform default policy (api.md §3.6).
var DefaultReachability = apiv1.Reachability{HeartbeatInterval: "30s", StaleAfter: "90s", UnreachableAfter: "300s"}

// invariantCode is the contract's code for a body that breaks an
// aggregate invariant, by the field at fault: invalid_domain for the mesh
// pool, invalid_project for a sub-range (issue 8).
func invariantCode(field string) string {
	if field == "mesh_cidr" {
		return "invalid_domain"
	}
	return "invalid_project"
}

// parseCIDR checks a mesh pool or sub-range: canonical network prefix text.
func parseCIDR(field, s string) (netip.Prefix, error) {
	code := invariantCode(field)
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, problem.BadRequest(code, field+" must be a CIDR such as 100.64.0.0/16 or fd00::/48.")
	}
	if p.Masked() != p {
		return p, problem.Newf(400, code, "%s has host bits set; did you mean %s?", field, p.Masked())
	}
	if p.Addr().Is4() && p.Bits() > 30 || p.Addr().Is6() && p.Bits() > 126 {
		return p, problem.BadRequest(code, field+" is too small to hold nodes.")
	}
	return p, nil
}

func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// reachability normalises a policy: nil or all-zero → the default; partial →
// invalid_reachability_policy; bounds per api.md §3.1.
func reachability(r *apiv1.Reachability) (apiv1.Reachability, error) {
	if r == nil || (*r == apiv1.Reachability{}) {
		return DefaultReachability, nil
	}
	bad := func(detail string) error { return problem.BadRequest("invalid_reachability_policy", detail) }
	if r.HeartbeatInterval == "" || r.StaleAfter == "" || r.UnreachableAfter == "" {
		return *r, bad("Set all of heartbeat_interval, stale_after and unreachable_after, or none.")
	}
	hb, e1 := time.ParseDuration(r.HeartbeatInterval)
	st, e2 := time.ParseDuration(r.StaleAfter)
	un, e3 := time.ParseDuration(r.UnreachableAfter)
	switch {
	case e1 != nil || e2 != nil || e3 != nil:
		return *r, bad("Durations are Go duration strings such as 30s or 5m.")
	case hb < 10*time.Second || hb > time.Hour:
		return *r, bad("heartbeat_interval must be between 10s and 1h.")
	case st < 3*hb:
		return *r, bad("stale_after must be at least 3 × heartbeat_interval.")
	case un < 2*st || un > time.Hour:
		return *r, bad("unreachable_after must be at least 2 × stale_after and at most 1h.")
	}
	return apiv1.Reachability{HeartbeatInterval: hb.String(), StaleAfter: st.String(), UnreachableAfter: un.String()}, nil
}
