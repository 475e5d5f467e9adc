package mesh

import (
	"context"
	"database/sql"
	"net/http"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// maxScan bounds one allocation's walk, so a huge pool costs at most this
// many probes.
const maxScan = 1 << 20

// KindBridge and KindGateway (the session gateway, internal/access) are
// the node kinds that take their address from the reserved block.
const (
	KindBridge  = "bridge"
	KindGateway = "gateway"
)

// Request names the node an address is allocated for.
type Request struct {
	DomainID, ProjectID string
	// Kind is the node kind ("node", "bridge"); bridges take from the
	// reserved block first.
	Kind string
	// Level is the protocol level the node registered with; level 2 and
	// above also get an IPv6 ULA address.
	Level int
}

// Addresses is what Allocate hands out.
type Addresses struct {
	IPv4 netip.Addr
	// IPv6 is the ULA address (invalid when the node gets none).
	IPv6 netip.Addr
}

// Allocate picks the node's mesh addresses inside tx, under the Domain's
// lock (its row FOR UPDATE on PostgreSQL, the write lock on SQLite) held
// until tx ends. IPv4: the lowest address of the Project's sub-range, or
// of the Domain's pool minus every sibling sub-range, that no live node
// holds, that was not released within ReleaseHold, and that is outside
// the reserved block at the top of the pool; bridges take from the
// reserved block first. IPv6 (level 2, unless NoIPv6): the Domain's ULA
// /64 with the IPv4 address as its low 32 bits, so it is unique and
// quarantined exactly as the IPv4 address is. It also replaces the
// Domain's member token (a node joins).
func (s *Service) Allocate(ctx context.Context, tx *sql.Tx, r Request) (Addresses, error) {
	var meshCIDR string
	if err := tx.QueryRowContext(ctx, `SELECT mesh_cidr FROM domains WHERE id = $1`+s.db.ForUpdate(), r.DomainID).
		Scan(&meshCIDR); err != nil {
		return Addresses{}, err
	}
	pool, err := netip.ParsePrefix(meshCIDR)
	if err != nil {
		return Addresses{}, err
	}
	if err := s.changedIn(ctx, tx, r.DomainID, nil); err != nil { // a node joins
		return Addresses{}, err
	}
	pool = pool.Masked()
	own, siblings, err := subRanges(ctx, tx, r.DomainID, r.ProjectID)
	if err != nil {
		return Addresses{}, err
	}
	taken, err := s.takenIPs(ctx, tx, r.DomainID)
	if err != nil {
		return Addresses{}, err
	}
	from, exhausted, where, others := pool, "pool_exhausted", "Domain's pool", siblings
	if own.IsValid() {
		from, exhausted, where, others = own, "subrange_exhausted", "Project's sub-range", nil
	}
	if !from.Addr().Is4() || !pool.Addr().Is4() {
		return Addresses{}, problem.Unprocessable("mesh_pool_not_ipv4",
			"Nodes need an IPv4 mesh address; the Domain's pool (or the Project's sub-range) is IPv6.")
	}
	reserved, hasReserved := ReservedBlock(pool, s.cfg.ReservedBits)
	var a netip.Addr
	ok := false
	if (r.Kind == KindBridge || r.Kind == KindGateway) && hasReserved {
		a, ok = firstFree(reserved, taken, siblings)
	}
	if !ok {
		exclude := others
		if hasReserved {
			exclude = append(exclude, reserved)
		}
		a, ok = firstFree(from, taken, exclude)
	}
	if !ok {
		return Addresses{}, problem.New(http.StatusServiceUnavailable, exhausted,
			"No free mesh address is left in the "+where+".").
			WithHeader("Retry-After", "60")
	}
	out := Addresses{IPv4: a}
	if r.Level >= nodeproto.Level2 && !s.cfg.NoIPv6 {
		d, err := s.domain(ctx, tx, r.DomainID)
		if err != nil {
			return Addresses{}, err
		}
		out.IPv6 = IPv6For(d.ipv6, a)
	}
	return out, nil
}

// Release quarantines a released mesh IP of domainID (the node's row
// already dropped it) for ReleaseHold, inside tx, and replaces the
// Domain's member token (a node left).
func (s *Service) Release(ctx context.Context, tx *sql.Tx, domainID, ip string) error {
	if ip == "" {
		return nil
	}
	if err := s.changedIn(ctx, tx, domainID, nil); err != nil { // a node leaves
		return err
	}
	if s.cfg.ReleaseHold < 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO mesh_ip_releases (domain_id, ip, released_at) VALUES ($1, $2, $3)
		ON CONFLICT (domain_id, ip) DO UPDATE SET released_at = $3`, domainID, ip, store.Micros(s.cfg.Now()))
	return err
}

// takenIPs is the set of mesh IPs held by the Domain's nodes or still in
// quarantine; expired quarantine rows are dropped on the way.
func (s *Service) takenIPs(ctx context.Context, tx *sql.Tx, domainID string) (map[netip.Addr]bool, error) {
	cutoff := store.Micros(s.cfg.Now().Add(-max(s.cfg.ReleaseHold, 0)))
	if _, err := tx.ExecContext(ctx, `DELETE FROM mesh_ip_releases WHERE domain_id = $1 AND released_at <= $2`,
		domainID, cutoff); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT mesh_ip FROM nodes WHERE domain_id = $1 AND mesh_ip IS NOT NULL
		UNION ALL SELECT ip FROM mesh_ip_releases WHERE domain_id = $1`, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	taken := map[netip.Addr]bool{}
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return nil, err
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			taken[a] = true
		}
	}
	return taken, rows.Err()
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

// ReservedBlock is the block of 2^bits addresses at the top of an IPv4
// pool kept from ordinary nodes (bridges, the session gateway). A pool
// with fewer than bits+2 host bits reserves nothing (ok false).
func ReservedBlock(pool netip.Prefix, bits int) (netip.Prefix, bool) {
	if bits <= 0 || !pool.Addr().Is4() || 32-pool.Bits() < bits+2 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(lastAddr(pool.Masked()), 32-bits).Masked(), true
}

// firstFree walks p from its first host address and returns the first one
// that is neither taken nor inside an excluded prefix. The network and
// broadcast addresses of prefixes up to /30 are never handed out.
func firstFree(p netip.Prefix, taken map[netip.Addr]bool, exclude []netip.Prefix) (netip.Addr, bool) {
	p = p.Masked()
	a, last := p.Addr(), lastAddr(p)
	if p.Bits() <= 30 {
		a = a.Next()
		last = last.Prev()
	}
	for n := 0; a.IsValid() && a.Compare(last) <= 0 && n < maxScan; a, n = a.Next(), n+1 {
		if taken[a] || excluded(a, exclude) {
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
