package enroll

import (
	"context"
	"database/sql"
	"net/http"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/problem"
)

// maxScan bounds one allocation's walk, so a huge pool costs at most this
// many probes (the mesh context replaces this allocator with a free list).
const maxScan = 1 << 20

// allocateIP picks the lowest free IPv4 address of the Project's sub-range,
// or of the Domain's pool minus every sibling sub-range, for a node in
// domainID. The caller holds the Domain's lock (its row FOR UPDATE on
// PostgreSQL, the write lock on SQLite) for the rest of its transaction.
func (s *Service) allocateIP(ctx context.Context, tx *sql.Tx, domainID, projectID string) (netip.Addr, error) {
	var meshCIDR string
	if err := tx.QueryRowContext(ctx, `SELECT mesh_cidr FROM domains WHERE id = $1`+s.db.ForUpdate(), domainID).
		Scan(&meshCIDR); err != nil {
		return netip.Addr{}, err
	}
	pool, err := netip.ParsePrefix(meshCIDR)
	if err != nil {
		return netip.Addr{}, err
	}
	own, siblings, err := subRanges(ctx, tx, domainID, projectID)
	if err != nil {
		return netip.Addr{}, err
	}
	used, err := usedIPs(ctx, tx, domainID)
	if err != nil {
		return netip.Addr{}, err
	}
	from, exhausted, where := pool, "pool_exhausted", "Domain's pool"
	if own.IsValid() {
		from, exhausted, where, siblings = own, "subrange_exhausted", "Project's sub-range", nil
	}
	if !from.Addr().Is4() {
		return netip.Addr{}, problem.Unprocessable("mesh_pool_not_ipv4",
			"Nodes need an IPv4 mesh address; the Domain's pool (or the Project's sub-range) is IPv6.")
	}
	if a, ok := firstFree(from, used, siblings); ok {
		return a, nil
	}
	return netip.Addr{}, problem.New(http.StatusServiceUnavailable, exhausted,
		"No free mesh address is left in the "+where+".").
		WithHeader("Retry-After", "60")
}

// subRanges returns the Project's own sub-range (invalid when it has none)
// and those of its siblings in the Domain.
func subRanges(ctx context.Context, tx *sql.Tx, domainID, projectID string) (own netip.Prefix, siblings []netip.Prefix, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, sub_range_cidr FROM projects WHERE domain_id = $1 AND sub_range_cidr <> ''`, domainID)
	if err != nil {
		return own, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, cidr string
		if err := rows.Scan(&id, &cidr); err != nil {
			return own, nil, err
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		if id == projectID {
			own = p
		} else {
			siblings = append(siblings, p)
		}
	}
	return own, siblings, rows.Err()
}

// usedIPs is the set of mesh IPs held by the Domain's nodes.
func usedIPs(ctx context.Context, tx *sql.Tx, domainID string) (map[netip.Addr]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT mesh_ip FROM nodes WHERE domain_id = $1 AND mesh_ip IS NOT NULL`, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	used := map[netip.Addr]bool{}
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return nil, err
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			used[a] = true
		}
	}
	return used, rows.Err()
}

// firstFree walks p from its first host address and returns the first one
// that is neither used nor inside an excluded prefix. The network and
// broadcast addresses of prefixes up to /30 are never handed out.
func firstFree(p netip.Prefix, used map[netip.Addr]bool, exclude []netip.Prefix) (netip.Addr, bool) {
	p = p.Masked()
	a, last := p.Addr(), lastAddr(p)
	if p.Bits() <= 30 {
		a = a.Next()
		last = last.Prev()
	}
	for n := 0; a.IsValid() && a.Compare(last) <= 0 && n < maxScan; a, n = a.Next(), n+1 {
		if used[a] || excluded(a, exclude) {
			continue
		}
		return a, true
	}
	return netip.Addr{}, false
}

func excluded(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lastAddr is the highest address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(uint64(1)<<host - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
