package meshkeys

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// sweepBatch bounds the nodes one query of a sweep picks.
const sweepBatch = 500

// Start runs the rotation schedule until Close, when Config.Interval is
// set; a sweep runs at once and then every SweepEvery. Several replicas may
// run it on one PostgreSQL: each due node's pending rotation is inserted
// once (the partial unique index settles the race, the loser inserts
// nothing), and only the inserting transaction emits rotate_keys and
// audits, so no leader is needed.
func (s *Service) Start(ctx context.Context) {
	if s.cfg.Interval <= 0 || s.stop != nil {
		return
	}
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.SweepEvery)
		defer t.Stop()
		for {
			if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.WarnContext(ctx, "mesh key rotation schedule failed", "error", err)
			} else if n > 0 {
				s.cfg.Logger.InfoContext(ctx, "mesh key rotations scheduled", "nodes", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the schedule and waits for a sweep under way.
func (s *Service) Close() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
}

// Sweep records a pending rotation for every live node whose key is older
// than Config.Interval and has none pending, and returns how many it
// recorded. Each node is its own transaction: the rotation, its
// rotate_keys (level 2) and its audit entry on the node's Domain chain.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	if s.cfg.Interval <= 0 {
		return 0, nil
	}
	cutoff := store.Micros(s.stamp().Add(-s.cfg.Interval))
	total, after := 0, ""
	for {
		ids, err := s.due(ctx, cutoff, after)
		if err != nil {
			return total, err
		}
		for _, id := range ids {
			fresh, err := s.schedule(ctx, id, cutoff)
			if err != nil {
				return total, err
			}
			if fresh {
				total++
			}
		}
		if len(ids) < sweepBatch {
			return total, nil
		}
		after = ids[len(ids)-1]
	}
}

// due lists, after the id after, live nodes without a pending rotation
// whose key was installed before cutoff.
func (s *Service) due(ctx context.Context, cutoff int64, after string) ([]string, error) {
	return store.Strings(ctx, s.cfg.DB, `SELECT n.id FROM nodes n WHERE n.revoked_at IS NULL AND n.id > $1
		AND NOT EXISTS (SELECT 1 FROM mesh_key_rotations r WHERE r.node_id = n.id AND r.state = 'pending')
		AND COALESCE((SELECT MAX(r.completed_at) FROM mesh_key_rotations r
			WHERE r.node_id = n.id AND r.state = 'completed'), n.created_at) < $2
		ORDER BY n.id LIMIT $3`, after, cutoff, sweepBatch)
}

// schedule records one node's pending rotation if its key is still due.
func (s *Service) schedule(ctx context.Context, nodeID string, cutoff int64) (bool, error) {
	var fresh bool
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		n, err := loadNode(ctx, tx, nodeID, s.cfg.DB.ForUpdate())
		if errors.Is(err, sql.ErrNoRows) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		installed, err := keyInstalledAt(ctx, tx, n)
		if err != nil || store.Micros(installed) >= cutoff {
			return err // rotated meanwhile
		}
		var rid string
		if rid, fresh, err = s.request(ctx, tx, n, originSchedule); err != nil || !fresh {
			return err
		}
		_, err = s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: n.DomainID, Action: "node.keys.rotate.schedule",
			Outcome: audit.Succeeded, Reason: "key_age", IdentityRef: "system", ObjectType: "node", ObjectID: n.ID,
			CorrelationID: rid})
		return err
	})
	return fresh && err == nil, err
}
