package actions

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// driftedNodes are the nodes among ids that dispatch skips unless asked
// not to, each with why: an open integrity violation (a binary or hook
// checksum the node found changed), or a policy ruleset other than the
// one the node was last sent, still reported by a heartbeat more than
// DriftAfter after it was sent (level 2: only our plexd reports what it
// enforces).
func (s *Service) driftedNodes(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for chunk := range slices.Chunk(ids, 500) {
		ph, args := placeholders(chunk)
		got, err := store.Strings(ctx, s.cfg.DB, `SELECT DISTINCT node_id FROM integrity_violations WHERE status = 'open'
			AND node_id IN (`+ph+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			out[id] = "open integrity violation"
		}
		if err := s.divergedNodes(ctx, ph, args, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// divergedNodes adds the nodes (of the placeholders' ids) whose reported
// state has diverged from the desired one for longer than DriftAfter.
func (s *Service) divergedNodes(ctx context.Context, ph string, args []any, out map[string]string) error {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT a.node_id, a.heartbeat, COALESCE(a.last_heartbeat_at, 0), p.fingerprint,
		p.fingerprint_at FROM node_agents a JOIN policy_node_state p ON p.node_id = a.node_id
		WHERE a.node_id IN (`+ph+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	now := s.cfg.Now()
	for rows.Next() {
		var id, heartbeat, desired string
		var seen, sent int64
		if err := rows.Scan(&id, &heartbeat, &seen, &desired, &sent); err != nil {
			return err
		}
		if _, ok := out[id]; ok {
			continue
		}
		if why := diverged(heartbeat, desired, store.Time(seen), store.Time(sent), now, s.cfg.DriftAfter); why != "" {
			out[id] = why
		}
	}
	return rows.Err()
}

// diverged says why a node's last heartbeat (received at seen) shows a
// state other than the desired fingerprint sent at sent, when both that
// heartbeat and now are more than bound after sent; "" when it does not
// or the heartbeat reports no policy enforcement (nothing to compare).
func diverged(heartbeat, desired string, seen, sent, now time.Time, bound time.Duration) string {
	var hb struct {
		Policy *nodeproto.PolicyInfo `json:"policy"`
	}
	if json.Unmarshal([]byte(heartbeat), &hb) != nil || hb.Policy == nil || hb.Policy.Fingerprint == desired {
		return ""
	}
	if seen.Sub(sent) <= bound || now.Sub(sent) <= bound {
		return ""
	}
	why := "enforces another policy ruleset than the one sent " + now.Sub(sent).Truncate(time.Second).String() + " ago"
	if hb.Policy.Error != "" {
		why += " (node refused it: " + audit.Clean(hb.Policy.Error, 200) + ")"
	}
	return why
}
