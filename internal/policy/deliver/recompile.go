package deliver

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/policy/compile"
)

// change is one edit of a Domain's index: do applies it and returns the
// affected nodes; undo restores the previous state (used to learn the
// affected nodes' peer sets before the change).
type change struct {
	do, undo func(x *compile.Index) compile.Affected
	// peerEvents is false for joins and leaves: the mesh announces those
	// (peer_added / peer_removed) itself, so a peer set changed by them
	// is no reason for policy_updated either.
	peerEvents bool
	// subject is the node that joined: it fetches its state right after
	// registering, so it is recorded without an event.
	subject string
}

// view is what a node is shown.
type nodeView struct {
	compiled nodeproto.NodeStatePolicy
	level1   []nodeproto.Policy
	peers    []string
}

func viewOf(x *compile.Index, id string) nodeView {
	c, _ := x.Compile(id)
	return nodeView{compiled: c, level1: x.Level1(id), peers: x.Peers(id)}
}

func (v nodeView) told() told {
	t := told{fingerprint: v.compiled.Fingerprint}
	if len(v.level1) > 0 {
		t.level1ID = v.level1[0].ID
	}
	sum := sha256.Sum256([]byte(strings.Join(v.peers, "\n")))
	t.peers = base64.StdEncoding.EncodeToString(sum[:])
	return t
}

// apply records one change of a Domain inside tx: it bumps the Domain's
// generation, applies the change to the cached index (or rebuilds the
// index from tx, which already holds the change, when the cache is not at
// the previous generation), recompiles the affected nodes and emits their
// events. mk builds the change from the index before it is applied (it
// may read the old state of what changes), or from nil when the index is
// rebuilt (then only the change's flags matter).
func (s *Service) apply(ctx context.Context, tx *sql.Tx, domainID string, mk func(x *compile.Index) (change, error)) error {
	gen, err := bumpGeneration(ctx, tx, domainID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var x *compile.Index
	var ids []string
	before := map[string][]string{}
	peerEvents := false
	c, hit := s.domains[domainID]
	hit = hit && c.gen == gen-1
	if hit {
		x = c.x
	}
	ch, err := mk(x)
	if err != nil {
		delete(s.domains, domainID)
		return err
	}
	if hit {
		ids = ch.do(x).IDs()
		if peerEvents = ch.peerEvents && s.cfg.Mesh != nil; peerEvents {
			ch.undo(x)
			for _, id := range ids {
				before[id] = x.Peers(id)
			}
			ch.do(x)
		}
	} else {
		delete(s.domains, domainID)
		s.mu.Unlock()
		x, err = build(ctx, tx, domainID)
		s.mu.Lock()
		if err != nil {
			return err
		}
		ids = x.NodeIDs()
	}
	s.domains[domainID] = &cached{gen: gen, x: x}
	views := make(map[string]nodeView, len(ids))
	for _, id := range ids {
		views[id] = viewOf(x, id)
	}
	// Peer changes travel as peer events (the mesh's for joins and leaves,
	// ours on the incremental path); only after a rebuild, when the old
	// peer sets are unknown, does a changed digest send policy_updated.
	if err := s.tell(ctx, tx, domainID, views, ch.subject, !ch.peerEvents || peerEvents); err != nil {
		return err
	}
	if peerEvents {
		return s.peerEvents(ctx, tx, before, views)
	}
	return nil
}

// tell emits policy_updated to each node whose view changed since it was
// last told, and records what it is told now. Level-2 nodes get their
// compiled ruleset when its fingerprint changed; level-1 nodes get {} when
// their level-1 policy id changed (the agent then reconciles, §10); both
// also when their peers changed and peersSent is false (no peer events
// carry the change). The joining subject is recorded silently.
func (s *Service) tell(ctx context.Context, tx *sql.Tx, domainID string, views map[string]nodeView, subject string,
	peersSent bool) error {
	ids := slices.Sorted(mapKeys(views))
	was, err := loadTold(ctx, tx, ids)
	if err != nil {
		return err
	}
	lv, err := levels(ctx, tx, ids)
	if err != nil {
		return err
	}
	payloads := map[string]any{}
	for _, id := range ids {
		v := views[id]
		now := v.told()
		old, known := was[id]
		if known && old == now {
			continue
		}
		if err := saveTold(ctx, tx, domainID, id, now, s.cfg.Now()); err != nil {
			return err
		}
		if id == subject {
			continue
		}
		if peersSent {
			old.peers = now.peers
		}
		if lv[id] >= nodeproto.Level2 {
			if !known || old.fingerprint != now.fingerprint || old.peers != now.peers {
				c := v.compiled
				payloads[id] = nodeproto.PolicyUpdated{Policy: &c}
			}
		} else if !known || old.level1ID != now.level1ID || old.peers != now.peers {
			payloads[id] = nodeproto.PolicyUpdated{}
		}
	}
	if len(payloads) == 0 || s.cfg.Events == nil {
		return nil
	}
	if err := s.cfg.Events.EmitEach(ctx, tx, nodeproto.EventPolicyUpdated, payloads); err != nil {
		return fmt.Errorf("deliver: %s: %w", nodeproto.EventPolicyUpdated, err)
	}
	return nil
}

// peerEvents tells each affected node of the peers it gained (peer_added,
// the record as it sees it) and lost (peer_removed).
func (s *Service) peerEvents(ctx context.Context, tx *sql.Tx, before map[string][]string, views map[string]nodeView) error {
	if s.cfg.Events == nil {
		return nil
	}
	removed := map[string][]string{} // lost peer → viewers
	for _, viewer := range slices.Sorted(mapKeys(views)) {
		old, now := before[viewer], views[viewer].peers
		for _, p := range now {
			if _, had := slices.BinarySearch(old, p); had {
				continue
			}
			rec, err := s.cfg.Mesh.Render(ctx, tx, viewer, p)
			if err != nil {
				return fmt.Errorf("deliver: render %s for %s: %w", p, viewer, err)
			}
			if rec.Validate() != nil {
				continue // C9: never send a record the agent would choke on
			}
			if err := s.cfg.Events.Emit(ctx, tx, []string{viewer}, nodeproto.EventPeerAdded, rec); err != nil {
				return err
			}
		}
		for _, p := range old {
			if _, has := slices.BinarySearch(now, p); !has {
				removed[p] = append(removed[p], viewer)
			}
		}
	}
	for _, p := range slices.Sorted(mapKeys(removed)) {
		if err := s.cfg.Events.Emit(ctx, tx, removed[p], nodeproto.EventPeerRemoved, nodeproto.PeerRemoved{PeerID: p}); err != nil {
			return err
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
