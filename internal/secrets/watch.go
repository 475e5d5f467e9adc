package secrets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
)

// watchParallel bounds the metadata reads in flight.
const watchParallel = 8

// Start runs the watcher until Close: every WatchInterval it reads the
// backend's metadata of every secret and carries a newer version written
// outside plexsphere (an operator's `bao kv put`) to the bound nodes.
func (s *Service) Start() {
	if s.cfg.WatchInterval < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.WatchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := s.WatchOnce(ctx); err != nil && ctx.Err() == nil {
					s.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "secret watch pass failed", slogErr(err))
				} else if n > 0 {
					s.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "secret versions from the backend announced", slog.Int("secrets", n))
				}
			}
		}
	}()
}

// Close stops the watcher and waits for it.
func (s *Service) Close() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// WatchOnce runs one pass: it returns how many secrets had a newer version
// in the backend than plexsphere knew. A secret whose metadata cannot be
// read is skipped (and the pass reports the first such error after
// finishing the others).
func (s *Service) WatchOnce(ctx context.Context) (int, error) {
	var all []row
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT id, domain_id, project_id, name, current_version FROM secrets ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("secrets: watch: %w", err)
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ID, &r.DomainID, &r.ProjectID, &r.Name, &r.Current); err != nil {
			rows.Close()
			return 0, fmt.Errorf("secrets: watch: %w", err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("secrets: watch: %w", err)
	}
	newer := make([]int64, len(all))
	errs := make([]error, len(all))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(watchParallel)
	for i, r := range all {
		g.Go(func() error {
			md, err := s.cfg.Backend.Metadata(gctx, r.path())
			switch {
			case errors.Is(err, backend.ErrNotFound):
				// Deleted outside plexsphere: fetches answer 404 until an
				// operator writes it again or deletes it here.
			case err != nil:
				errs[i] = err
			case md.Current > r.Current:
				newer[i] = md.Current
			}
			return nil
		})
	}
	g.Wait()
	changed := 0
	for i, r := range all {
		if newer[i] == 0 {
			continue
		}
		if err := s.recordExternal(ctx, r, newer[i]); err != nil {
			errs[i] = err
			continue
		}
		changed++
	}
	return changed, errors.Join(errs...)
}

// recordExternal records a version the watcher found; the compare-and-set
// on current_version lets only one replica announce it.
func (s *Service) recordExternal(ctx context.Context, r row, version int64) error {
	return s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets SET current_version = $3, updated_at = $4
			WHERE id = $1 AND current_version = $2`, r.ID, r.Current, version, s.stamp().UnixMicro())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // another replica, or a write through plexsphere, was first
		}
		return s.recordVersionTx(ctx, tx, r.path(), version, false)
	})
}
