package enroll

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Reachability states (api.md §3.6, the contract's ReachabilityState).
const (
	ReachHealthy     = "healthy"
	ReachStale       = "stale"
	ReachUnreachable = "unreachable"
)

// Windows used when a Domain's stored durations do not parse.
const (
	defaultStaleAfter       = 90 * time.Second
	defaultUnreachableAfter = 5 * time.Minute
)

// RowQuerier runs a one-row query: *sql.DB, *sql.Tx and *store.DB.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// HeartbeatWindows returns the stale_after and unreachable_after of the
// node's Domain (defaults when they do not parse); sql.ErrNoRows when the
// node is unknown.
func HeartbeatWindows(ctx context.Context, q RowQuerier, nodeID string) (stale, unreachable time.Duration, err error) {
	var staleS, unreachS string
	err = q.QueryRowContext(ctx, `SELECT COALESCE(d.stale_after, ''), COALESCE(d.unreachable_after, '')
		FROM nodes n LEFT JOIN domains d ON d.id = n.domain_id WHERE n.id = $1`, nodeID).Scan(&staleS, &unreachS)
	if err != nil {
		return 0, 0, err
	}
	stale, unreachable = windows(staleS, unreachS)
	return stale, unreachable, nil
}

// DomainHeartbeatWindows is HeartbeatWindows for every node of a Domain;
// sql.ErrNoRows when the Domain is unknown.
func DomainHeartbeatWindows(ctx context.Context, q RowQuerier, domainID string) (stale, unreachable time.Duration, err error) {
	var staleS, unreachS string
	err = q.QueryRowContext(ctx, `SELECT COALESCE(stale_after, ''), COALESCE(unreachable_after, '')
		FROM domains WHERE id = $1`, domainID).Scan(&staleS, &unreachS)
	if err != nil {
		return 0, 0, err
	}
	stale, unreachable = windows(staleS, unreachS)
	return stale, unreachable, nil
}

// windows parses a Domain's stored windows, with the defaults for what
// does not parse.
func windows(staleS, unreachS string) (stale, unreachable time.Duration) {
	stale, unreachable = defaultStaleAfter, defaultUnreachableAfter
	if d, perr := time.ParseDuration(staleS); perr == nil && d > 0 {
		stale = d
	}
	if d, perr := time.ParseDuration(unreachS); perr == nil && d > stale {
		unreachable = d
	}
	return stale, unreachable
}

// HealthySinceSQL is the value node_agents.healthy_since takes when a
// heartbeat arrives at $2 (micros) and the Domain's stale window is $5
// (micros): a heartbeat after a gap of stale_after or more (or the first
// one) starts a new healthy run; any other keeps the run's start. Used in
// the heartbeat's ON CONFLICT update, where node_agents is the stored row.
const HealthySinceSQL = `CASE WHEN node_agents.last_heartbeat_at IS NULL OR $2 - node_agents.last_heartbeat_at >= $5
	THEN $2 ELSE COALESCE(node_agents.healthy_since, node_agents.last_heartbeat_at) END`

// NodeReachability projects a live node's reachability at now (api.md
// §3.6); sql.ErrNoRows for an unknown or removed node. changed_at is when
// the state last changed: the start of the current healthy run, the moment
// the last heartbeat grew stale or unreachable, or the node's creation
// before any heartbeat.
func NodeReachability(ctx context.Context, q RowQuerier, nodeID string, now time.Time) (apiv1.NodeReachability, error) {
	stale, unreach, err := HeartbeatWindows(ctx, q, nodeID)
	if err != nil {
		return apiv1.NodeReachability{}, err
	}
	var (
		created     int64
		last, since *int64
	)
	err = q.QueryRowContext(ctx, `SELECT n.created_at, a.last_heartbeat_at, a.healthy_since
		FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id WHERE n.id = $1 AND n.revoked_at IS NULL`, nodeID).Scan(&created, &last, &since)
	if err != nil {
		return apiv1.NodeReachability{}, err
	}
	return reachability(store.NullTime(last), store.NullTime(since), store.Time(created), now, stale, unreach), nil
}

// Reachability is NodeReachability from values already read (many nodes
// in one query): the node's last heartbeat and healthy run start (nil
// when none), its creation, and its Domain's windows.
func Reachability(last, healthySince *time.Time, created, now time.Time, stale, unreachable time.Duration) apiv1.NodeReachability {
	return reachability(last, healthySince, created, now, stale, unreachable)
}

// reachability projects the last heartbeat and the start of the current
// healthy run against the Domain's windows.
func reachability(last, healthySince *time.Time, created, now time.Time, stale, unreachable time.Duration) apiv1.NodeReachability {
	if last == nil {
		return apiv1.NodeReachability{State: ReachUnreachable, ChangedAt: created}
	}
	age := now.Sub(*last)
	switch {
	case age < stale:
		changed := *last
		if healthySince != nil && !healthySince.After(*last) {
			changed = *healthySince
		}
		return apiv1.NodeReachability{State: ReachHealthy, LastHeartbeatAt: last, ChangedAt: changed}
	case age < unreachable:
		return apiv1.NodeReachability{State: ReachStale, LastHeartbeatAt: last, ChangedAt: last.Add(stale)}
	}
	return apiv1.NodeReachability{State: ReachUnreachable, LastHeartbeatAt: last, ChangedAt: last.Add(unreachable)}
}

// errNoNode reports whether err is a missing row.
func errNoNode(err error) bool { return errors.Is(err, sql.ErrNoRows) }
