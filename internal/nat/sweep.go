package nat

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/plexsphere/plexsphere/internal/store"
)

// Start runs the background loop until Close: every SweepInterval it
// tombstones endpoints past stale_after, re-routes pairs off relays that
// stopped being usable, assigns relays to pairs still waiting for one, and
// re-sends sessions before they expire on their bridge.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	ctx, s.stop = context.WithCancel(ctx)
	done := make(chan struct{})
	s.done = done
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					s.log.WarnContext(ctx, "nat_sweep_failed", "error", err.Error())
				}
			}
		}
	}()
}

// Close stops the background loop and waits for it.
func (s *Service) Close() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// Sweep runs one pass of the background loop (tests call it directly).
func (s *Service) Sweep(ctx context.Context) error {
	if err := s.tombstone(ctx); err != nil {
		return err
	}
	domains, err := s.relayDomains(ctx)
	if err != nil {
		return err
	}
	for _, d := range domains {
		if err := s.db.Tx(ctx, func(tx *sql.Tx) error { return s.reconcileDomain(ctx, tx, d) }); err != nil {
			return fmt.Errorf("nat: domain %s: %w", d, err)
		}
	}
	return s.renew(ctx)
}

// tombstone marks endpoints past stale_after and announces the nodes
// (their peers render no endpoint for them any more).
func (s *Service) tombstone(ctx context.Context) error {
	now := store.Micros(s.cfg.Now())
	ids, err := store.Strings(ctx, s.db, `SELECT node_id FROM node_endpoints WHERE NOT tombstoned AND stale_after < $1`, now)
	if err != nil {
		return fmt.Errorf("nat: stale endpoints: %w", err)
	}
	for _, id := range ids {
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE node_endpoints SET tombstoned = TRUE
				WHERE node_id = $1 AND NOT tombstoned AND stale_after < $2`, id, now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // a fresh report won the race
			}
			changed := map[string]bool{id: true}
			if err := s.reconcileNode(ctx, tx, id, changed); err != nil {
				return err
			}
			return s.announceSet(ctx, tx, changed)
		})
		if err != nil {
			return fmt.Errorf("nat: tombstone %s: %w", id, err)
		}
	}
	return nil
}

// relayDomains lists Domains with relays configured or sessions live:
// the only ones whose relayed pairs can change without a report.
func (s *Service) relayDomains(ctx context.Context) ([]string, error) {
	out, err := store.Strings(ctx, s.db, `SELECT domain_id FROM bridge_relays UNION SELECT domain_id FROM relay_sessions`)
	if err != nil {
		return nil, fmt.Errorf("nat: relay domains: %w", err)
	}
	return out, nil
}

// renew re-sends sessions that expire within RenewBefore with a new
// expires_at (the existing agent drops a session at expires_at and after
// 5 minutes at the latest).
func (s *Service) renew(ctx context.Context) error {
	horizon := store.Micros(s.cfg.Now().Add(s.cfg.RenewBefore))
	due, err := querySessions(ctx, s.db, `WHERE expires_at < $1`, horizon)
	if err != nil {
		return err
	}
	for i := range due {
		sess := &due[i]
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			sess.expiresAt = s.now().Add(s.cfg.SessionTTL)
			res, err := tx.ExecContext(ctx, `UPDATE relay_sessions SET expires_at = $2 WHERE id = $1 AND expires_at < $3`,
				sess.id, store.Micros(sess.expiresAt), horizon)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // dropped or renewed meanwhile
			}
			return s.emitAssigned(ctx, tx, sess)
		})
		if err != nil {
			return fmt.Errorf("nat: renew %s: %w", sess.id, err)
		}
	}
	return nil
}
