package tuples

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Load replaces the index with every stored tuple and positions the change
// log tail. It reads the log head before the table, so a change committed in
// between is applied again by the next Sync; replaying is safe because each
// change is applied in order and Apply is idempotent.
func (s *Store) Load(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	var head int64
	if err := s.db.QueryRowContext(ctx, `SELECT seq FROM relation_tuple_log_head WHERE id = 1`).Scan(&head); err != nil {
		return fmt.Errorf("tuples: read log head: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation
		FROM relation_tuples`)
	if err != nil {
		return fmt.Errorf("tuples: load: %w", err)
	}
	defer rows.Close()
	var all []authz.Tuple
	for rows.Next() {
		var t authz.Tuple
		if err := rows.Scan(&t.Resource.Type, &t.Resource.ID, &t.Relation, &t.Subject.Object.Type, &t.Subject.Object.ID, &t.Subject.Relation); err != nil {
			return fmt.Errorf("tuples: load: %w", err)
		}
		if err := t.Validate(); err != nil {
			s.log.WarnContext(ctx, "skipping malformed relation tuple", "error", err)
			continue
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tuples: load: %w", err)
	}
	if err := s.index.Load(all); err != nil {
		return err
	}
	s.last = head
	return s.syncLocked(ctx)
}

// Sync applies every change committed since the last one applied. Writers
// call it after their commit so their own change is visible on this replica
// immediately.
func (s *Store) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return s.syncLocked(ctx)
}

// Applied returns the sequence number of the last change applied.
func (s *Store) Applied() int64 {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return s.last
}

func (s *Store) syncLocked(ctx context.Context) error {
	start := s.now()
	for {
		n, err := s.tailOnceLocked(ctx)
		if err != nil {
			return err
		}
		if n < tailBatch {
			s.syncedAt.Store(start.UnixNano())
			return nil
		}
	}
}

// Healthy returns ErrStale when the change log has not been read to its end
// within MaxLag: a replica cut off from the database must not keep
// answering from grants that may have been revoked (api.md §2.11).
func (s *Store) Healthy() error {
	at := s.syncedAt.Load()
	if at == 0 {
		return fmt.Errorf("%w: not loaded", ErrStale)
	}
	if lag := s.now().Sub(time.Unix(0, at)); lag > s.maxLag {
		return fmt.Errorf("%w: last caught up %s ago", ErrStale, lag.Round(time.Millisecond))
	}
	return nil
}

func (s *Store) tailOnceLocked(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, changes FROM relation_tuple_changes WHERE seq > $1 ORDER BY seq LIMIT $2`,
		s.last, tailBatch)
	if err != nil {
		return 0, fmt.Errorf("tuples: tail: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			seq int64
			raw string
		)
		if err := rows.Scan(&seq, &raw); err != nil {
			return n, fmt.Errorf("tuples: tail: %w", err)
		}
		add, remove, err := decodeChange(raw)
		if err != nil {
			// A change this version cannot read must not be skipped silently:
			// stop here, so the index stays at a consistent prefix.
			return n, fmt.Errorf("tuples: change %d: %w", seq, err)
		}
		if err := s.index.Apply(add, remove); err != nil {
			return n, fmt.Errorf("tuples: change %d: %w", seq, err)
		}
		s.last = seq
		n++
	}
	return n, rows.Err()
}

func decodeChange(raw string) (add, remove []authz.Tuple, err error) {
	var ch change
	if err := json.Unmarshal([]byte(raw), &ch); err != nil {
		return nil, nil, err
	}
	parse := func(ss []string) ([]authz.Tuple, error) {
		out := make([]authz.Tuple, 0, len(ss))
		for _, s := range ss {
			t, err := authz.ParseTuple(s)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, nil
	}
	if add, err = parse(ch.Add); err != nil {
		return nil, nil, err
	}
	remove, err = parse(ch.Remove)
	return add, remove, err
}

// Start follows the change log until Close: a poll every PollInterval, woken
// early by PostgreSQL notifications.
func (s *Store) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done.Add(1)
	go s.follow(ctx)
	if s.db.Dialect() == store.Postgres {
		s.done.Add(1)
		go s.listen(ctx)
	}
}

// Close stops following.
func (s *Store) Close() {
	if s.cancel != nil {
		s.cancel()
		s.done.Wait()
	}
}

func (s *Store) follow(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "relation tuple change log tail failed", "error", err)
		}
	}
}

// listen holds one pooled connection in LISTEN and turns notifications into
// wake-ups; polling covers any gap while it reconnects.
func (s *Store) listen(ctx context.Context) {
	defer s.done.Done()
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.WarnContext(ctx, "relation tuple notification listener failed", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("tuples: listen: driver connection is %T, not pgx", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
			return err
		}
		// Leave the connection clean for the pool whatever happens next.
		defer pc.Exec(context.Background(), "UNLISTEN "+notifyChannel)
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return err
			}
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	})
}
