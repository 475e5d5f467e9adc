package opevents

import (
	"context"
	"database/sql"
	"time"

	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Heartbeat windows used when a Domain's stored durations do not parse
// (as internal/enroll projects them).
const (
	defaultStaleAfter       = 90 * time.Second
	defaultUnreachableAfter = 5 * time.Minute
)

type reachChange struct {
	nodeID, domainID, projectID string
	prev                        sql.NullString
	state                       string
}

// SweepReachability projects every live node's reachability (api.md §3.6,
// as internal/enroll does) and records node_reachability_changed for each
// node whose state differs from the last one announced. A node seen for the
// first time is announced only when it is not unreachable (node_registered
// covers its arrival). It returns the number of events recorded.
func (s *Service) SweepReachability(ctx context.Context) (int, error) {
	now := store.Micros(s.cfg.Now())
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT n.id, n.domain_id, n.project_id, a.last_heartbeat_at,
		COALESCE(d.stale_after, ''), COALESCE(d.unreachable_after, ''), r.state
		FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id LEFT JOIN domains d ON d.id = n.domain_id
		LEFT JOIN operator_reachability r ON r.node_id = n.id WHERE n.revoked_at IS NULL`)
	if err != nil {
		return 0, err
	}
	var changes []reachChange
	for rows.Next() {
		var (
			c            reachChange
			last         sql.NullInt64
			staleS, unrS string
		)
		if err := rows.Scan(&c.nodeID, &c.domainID, &c.projectID, &last, &staleS, &unrS, &c.prev); err != nil {
			rows.Close()
			return 0, err
		}
		c.state = project(last, now, staleS, unrS)
		if c.prev.Valid && c.prev.String == c.state {
			continue
		}
		changes = append(changes, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range changes {
		recorded := false
		err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
			recorded = false
			prev := enroll.ReachUnreachable
			if !c.prev.Valid {
				res, err := tx.ExecContext(ctx, `INSERT INTO operator_reachability (node_id, domain_id, state) VALUES ($1, $2, $3)
					ON CONFLICT (node_id) DO NOTHING`, c.nodeID, c.domainID, c.state)
				if err != nil {
					return err
				}
				if k, _ := res.RowsAffected(); k != 1 || c.state == enroll.ReachUnreachable {
					return nil
				}
			} else {
				prev = c.prev.String
				res, err := tx.ExecContext(ctx, `UPDATE operator_reachability SET state = $3 WHERE node_id = $1 AND state = $2`,
					c.nodeID, c.prev.String, c.state)
				if err != nil {
					return err
				}
				if k, _ := res.RowsAffected(); k != 1 {
					return nil // another replica announced it
				}
			}
			recorded = true
			return s.Record(ctx, tx, Event{DomainID: c.domainID, Type: NodeReachabilityChanged, ObjectType: "node",
				ObjectID: c.nodeID, ProjectID: c.projectID, Payload: ReachabilitySummary{DomainID: c.domainID,
					NodeID: c.nodeID, ProjectID: c.projectID, State: c.state, PreviousState: prev}})
		})
		if err != nil {
			return n, err
		}
		if recorded {
			n++
		}
	}
	return n, nil
}

// project is a node's reachability state from its last heartbeat (micros)
// and its Domain's windows.
func project(last sql.NullInt64, now int64, staleS, unreachS string) string {
	if !last.Valid {
		return enroll.ReachUnreachable
	}
	stale, unreach := defaultStaleAfter, defaultUnreachableAfter
	if d, err := time.ParseDuration(staleS); err == nil && d > 0 {
		stale = d
	}
	if d, err := time.ParseDuration(unreachS); err == nil && d > stale {
		unreach = d
	}
	age := time.Duration(now-last.Int64) * time.Microsecond
	switch {
	case age < stale:
		return enroll.ReachHealthy
	case age < unreach:
		return enroll.ReachStale
	}
	return enroll.ReachUnreachable
}
