package nat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/store"
)

// endpointRow is a node's stored endpoint report.
type endpointRow struct {
	nodeID, domainID, endpoint, natType, observedIP string
	candidates                                      []string
	reportedAt, acceptedAt, staleAfter              time.Time
	tombstoned                                      bool
}

// live reports whether the row names a usable endpoint.
func (e *endpointRow) live() bool { return e != nil && !e.tombstoned && e.endpoint != "" }

// behindNAT reports whether the node said it is behind a NAT (anything but
// none); unknown without a live report.
func (e *endpointRow) behindNAT() bool { return e.live() && e.natType != natNone }

// symmetric reports a live report of a symmetric NAT.
func (e *endpointRow) symmetric() bool { return e.live() && e.natType == natSymmetric }

const endpointColumns = `node_id, domain_id, endpoint, nat_type, candidates, observed_ip, reported_at, accepted_at,
	stale_after, tombstoned`

func scanEndpoint(row interface{ Scan(...any) error }) (endpointRow, error) {
	var (
		e                           endpointRow
		cands                       string
		reported, accepted, staleAt int64
	)
	err := row.Scan(&e.nodeID, &e.domainID, &e.endpoint, &e.natType, &cands, &e.observedIP, &reported, &accepted,
		&staleAt, &e.tombstoned)
	if err != nil {
		return e, err
	}
	if json.Unmarshal([]byte(cands), &e.candidates) != nil {
		e.candidates = nil
	}
	e.reportedAt, e.acceptedAt, e.staleAfter = store.Time(reported), store.Time(accepted), store.Time(staleAt)
	return e, nil
}

// loadEndpoint reads one node's report; ok is false when it has none.
func loadEndpoint(ctx context.Context, q store.Querier, nodeID string) (endpointRow, bool, error) {
	e, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM node_endpoints WHERE node_id = $1`, nodeID))
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("nat: endpoint of %s: %w", nodeID, err)
	}
	return e, true, nil
}

// loadEndpoints reads the reports of ids, keyed by node id.
func loadEndpoints(ctx context.Context, q store.Querier, ids []string) (map[string]*endpointRow, error) {
	out := make(map[string]*endpointRow, len(ids))
	err := inChunks(ids, func(marks string, args []any) error {
		rows, err := q.QueryContext(ctx, `SELECT `+endpointColumns+` FROM node_endpoints WHERE node_id IN (`+marks+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEndpoint(rows)
			if err != nil {
				return err
			}
			out[e.nodeID] = &e
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("nat: endpoints: %w", err)
	}
	return out, nil
}

// inChunks calls f with "$1,…,$n" placeholders and arguments for slices
// of ids of at most 500.
func inChunks(ids []string, f func(marks string, args []any) error) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
		}
		if err := f(strings.Join(marks, ","), args); err != nil {
			return err
		}
	}
	return nil
}

// nodeRef is a node as this package needs it.
type nodeRef struct {
	id, domainID, resourceID string
	level                    int
	revoked                  bool
}

const nodeRefColumns = `n.id, n.domain_id, n.resource_id,
	CASE WHEN a.protocol_level > n.registered_level THEN a.protocol_level ELSE n.registered_level END,
	n.revoked_at IS NOT NULL FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id`

func scanNodeRef(row interface{ Scan(...any) error }) (nodeRef, error) {
	var n nodeRef
	err := row.Scan(&n.id, &n.domainID, &n.resourceID, &n.level, &n.revoked)
	return n, err
}

// loadNode reads one node; sql.ErrNoRows when unknown.
func loadNode(ctx context.Context, q store.Querier, id string) (nodeRef, error) {
	return scanNodeRef(q.QueryRowContext(ctx, `SELECT `+nodeRefColumns+` WHERE n.id = $1`, id))
}

// livePeers lists the live nodes of domainID with a mesh address, other
// than self (the full mesh of a Domain, api.md §3.6).
func livePeers(ctx context.Context, q store.Querier, domainID, self string) ([]nodeRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+nodeRefColumns+`
		WHERE n.domain_id = $1 AND n.revoked_at IS NULL AND n.mesh_ip IS NOT NULL AND n.id <> $2 ORDER BY n.id`,
		domainID, self)
	if err != nil {
		return nil, fmt.Errorf("nat: peers: %w", err)
	}
	defer rows.Close()
	var out []nodeRef
	for rows.Next() {
		n, err := scanNodeRef(rows)
		if err != nil {
			return nil, fmt.Errorf("nat: peers: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// loadLevels reads the protocol level of each of ids.
func loadLevels(ctx context.Context, q store.Querier, ids []string) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	err := inChunks(ids, func(marks string, args []any) error {
		rows, err := q.QueryContext(ctx, `SELECT `+nodeRefColumns+` WHERE n.id IN (`+marks+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNodeRef(rows)
			if err != nil {
				return err
			}
			out[n.id] = n.level
		}
		return rows.Err()
	})
	return out, err
}
