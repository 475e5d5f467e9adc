package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/policy"
	"github.com/plexsphere/plexsphere/internal/policy/compile"
	"github.com/plexsphere/plexsphere/internal/store"
)

// bumpGeneration advances the Domain's generation and returns the new
// value; the row it writes stays locked until the transaction ends, which
// serialises the recompilations of one Domain.
func bumpGeneration(ctx context.Context, tx *sql.Tx, domainID string) (int64, error) {
	var gen int64
	err := tx.QueryRowContext(ctx, `INSERT INTO policy_generations (domain_id, generation) VALUES ($1, 1)
		ON CONFLICT (domain_id) DO UPDATE SET generation = policy_generations.generation + 1
		RETURNING generation`, domainID).Scan(&gen)
	if err != nil {
		return 0, fmt.Errorf("deliver: generation of %s: %w", domainID, err)
	}
	return gen, nil
}

// readGeneration is the Domain's generation (0 before the first change).
func readGeneration(ctx context.Context, q store.Querier, domainID string) (int64, error) {
	var gen int64
	err := q.QueryRowContext(ctx, `SELECT generation FROM policy_generations WHERE domain_id = $1`, domainID).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return gen, err
}

// loadMode reads the Domain's default; an unknown value reads as deny.
func loadMode(ctx context.Context, q store.Querier, domainID string) (compile.Mode, error) {
	var m string
	err := q.QueryRowContext(ctx, `SELECT policy_default FROM domains WHERE id = $1`, domainID).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return compile.ModeDeny, nil
	}
	if err != nil {
		return "", fmt.Errorf("deliver: mode of %s: %w", domainID, err)
	}
	if mode := compile.Mode(m); mode.Valid() {
		return mode, nil
	}
	return compile.ModeDeny, nil
}

