package nat

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// relayNode is a usable relay: an enabled bridge relay whose bridge node
// is live and has an address, and how many sessions it carries.
type relayNode struct {
	resourceID, nodeID, endpoint string
	load                         int
}

// usableRelays lists the usable relays of a Domain, least loaded first
// (ties by node id), keyed also by node id in the map.
func (s *Service) usableRelays(ctx context.Context, q store.Querier, domainID string) ([]relayNode, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.resource_id, r.listen_port, n.id,
		COALESCE(e.endpoint, ''), COALESCE(e.observed_ip, ''), COALESCE(e.tombstoned, FALSE)
		FROM bridge_relays r JOIN nodes n ON n.resource_id = r.resource_id AND n.revoked_at IS NULL
		LEFT JOIN node_endpoints e ON e.node_id = n.id
		WHERE r.domain_id = $1 AND r.enabled ORDER BY n.id`, domainID)
	if err != nil {
		return nil, fmt.Errorf("nat: relays: %w", err)
	}
	type cand struct {
		resourceID, nodeID, endpoint, observed string
		port                                   int
		tomb                                   bool
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.resourceID, &c.port, &c.nodeID, &c.endpoint, &c.observed, &c.tomb); err != nil {
			rows.Close()
			return nil, fmt.Errorf("nat: relays: %w", err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var out []relayNode
	for _, c := range cands {
		addr, ok := relayAddress(c.endpoint, c.observed, c.tomb, c.port)
		if !ok {
			continue
		}
		r, err := enroll.NodeReachability(ctx, q, c.nodeID, now)
		if err != nil || r.State != enroll.ReachHealthy {
			continue
		}
		var load int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM relay_sessions WHERE relay_node_id = $1`, c.nodeID).Scan(&load); err != nil {
			return nil, fmt.Errorf("nat: relay load: %w", err)
		}
		out = append(out, relayNode{resourceID: c.resourceID, nodeID: c.nodeID, endpoint: addr, load: load})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].load < out[j].load })
	return out, nil
}

// relayAddress is the bridge's reported endpoint IP (else the address
// the control plane saw it from) with the relay's listen port.
func relayAddress(endpoint, observed string, tombstoned bool, port int) (string, bool) {
	if port < 1 || port > 65535 {
		return "", false
	}
	if ap, err := netip.ParseAddrPort(endpoint); err == nil && !tombstoned {
		return netip.AddrPortFrom(ap.Addr(), uint16(port)).String(), true
	}
	if a, err := netip.ParseAddr(observed); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
		return netip.AddrPortFrom(a.Unmap(), uint16(port)).String(), true
	}
	return "", false
}

// pick chooses the least-loaded usable relay that is neither side of the
// pair and not excluded, with room for one more session.
func pick(relays []relayNode, a, b, exclude string) (relayNode, bool) {
	for _, r := range relays {
		if r.nodeID != a && r.nodeID != b && r.nodeID != exclude && r.load < nodeproto.MaxRelaySessions {
			return r, true
		}
	}
	return relayNode{}, false
}

// bump counts one more session on relay nodeID in relays, keeping the
// least-loaded order.
func bump(relays []relayNode, nodeID string) {
	for i := range relays {
		if relays[i].nodeID == nodeID {
			relays[i].load++
		}
	}
	sort.SliceStable(relays, func(i, j int) bool { return relays[i].load < relays[j].load })
}

// usable reports whether relays holds the session's relay at its address.
func usable(relays []relayNode, sess *session) bool {
	for _, r := range relays {
		if r.nodeID == sess.relayNode && r.endpoint == sess.relayEndpoint {
			return true
		}
	}
	return false
}
