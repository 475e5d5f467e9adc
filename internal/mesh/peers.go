package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// member is what rendering needs of one node.
type member struct {
	id, domainID, publicKey, meshIP, meshIPv6 string
	level                                     int
	epoch                                     int64
}

// memberColumns select a member; the level is the higher of the one the
// node registered with and the highest it announced since.
const memberColumns = `n.id, n.domain_id, n.public_key, COALESCE(n.mesh_ip, ''), COALESCE(n.mesh_ipv6, ''),
	CASE WHEN a.protocol_level > n.registered_level THEN a.protocol_level ELSE n.registered_level END, n.psk_epoch
	FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id`

func (m member) nodeID() string { return m.id }
func (v viewer) nodeID() string { return v.id }

// asViewer is m as the receiver of a record.
func (m member) asViewer() viewer { return viewer{id: m.id, level: m.level, epoch: m.epoch} }

func scanMember(row interface{ Scan(...any) error }) (member, error) {
	var m member
	err := row.Scan(&m.id, &m.domainID, &m.publicKey, &m.meshIP, &m.meshIPv6, &m.level, &m.epoch)
	return m, err
}

// liveMember reads a live node with a mesh address.
func liveMember(ctx context.Context, q store.Querier, id string) (member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, `SELECT `+memberColumns+`
		WHERE n.id = $1 AND n.revoked_at IS NULL AND n.mesh_ip IS NOT NULL`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("mesh: node %s: %w", id, ErrNotPeer)
	}
	return m, err
}

// peersOf lists the live nodes of domainID with a mesh address other than
// self, sorted by id: the peers self may reach (the full mesh of its
// Domain, api.md §3.6). The (domain_id, id) index of live nodes serves it.
func peersOf(ctx context.Context, q store.Querier, domainID, self string) ([]member, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+memberColumns+`
		WHERE n.domain_id = $1 AND n.revoked_at IS NULL AND n.id <> $2 AND n.mesh_ip IS NOT NULL ORDER BY n.id`,
		domainID, self)
	if err != nil {
		return nil, fmt.Errorf("mesh: peers: %w", err)
	}
	defer rows.Close()
	var out []member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("mesh: peers: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// subjectRecord is what every viewer's record of one subject shares,
// prepared once: the subject, its IPv6 address parsed and formatted (""
// when it has none), and its allowed IPs at level 1 and at level 2. The
// slices are shared by the records and capped at their length, so an
// append to one record's copies.
type subjectRecord struct {
	sub      member
	ipv6     string
	allowed1 []string
	allowed2 []string
}

// prepare builds subject's shared record parts.
func prepare(subject member) *subjectRecord {
	r := &subjectRecord{sub: subject}
	own := subject.meshIP + "/32"
	r.allowed1 = []string{own}
	r.allowed2 = r.allowed1
	if a, err := netip.ParseAddr(subject.meshIPv6); err == nil && a.Is6() {
		r.ipv6 = a.String()
		r.allowed2 = []string{own, r.ipv6 + "/128"}
	}
	return r
}

// render is the subject as viewer sees it at level: keys, addresses and
// the pair's PSK, the path's endpoint, and at level 2 the IPv6 address and
// the path's keepalive, candidates and relay.
func (r *subjectRecord) render(k *pairMAC, viewer viewer, level int, p Path) nodeproto.Peer {
	return r.renderPSK(k.psk(viewer, r.sub.asViewer()), level, p)
}

// renderPSK is the subject as a viewer at level sees it, given the pair's
// PSK.
func (r *subjectRecord) renderPSK(psk string, level int, p Path) nodeproto.Peer {
	sub := r.sub
	peer := nodeproto.Peer{ID: sub.id, NodeID: sub.id, PublicKey: sub.publicKey, MeshIP: sub.meshIP,
		Endpoint: p.Endpoint, AllowedIPs: r.allowed1, PSK: psk}
	if level < nodeproto.Level2 {
		return peer
	}
	peer.MeshIPv6, peer.AllowedIPs = r.ipv6, r.allowed2
	peer.FallbackEndpoint, peer.PersistentKeepalive, peer.Relay = p.FallbackEndpoint, p.Keepalive, p.Relay
	if len(p.Candidates) > 0 {
		peer.Candidates = append([]string(nil), p.Candidates...)
	}
	return peer
}

// render is subject as viewer sees it at level (see subjectRecord.render).
func render(k *pairMAC, viewer viewer, level int, subject member, p Path) nodeproto.Peer {
	return prepare(subject).render(k, viewer, level, p)
}

// Render is subject as viewer sees it, at the viewer's level (the higher
// of its registration's and its agent's announced level): a complete
// nodeproto.Peer with the pair's PSK. ErrNotPeer when either is not a live
// node of the same Domain, or they are the same node.
func (s *Service) Render(ctx context.Context, tx *sql.Tx, viewer, subject string) (nodeproto.Peer, error) {
	v, err := liveMember(ctx, tx, viewer)
	if err != nil {
		return nodeproto.Peer{}, err
	}
	sub, err := liveMember(ctx, tx, subject)
	if err != nil {
		return nodeproto.Peer{}, err
	}
	if v.domainID != sub.domainID || v.id == sub.id {
		return nodeproto.Peer{}, fmt.Errorf("mesh: %s and %s: %w", viewer, subject, ErrNotPeer)
	}
	d, err := s.domain(ctx, tx, v.domainID)
	if err != nil {
		return nodeproto.Peer{}, err
	}
	paths, err := s.paths(ctx, tx, viewer, []string{subject})
	if err != nil {
		return nodeproto.Peer{}, err
	}
	return render(newMAC(d), v.asViewer(), v.level, sub, paths[subject]), nil
}

// PeersOf is every peer of nodeID as it sees them, at its level: complete
// records, sorted by id; records that would not validate are left out
// (C9: one invalid peer must not spoil the agent's whole cycle).
func (s *Service) PeersOf(ctx context.Context, tx *sql.Tx, nodeID string) ([]nodeproto.Peer, error) {
	v, err := liveMember(ctx, tx, nodeID)
	if err != nil {
		return nil, err
	}
	return s.peersAt(ctx, tx, v, v.level)
}

// peersAt renders every peer of v at level.
func (s *Service) peersAt(ctx context.Context, tx *sql.Tx, v member, level int) ([]nodeproto.Peer, error) {
	subjects, err := peersOf(ctx, tx, v.domainID, v.id)
	if err == nil {
		subjects, err = visible(ctx, s, tx, v.domainID, v.id, subjects)
	}
	if err != nil || len(subjects) == 0 {
		return []nodeproto.Peer{}, err
	}
	d, err := s.domain(ctx, tx, v.domainID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(subjects))
	for i, m := range subjects {
		ids[i] = m.id
	}
	paths, err := s.paths(ctx, tx, v.id, ids)
	if err != nil {
		return nil, err
	}
	mac := newMAC(d)
	out := make([]nodeproto.Peer, 0, len(subjects))
	for _, m := range subjects {
		p := render(mac, v.asViewer(), level, m, paths[m.id])
		if p.Validate() == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// paths asks the PathSource, if any.
func (s *Service) paths(ctx context.Context, tx *sql.Tx, viewer string, subjects []string) (map[string]Path, error) {
	if s.cfg.Paths == nil {
		return nil, nil
	}
	m, err := s.cfg.Paths.Paths(ctx, tx, viewer, subjects)
	if err != nil {
		return nil, fmt.Errorf("mesh: paths: %w", err)
	}
	return m, nil
}
