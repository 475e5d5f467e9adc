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
func (s *Service) allocateIP(ctx context.Context, tx *sql.Tx, domainID, projectID string) (netip.Addr, string, error) {
	var meshCIDR string
	if err := tx.QueryRowContext(ctx, `SELECT mesh_cidr FROM domains WHERE id = $1`+s.db.ForUpdate(), domainID).
		Scan(&meshCIDR); err != nil {
		return netip.Addr{}, "", err
	}
	pool, err := netip.ParsePrefix(meshCIDR)
	if err != nil {
		return netip.Addr{}, "", err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, sub_range_cidr FROM projects WHERE domain_id = $1 AND sub_range_cidr <> ''`, domainID)
	if err != nil {
		return netip.Addr{}, "", err
	}
	var own netip.Prefix
	var siblings []netip.Prefix
	for rows.Next() {
		var id, cidr string
		if err := rows.Scan(&id, &cidr); err != nil {
			rows.Close()
			return netip.Addr{}, "", err
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return netip.Addr{}, "", err
	}
	used := map[netip.Addr]bool{}
	rows, err = tx.QueryContext(ctx, `SELECT mesh_ip FROM nodes WHERE domain_id = $1 AND mesh_ip IS NOT NULL`, domainID)
	if err != nil {
		return netip.Addr{}, "", err
	}
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			rows.Close()
			return netip.Addr{}, "", err
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			used[a] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return netip.Addr{}, "", err
	}
	from, exhausted := pool, "pool_exhausted"
	if own.IsValid() {
		from, exhausted, siblings = own, "subrange_exhausted", nil
	}
	if !from.Addr().Is4() {
		return netip.Addr{}, "", problem.Unprocessable("mesh_pool_not_ipv4",
			"Nodes need an IPv4 mesh address; the Domain's pool (or the Project's sub-range) is IPv6.")
	}
	if a, ok := firstFree(from, used, siblings); ok {
		return a, meshCIDR, nil
	}
	return netip.Addr{}, "", problem.New(http.StatusServiceUnavailable, exhausted,
		"No free mesh address is left in the "+map[bool]string{true: "Project's sub-range", false: "Domain's pool"}[own.IsValid()]+".").
		WithHeader("Retry-After", "60")
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
