package nat

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// pathReport is one kept per-peer path report.
type pathReport struct {
	path, endpoint string
	lastHandshake  *time.Time
	rttMicros      int64
	directFailed   bool
}

// HeartbeatPeers stores the per-peer paths of a level-2 heartbeat
// (mesh.peers), replacing the node's previous set. Entries are bounded
// (MaxPeerReports), validated and kept only for live peers of the node's
// Domain; a change that matters to relaying (direct_failed flipped, a
// relayed pair reported down) re-decides the node's pairs in the same
// transaction.
func (s *Service) HeartbeatPeers(ctx context.Context, nodeID string, peers []nodeproto.PeerStatus) error {
	if len(peers) > MaxPeerReports {
		peers = peers[:MaxPeerReports]
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		n, err := loadNode(ctx, tx, nodeID)
		if err != nil || n.revoked {
			return nil // unknown or removed: nothing to keep
		}
		live, err := livePeers(ctx, tx, n.domainID, nodeID)
		if err != nil {
			return err
		}
		isPeer := make(map[string]bool, len(live))
		for _, p := range live {
			isPeer[p.id] = true
		}
		kept := map[string]pathReport{}
		for _, p := range peers {
			if r, ok := validReport(p); ok && isPeer[p.PeerID] {
				kept[p.PeerID] = r
			}
		}
		old, err := loadReports(ctx, tx, nodeID)
		if err != nil {
			return err
		}
		if err := s.replaceReports(ctx, tx, nodeID, kept); err != nil {
			return err
		}
		sessions, err := sessionsOf(ctx, tx, nodeID)
		if err != nil {
			return err
		}
		if !relayRelevant(old, kept, sessions) {
			return nil
		}
		changed := map[string]bool{}
		if err := s.reconcileNode(ctx, tx, nodeID, changed); err != nil {
			return err
		}
		return s.announceSet(ctx, tx, changed)
	})
}

// validReport checks one entry: an ID, a known path, a usable endpoint or
// none, a sane RTT.
func validReport(p nodeproto.PeerStatus) (pathReport, bool) {
	if !nodeproto.ValidID(p.PeerID) {
		return pathReport{}, false
	}
	switch p.Path {
	case nodeproto.PathDirect, nodeproto.PathRelayed, nodeproto.PathDown:
	default:
		return pathReport{}, false
	}
	r := pathReport{path: p.Path, directFailed: p.DirectFailed}
	if p.Endpoint != "" {
		ep, ok := canonicalEndpoint(p.Endpoint)
		if !ok {
			return pathReport{}, false
		}
		r.endpoint = ep
	}
	if !p.LastHandshake.IsZero() && p.LastHandshake.Year() > 1970 && p.LastHandshake.Year() < 10000 {
		t := p.LastHandshake.UTC().Truncate(time.Microsecond)
		r.lastHandshake = &t
	}
	if p.RTTMillis > 0 && p.RTTMillis < 3.6e6 && !math.IsNaN(p.RTTMillis) {
		r.rttMicros = int64(p.RTTMillis * 1000)
	}
	return r, true
}

// relayRelevant reports whether the new reports can change a relay
// decision: direct_failed flipped for a peer, or a relayed peer is down.
func relayRelevant(old, cur map[string]pathReport, sessions map[string]*session) bool {
	for id, r := range cur {
		if r.directFailed != old[id].directFailed {
			return true
		}
		if r.path == nodeproto.PathDown && sessions[id] != nil {
			return true
		}
	}
	for id, r := range old {
		if _, ok := cur[id]; !ok && r.directFailed {
			return true
		}
	}
	return false
}

func loadReports(ctx context.Context, q store.Querier, nodeID string) (map[string]pathReport, error) {
	rows, err := q.QueryContext(ctx, `SELECT peer_id, path, endpoint, last_handshake, rtt_us, direct_failed
		FROM peer_paths WHERE node_id = $1`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("nat: path reports: %w", err)
	}
	defer rows.Close()
	out := map[string]pathReport{}
	for rows.Next() {
		var (
			id string
			r  pathReport
			hs sql.NullInt64
		)
		if err := rows.Scan(&id, &r.path, &r.endpoint, &hs, &r.rttMicros, &r.directFailed); err != nil {
			return nil, fmt.Errorf("nat: path reports: %w", err)
		}
		if hs.Valid {
			t := store.Time(hs.Int64)
			r.lastHandshake = &t
		}
		out[id] = r
	}
	return out, rows.Err()
}

func (s *Service) replaceReports(ctx context.Context, tx *sql.Tx, nodeID string, kept map[string]pathReport) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM peer_paths WHERE node_id = $1`, nodeID); err != nil {
		return fmt.Errorf("nat: path reports: %w", err)
	}
	now := store.Micros(s.now())
	for id, r := range kept {
		var hs any
		if r.lastHandshake != nil {
			hs = store.Micros(*r.lastHandshake)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO peer_paths (node_id, peer_id, path, endpoint, last_handshake,
			rtt_us, direct_failed, reported_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			nodeID, id, r.path, r.endpoint, hs, r.rttMicros, r.directFailed, now); err != nil {
			return fmt.Errorf("nat: path reports: %w", err)
		}
	}
	return nil
}

// PeerPaths is the per-peer part of GET /v1/nodes/{id}/reachability: each
// peer's path as the node last reported it, by peer id; [] when none.
func (s *Service) PeerPaths(ctx context.Context, nodeID string) ([]apiv1.ReachabilityPeer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT peer_id, path, endpoint, last_handshake, rtt_us FROM peer_paths
		WHERE node_id = $1 ORDER BY peer_id`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("nat: path reports: %w", err)
	}
	defer rows.Close()
	out := []apiv1.ReachabilityPeer{}
	for rows.Next() {
		var (
			p   apiv1.ReachabilityPeer
			hs  sql.NullInt64
			rtt int64
		)
		if err := rows.Scan(&p.PeerID, &p.Path, &p.Endpoint, &hs, &rtt); err != nil {
			return nil, fmt.Errorf("nat: path reports: %w", err)
		}
		if hs.Valid {
			t := store.Time(hs.Int64)
			p.LastHandshake = &t
		}
		p.RTTMillis = float64(rtt) / 1000
		out = append(out, p)
	}
	return out, rows.Err()
}