// loadPolicies reads the head revision of every Policy of the Domain.
// A stored revision that does not compile is an error, never skipped
// (skipping a deny would allow more).
func loadPolicies(ctx context.Context, q store.Querier, domainID string) ([]compile.Policy, error) {
	heads, err := policy.ForDomain(ctx, q, domainID)
	if err != nil {
		return nil, fmt.Errorf("deliver: policies of %s: %w", domainID, err)
	}
	out := make([]compile.Policy, 0, len(heads))
	for _, h := range heads {
		p, err := policy.ToCompile(h.ProjectID, h.PolicyID, h.Revision.ID, h.Revision.Selector, h.Revision.Rules)
		if err != nil {
			return nil, fmt.Errorf("deliver: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// loadPolicy reads one Policy's head, false when it no longer exists.
func loadPolicy(ctx context.Context, q store.Querier, domainID, policyID string) (compile.Policy, bool, error) {
	all, err := loadPolicies(ctx, q, domainID)
	if err != nil {
		return compile.Policy{}, false, err
	}
	for _, p := range all {
		if p.ID == policyID {
			return p, true, nil
		}
	}
	return compile.Policy{}, false, nil
}

// nodeColumns select what the compiler needs of a live node.
const nodeColumns = `SELECT id, project_id, COALESCE(mesh_ip, ''), COALESCE(mesh_ipv6, ''), kind = 'gateway' FROM nodes
	WHERE revoked_at IS NULL AND mesh_ip IS NOT NULL`

// loadNodes reads the Domain's live nodes with mesh addresses and labels.
func loadNodes(ctx context.Context, q store.Querier, domainID string) ([]compile.Node, error) {
	return queryNodes(ctx, q, nodeColumns+` AND domain_id = $1 ORDER BY id`, `n.domain_id = $1`, domainID)
}

// loadNode reads one live node; false when it is revoked, unknown or has
// no mesh address.
func loadNode(ctx context.Context, q store.Querier, nodeID string) (compile.Node, bool, error) {
	nodes, err := queryNodes(ctx, q, nodeColumns+` AND id = $1`, `n.id = $1`, nodeID)
	if err != nil || len(nodes) == 0 {
		return compile.Node{}, false, err
	}
	return nodes[0], true, nil
}

// queryNodes runs a node query and attaches labels of the same nodes
// (labelWhere filters the nodes n of the label query with the same arg).
func queryNodes(ctx context.Context, q store.Querier, query, labelWhere string, arg string) ([]compile.Node, error) {
	rows, err := q.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, fmt.Errorf("deliver: nodes: %w", err)
	}
	var out []compile.Node
	index := map[string]int{}
	for rows.Next() {
		var n compile.Node
		var v4, v6 string
		if err := rows.Scan(&n.ID, &n.Project, &v4, &v6, &n.Gateway); err != nil {
			rows.Close()
			return nil, fmt.Errorf("deliver: nodes: %w", err)
		}
		n.MeshIP, _ = netip.ParseAddr(v4)
		if a, err := netip.ParseAddr(v6); err == nil && a.Is6() {
			n.MeshIPv6 = a
		}
		if !n.MeshIP.Is4() {
			continue // not addressable on the mesh: in no ruleset
		}
		n.Labels = map[string]string{}
		index[n.ID] = len(out)
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deliver: nodes: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	lrows, err := q.QueryContext(ctx, `SELECT a.object_id, d.qualified_key, a.value
		FROM label_assignments a JOIN label_definitions d ON d.id = a.definition_id
		JOIN nodes n ON n.id = a.object_id
		WHERE a.object_kind = 'node' AND `+labelWhere+` AND n.revoked_at IS NULL
		ORDER BY a.object_id, d.qualified_key, a.value`, arg)
	if err != nil {
		return nil, fmt.Errorf("deliver: labels: %w", err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var id, key, value string
		if err := lrows.Scan(&id, &key, &value); err != nil {
			return nil, fmt.Errorf("deliver: labels: %w", err)
		}
		i, ok := index[id]
		if !ok {
			continue
		}
		if prev, ok := out[i].Labels[key]; ok {
			out[i].Labels[key] = prev + "," + value
		} else {
			out[i].Labels[key] = value
		}
	}
	return out, lrows.Err()
}

// told is what a node was last told.
type told struct {
	fingerprint, level1ID, peers string
}

// loadTold reads what the given nodes were last told (absent: never).
func loadTold(ctx context.Context, q store.Querier, ids []string) (map[string]told, error) {
	out := make(map[string]told, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		marks, args := placeholders(chunk)
		rows, err := q.QueryContext(ctx, `SELECT node_id, fingerprint, level1_id, peers_digest
			FROM policy_node_state WHERE node_id IN (`+marks+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("deliver: told: %w", err)
		}
		for rows.Next() {
			var id string
			var t told
			if err := rows.Scan(&id, &t.fingerprint, &t.level1ID, &t.peers); err != nil {
				rows.Close()
				return nil, fmt.Errorf("deliver: told: %w", err)
			}
			out[id] = t
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// saveTold records what a node is told now.
func saveTold(ctx context.Context, tx *sql.Tx, domainID, nodeID string, t told, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO policy_node_state (node_id, domain_id, fingerprint, level1_id, peers_digest, fingerprint_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (node_id) DO UPDATE SET domain_id = $2, fingerprint = $3,
		level1_id = $4, peers_digest = $5,
		fingerprint_at = CASE WHEN policy_node_state.fingerprint = $3 THEN policy_node_state.fingerprint_at ELSE $6 END`,
		nodeID, domainID, t.fingerprint, t.level1ID, t.peers, store.Micros(now))
	if err != nil {
		return fmt.Errorf("deliver: record %s: %w", nodeID, err)
	}
	return nil
}

// forgetTold drops a node that left.
func forgetTold(ctx context.Context, tx *sql.Tx, nodeID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM policy_node_state WHERE node_id = $1`, nodeID)
	return err
}

// levels reads the protocol level of each node: the higher of its
// registration's and its agent's announced one.
func levels(ctx context.Context, q store.Querier, ids []string) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		marks, args := placeholders(chunk)
		rows, err := q.QueryContext(ctx, `SELECT n.id, n.registered_level, COALESCE(a.protocol_level, 0)
			FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id WHERE n.id IN (`+marks+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("deliver: levels: %w", err)
		}
		for rows.Next() {
			var id string
			var reg, announced int
			if err := rows.Scan(&id, &reg, &announced); err != nil {
				rows.Close()
				return nil, fmt.Errorf("deliver: levels: %w", err)
			}
			out[id] = max(reg, announced)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// placeholders renders $1..$n for ids.
func placeholders(ids []string) (string, []any) {
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
	}
	return strings.Join(marks, ","), args
}
