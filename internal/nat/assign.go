package nat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// needsRelay decides a pair's path: relayed when either side is behind a
// symmetric NAT (the mapping it gives the peer differs from the one STUN
// saw, so the peer can never reach it first, and a direct path would live
// only as long as the symmetric side keeps its mapping open), or when
// either side recently reported that the direct path failed. A pair no
// relay can carry stays direct (see reconcilePair).
func needsRelay(a, b *endpointRow, failed bool) bool {
	return failed || a.symmetric() && b.live() || b.symmetric() && a.live()
}

// pairFlags are the path reports about the pairs of one node, keyed by the
// other side: direct_failed within the retry window, and the last time
// either side reported the pair down.
type pairFlags struct {
	failed map[string]bool
	down   map[string]time.Time
}

func (s *Service) flagsOf(ctx context.Context, q store.Querier, id string) (pairFlags, error) {
	f := pairFlags{failed: map[string]bool{}, down: map[string]time.Time{}}
	cutoff := store.Micros(s.cfg.Now().Add(-s.cfg.DirectRetry))
	rows, err := q.QueryContext(ctx, `SELECT node_id, peer_id, path, direct_failed, reported_at FROM peer_paths
		WHERE (node_id = $1 OR peer_id = $1) AND (direct_failed OR path = $2)`, id, nodeproto.PathDown)
	if err != nil {
		return f, fmt.Errorf("nat: path reports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			node, peer, path string
			failed           bool
			at               int64
		)
		if err := rows.Scan(&node, &peer, &path, &failed, &at); err != nil {
			return f, fmt.Errorf("nat: path reports: %w", err)
		}
		other := peer
		if peer == id {
			other = node
		}
		if failed && at > cutoff {
			f.failed[other] = true
		}
		if path == nodeproto.PathDown && store.Time(at).After(f.down[other]) {
			f.down[other] = store.Time(at)
		}
	}
	return f, rows.Err()
}

// reconcileNode brings every pair of node id to its wanted path inside
// tx: relay sessions are assigned, moved off failed or unusable relays,
// refreshed with new endpoints, or dropped when direct works again; the
// relays hear relay_session_assigned/revoked; both sides of each changed
// pair are added to changed, for the caller to announce. O(peers of id).
func (s *Service) reconcileNode(ctx context.Context, tx *sql.Tx, id string, changed map[string]bool) error {
	n, err := loadNode(ctx, tx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nat: node %s: %w", id, err)
	}
	current, err := sessionsOf(ctx, tx, id)
	if err != nil {
		return err
	}
	if n.revoked {
		for other, sess := range current {
			if err := s.drop(ctx, tx, sess); err != nil {
				return err
			}
			changed[other] = true
		}
		return nil
	}
	peers, err := livePeers(ctx, tx, n.domainID, id)
	if err != nil {
		return err
	}
	ids := []string{id}
	for _, p := range peers {
		ids = append(ids, p.id)
	}
	eps, err := loadEndpoints(ctx, tx, ids)
	if err != nil {
		return err
	}
	flags, err := s.flagsOf(ctx, tx, id)
	if err != nil {
		return err
	}
	relays, err := s.usableRelays(ctx, tx, n.domainID)
	if err != nil {
		return err
	}
	for _, p := range peers {
		cur := current[p.id]
		delete(current, p.id)
		did, err := s.reconcilePair(ctx, tx, eps[id], eps[p.id], cur, flags, relays, id, p.id)
		if err != nil {
			return err
		}
		if did {
			changed[id], changed[p.id] = true, true
		}
	}
	// Sessions with nodes that are no longer live peers.
	for other, sess := range current {
		if err := s.drop(ctx, tx, sess); err != nil {
			return err
		}
		changed[id], changed[other] = true, true
	}
	return nil
}

// reconcilePair handles one pair; changed is true when its path (as the
// sides render it) changed.
func (s *Service) reconcilePair(ctx context.Context, tx *sql.Tx, a, b *endpointRow, cur *session, flags pairFlags,
	relays []relayNode, aID, bID string) (bool, error) {
	want := needsRelay(a, b, flags.failed[bID])
	if !want {
		if cur == nil {
			return false, nil
		}
		return true, s.drop(ctx, tx, cur)
	}
	if !a.live() || !b.live() {
		return false, nil // a session needs both sides' endpoints; keep what there is
	}
	exclude := ""
	down := cur != nil && flags.down[bID].After(cur.createdAt.Add(s.cfg.RelayGrace))
	if cur != nil && down {
		exclude = cur.relayNode
	}
	if cur != nil && !down && usable(relays, cur) {
		return false, s.refresh(ctx, tx, cur, a, b)
	}
	r, ok := pick(relays, aID, bID, exclude)
	if !ok {
		if cur != nil && !usable(relays, cur) {
			// Its relay is gone and no other can carry the pair: direct
			// beats a dead relay; the sweep assigns one when it appears.
			return true, s.drop(ctx, tx, cur)
		}
		return false, nil // no (other) relay now; the sweep retries
	}
	if cur != nil {
		if err := s.drop(ctx, tx, cur); err != nil {
			return false, err
		}
	}
	sess, err := s.insertSession(ctx, tx, a, b, r)
	if err != nil {
		return false, err
	}
	bump(relays, r.nodeID)
	return true, s.emitAssigned(ctx, tx, &sess)
}

// refresh re-sends a session whose sides' endpoints moved (a level-1 relay
// matches exact source addresses).
func (s *Service) refresh(ctx context.Context, tx *sql.Tx, cur *session, a, b *endpointRow) error {
	if a.nodeID > b.nodeID {
		a, b = b, a
	}
	if cur.endpointA == a.endpoint && cur.endpointB == b.endpoint {
		return nil
	}
	cur.endpointA, cur.endpointB = a.endpoint, b.endpoint
	if _, err := tx.ExecContext(ctx, `UPDATE relay_sessions SET endpoint_a = $2, endpoint_b = $3 WHERE id = $1`,
		cur.id, cur.endpointA, cur.endpointB); err != nil {
		return fmt.Errorf("nat: refresh relay session: %w", err)
	}
	return s.emitAssigned(ctx, tx, cur)
}

// emitAssigned sends the session to its relay; a level-1 relay matches
// exact addresses and gets no tokens.
func (s *Service) emitAssigned(ctx context.Context, tx *sql.Tx, sess *session) error {
	w := sess.wire()
	if err := w.Validate(); err != nil {
		return fmt.Errorf("nat: relay session %s: %w", sess.id, err)
	}
	levels, err := loadLevels(ctx, tx, []string{sess.relayNode})
	if err != nil {
		return err
	}
	if levels[sess.relayNode] < nodeproto.Level2 {
		w.PeerAToken, w.PeerBToken = "", ""
	}
	return s.emit(ctx, tx, sess.relayNode, nodeproto.EventRelaySessionAssigned, w)
}

// drop deletes a session and tells its relay.
func (s *Service) drop(ctx context.Context, tx *sql.Tx, sess *session) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM relay_sessions WHERE id = $1`, sess.id); err != nil {
		return fmt.Errorf("nat: drop relay session: %w", err)
	}
	return s.emit(ctx, tx, sess.relayNode, nodeproto.EventRelaySessionRevoked,
		nodeproto.RelaySessionRevoked{SessionID: sess.id})
}

// announceSet announces each live node of set, in id order.
func (s *Service) announceSet(ctx context.Context, tx *sql.Tx, set map[string]bool) error {
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n, err := loadNode(ctx, tx, id)
		if errors.Is(err, sql.ErrNoRows) || err == nil && n.revoked {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.announce(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
