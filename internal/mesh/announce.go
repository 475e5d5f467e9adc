package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Announce appends eventType about subject to the log of each of its
// peers, inside tx: peer_removed carries {peer_id} (the same for all, and
// subject may already be revoked); every other type (peer_added,
// peer_key_rotated, peer_endpoint_changed) carries the complete record of
// subject as that peer sees it, so payloads differ per recipient (the PSK,
// the path, the level-2 members). Work is O(peers of subject); the
// database is read for subject alone (the peers come from the member
// index, index.go), and the records are rendered on all cores.
func (s *Service) Announce(ctx context.Context, tx *sql.Tx, subject, eventType string) error {
	switch eventType {
	case nodeproto.EventPeerAdded, nodeproto.EventPeerRemoved, nodeproto.EventPeerKeyRotated:
		if err := s.changed(ctx, tx, subject); err != nil { // the member index follows
			return err
		}
	}
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
	viewers, err := s.viewersOf(ctx, tx, sub.domainID, sub.id)
	if err == nil {
		viewers, err = visible(ctx, s, tx, sub.domainID, sub.id, viewers)
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
// viewer (its level, the pair's PSK, its path), each checked, as a
// *nodeproto.Peer into one array. A large fan-out is split across up to
// GOMAXPROCS workers, each with its own MAC; the records and the error
// reported (the first viewer's, in order, whose record fails) do not
// depend on the split.
func renderViews(d domainSecret, sub member, viewers []viewer, paths map[string]Path) (map[string]any, error) {
	rec, peers := prepare(sub), make([]nodeproto.Peer, len(viewers))
	n := renderWorkers(len(viewers))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		lo, hi := w*len(viewers)/n, (w+1)*len(viewers)/n
		run := func() { errs[w] = rec.renderAll(d, viewers[lo:hi], paths, peers[lo:hi]) }
		if w == n-1 {
			run()
		} else {
			wg.Go(run)
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := make(map[string]any, len(viewers))
	for i, v := range viewers {
		out[v.id] = &peers[i]
	}
	return out, nil
}

// minPerWorker is the fewest records worth a goroutine of their own.
const minPerWorker = 1024

// renderWorkers is how many workers render n records.
func renderWorkers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minPerWorker))
}

// renderAll renders r's record for each of vs into out (same length):
// first every PSK, into one string, then the records around them.
func (r *subjectRecord) renderAll(d domainSecret, vs []viewer, paths map[string]Path, out []nodeproto.Peer) error {
	k, sub := newMAC(d), r.sub.asViewer()
	var b strings.Builder
	b.Grow(len(vs) * pskLen)
	scratch := make([]byte, 0, pskLen)
	for _, v := range vs {
		b.Write(k.appendPSK(scratch[:0], v, sub))
	}
	psks := b.String()
	var checked [2]bool // a full Validate passed at level 1, at level 2
	for i, v := range vs {
		out[i] = r.renderPSK(psks[i*pskLen:(i+1)*pskLen], v.level, paths[v.id])
		if err := checkView(&out[i], &checked[levelIndex(v.level)]); err != nil {
			return fmt.Errorf("mesh: record of %s for %s: %w", r.sub.id, v.id, err)
		}
	}
	return nil
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
func (s *Service) pathsTo(ctx context.Context, tx *sql.Tx, subject string, viewers []viewer) (map[string]Path, error) {
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
	peers, err := s.viewersOf(ctx, tx, domainID, subject)
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
