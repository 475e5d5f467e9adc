package events

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/store"
)

// StateHold is how long a stream opened without Last-Event-ID holds its
// events for a node whose signing key changed since registration, unless
// the node fetches state first (K6).
const StateHold = 10 * time.Second

// hold is a stream's K6 hold: it ends at until, or as soon as the node has
// been served a state begun at or after stateAfter.
type hold struct {
	until      time.Time
	stateAfter time.Time
}

// stateLog remembers, per node, when this replica last began serving it a
// state that succeeded. A hold waits for it; another replica's state is
// not seen, so there the hold simply runs out.
type stateLog struct {
	// mu guards began.
	mu    sync.Mutex
	began map[string]time.Time
}

func (l *stateLog) served(nodeID string, began time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.began == nil {
		l.began = map[string]time.Time{}
	}
	if began.After(l.began[nodeID]) {
		l.began[nodeID] = began
	}
}

func (l *stateLog) servedSince(nodeID string, after time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.began[nodeID]
	return ok && !t.Before(after)
}

// stateServed records a successful state response begun at began and
// wakes the node's stream if it is holding.
func (s *Service) stateServed(nodeID string, began time.Time) {
	s.states.served(nodeID, began)
	s.hub.wakeNodes([]string{nodeID})
}

// holdFor decides K6 for a stream of nodeID: the existing agent, after a
// restart, trusts only its registration-time key until its first
// reconcile installs state.signing_keys, so when the Domain's active key
// is newer than the node, a stream opened without Last-Event-ID holds its
// events until the node has been served a state begun at most StateHold
// before the stream opened, or for StateHold.
func (s *Service) holdFor(ctx context.Context, nodeID, lastID string) (*hold, error) {
	if lastID != "" {
		return nil, nil
	}
	changed, err := keyChangedSinceRegistration(ctx, s.db, nodeID)
	if err != nil || !changed {
		return nil, err
	}
	now := time.Now()
	return &hold{until: now.Add(StateHold), stateAfter: now.Add(-StateHold)}, nil
}

// keyChangedSinceRegistration reports whether the active signing key of
// the node's Domain came from a rotation after the node registered: it is
// newer than the node and not the Domain's first key (which registration
// itself may create, a moment after the node's timestamp). A read-only view
// of the enrollment and signing contexts' tables.
func keyChangedSinceRegistration(ctx context.Context, q store.Querier, nodeID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM nodes n JOIN signing_keys k ON k.domain_id = n.domain_id
		WHERE n.id = $1 AND k.status = 'active' AND k.created_at > n.created_at
		AND EXISTS (SELECT 1 FROM signing_keys o WHERE o.domain_id = k.domain_id AND o.kid <> k.kid)`, nodeID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
