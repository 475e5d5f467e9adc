package labels

import (
	"context"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/store"
)

// ProjectNodes reads the live nodes of a Project (session gateways
// excluded: no selector ever picks them) with their labels as selectors
// see them.
func ProjectNodes(ctx context.Context, q store.Querier, projectID string) (map[string]map[string]string, error) {
	ids, err := store.Strings(ctx, q, `SELECT id FROM nodes WHERE project_id = $1 AND revoked_at IS NULL AND kind <> 'gateway'`, projectID)
	if err != nil {
		return nil, fmt.Errorf("labels: nodes: %w", err)
	}
	labels, err := nodeLabelsWhere(ctx, q, `n.project_id = $1`, projectID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(ids))
	for _, id := range ids {
		out[id] = labels[id]
		if out[id] == nil {
			out[id] = map[string]string{}
		}
	}
	return out, nil
}

// NodeLabels reads one live node's labels as selectors see them.
func NodeLabels(ctx context.Context, q store.Querier, nodeID string) (map[string]string, error) {
	labels, err := nodeLabelsWhere(ctx, q, `n.id = $1`, nodeID)
	if err != nil || labels[nodeID] == nil {
		return map[string]string{}, err
	}
	return labels[nodeID], nil
}

// nodeLabelsWhere reads the labels of the live nodes n that where (with
// arg) selects, as selectors see them: qualified key → value, the values
// of a multi-valued key sorted and joined with ",".
func nodeLabelsWhere(ctx context.Context, q store.Querier, where, arg string) (map[string]map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.object_id, d.qualified_key, a.value
		FROM label_assignments a JOIN label_definitions d ON d.id = a.definition_id
		JOIN nodes n ON n.id = a.object_id
		WHERE a.object_kind = 'node' AND `+where+` AND n.revoked_at IS NULL
		ORDER BY a.object_id, d.qualified_key, a.value`, arg)
	if err != nil {
		return nil, fmt.Errorf("labels: node labels: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var id, key, value string
		if err := rows.Scan(&id, &key, &value); err != nil {
			return nil, fmt.Errorf("labels: node labels: %w", err)
		}
		labels := out[id]
		if labels == nil {
			labels = map[string]string{}
			out[id] = labels
		}
		if prev, ok := labels[key]; ok {
			labels[key] = prev + "," + value
		} else {
			labels[key] = value
		}
	}
	return out, rows.Err()
}
