package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Announce appends eventType about subject to the log of each of its
// peers, inside tx: peer_removed carries {peer_id} (the same for all, and
// subject may already be revoked); every other type (peer_added,
// peer_key_rotated, peer_endpoint_changed) carries the complete record of
// subject as that peer sees it, so payloads differ per recipient (the PSK,
// the path, the level-2 members). Work and rows are O(peers of subject).
func (s *Service) Announce(ctx context.Context, tx *sql.Tx, subject, eventType string) error {
	if s.cfg.Events == nil {
		return nil
	}
	if eventType == nodeproto.EventPeerRemoved {
		return s.announceRemoved(ctx, tx, subject)
	}
	payloads, err := s.views(ctx, tx, subject)
	if err != nil || len(payloads) == 0 {
		return err
	}
	if err := s.cfg.Events.EmitEach(ctx, tx, eventType, payloads); err != nil {
		return fmt.Errorf("mesh: announce %s: %w", eventType, err)
	}
	return nil
}

// views renders subject as each of its peers sees it, keyed by peer id.
func (s *Service) views(ctx context.Context, tx *sql.Tx, subject string) (map[string]any, error) {
	sub, err := liveMember(ctx, tx, subject)
	if err != nil {
		return nil, err
	}
	viewers, err := viewersOf(ctx, tx, sub.domainID, sub.id)
	if err == nil {
		viewers, err = s.visible(ctx, tx, sub.domainID, sub.id, viewers)
	}
	if err != nil || len(viewers) == 0 {
		return nil, err
	}
	d, err := s.domain(ctx, tx, sub.domainID)
	if err != nil {
		return nil, err
	}
	paths, err := s.pathsTo(ctx, tx, subject, viewers)
	if err != nil {
		return nil, err
	}
	return renderViews(d, sub, viewers, paths)
}

// renderViews is the in-memory part of views: sub's record for each
// viewer (its level, the pair's PSK, its path), each checked.
func renderViews(d domainSecret, sub member, viewers []member, paths map[string]Path) (map[string]any, error) {
	k, rec := newMAC(d), prepare(sub)
	var checked [2]bool // a full Validate passed at level 1, at level 2
	out := make(map[string]any, len(viewers))
	for _, v := range viewers {
		p := rec.render(k, v, v.level, paths[v.id])
		if err := checkView(&p, &checked[levelIndex(v.level)]); err != nil {
			return nil, fmt.Errorf("mesh: record of %s for %s: %w", sub.id, v.id, err)
		}
		out[v.id] = p
	}
	return out, nil
}

// levelIndex is 1 for a level-2 (or later) viewer, else 0.
func levelIndex(level int) int {
	if level >= nodeproto.Level2 {
		return 1
	}
	return 0
}

// checkView validates one record of an announcement. Records of one
// subject at one level differ only in the PSK (32 HMAC bytes, a valid
// Key32 by construction) and the path's fields, of which Validate reads
// only the endpoint: the first record of each level gets the full
// Validate (and sets *checked), the others an endpoint check (and the full
// Validate, for its error, when that fails). Saves re-parsing the
// subject's key and addresses for each of its peers.
func checkView(p *nodeproto.Peer, checked *bool) error {
	if *checked && nodeproto.ValidPeerEndpoint(p.Endpoint) {
		return nil
	}
	if err := p.Validate(); err != nil {
		return err
	}
	*checked = true
	return nil
}

// pathsTo is the Path of subject as each viewer sees it: one call when the
// source implements ViewerPaths, else one per viewer.
func (s *Service) pathsTo(ctx context.Context, tx *sql.Tx, subject string, viewers []member) (map[string]Path, error) {
	if s.cfg.Paths == nil {
		return nil, nil
	}
	ids := make([]string, len(viewers))
	for i, v := range viewers {
		ids[i] = v.id
	}
	if vp, ok := s.cfg.Paths.(ViewerPaths); ok {
		m, err := vp.PathsTo(ctx, tx, subject, ids)
		if err != nil {
			return nil, fmt.Errorf("mesh: paths: %w", err)
		}
		return m, nil
	}
	out := make(map[string]Path, len(ids))
	for _, id := range ids {
		m, err := s.paths(ctx, tx, id, []string{subject})
		if err != nil {
			return nil, err
		}
		if p, ok := m[subject]; ok {
			out[id] = p
		}
	}
	return out, nil
}

// announceRemoved tells the live nodes of subject's Domain that it is gone.
func (s *Service) announceRemoved(ctx context.Context, tx *sql.Tx, subject string) error {
	var domainID string
	err := tx.QueryRowContext(ctx, `SELECT domain_id FROM nodes WHERE id = $1`, subject).Scan(&domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("mesh: node %s: %w", subject, ErrNotPeer)
	}
	if err != nil {
		return err
	}
	peers, err := viewersOf(ctx, tx, domainID, subject)
	if err != nil || len(peers) == 0 {
		return err
	}
	ids := make([]string, len(peers))
	for i, p := range peers {
		ids[i] = p.id
	}
	if err := s.cfg.Events.Emit(ctx, tx, ids, nodeproto.EventPeerRemoved, nodeproto.PeerRemoved{PeerID: subject}); err != nil {
		return fmt.Errorf("mesh: announce %s: %w", nodeproto.EventPeerRemoved, err)
	}
	return nil
}
