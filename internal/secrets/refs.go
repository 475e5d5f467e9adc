package secrets

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/plexsphere/plexsphere/internal/labels"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/selector"
	"github.com/plexsphere/plexsphere/internal/store"
)

// binding is a binding joined with its secret, as matching needs it.
type binding struct {
	ID, SecretID, Name string
	Version            int64
	NodeID             string
	Selector           selector.Selector
	HasSelector        bool
}

// matches reports whether b delivers to the node with labels.
func (b binding) matches(nodeID string, labels map[string]string) bool {
	if b.HasSelector {
		return b.Selector.Matches(labels)
	}
	return b.NodeID == nodeID
}

// loadBindings reads every binding of the Project's secrets; where, when
// not empty, narrows them (" AND b.…" with $2).
func loadBindings(ctx context.Context, q store.Querier, projectID, where string, args ...any) ([]binding, error) {
	rows, err := q.QueryContext(ctx, `SELECT b.id, s.id, s.name, s.current_version, COALESCE(b.node_id, ''), COALESCE(b.selector, '')
		FROM secret_bindings b JOIN secrets s ON s.id = b.secret_id
		WHERE b.project_id = $1`+where+` ORDER BY s.name, b.id`, append([]any{projectID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("secrets: bindings: %w", err)
	}
	defer rows.Close()
	var out []binding
	for rows.Next() {
		var b binding
		var sel string
		if err := rows.Scan(&b.ID, &b.SecretID, &b.Name, &b.Version, &b.NodeID, &sel); err != nil {
			return nil, fmt.Errorf("secrets: bindings: %w", err)
		}
		if sel != "" {
			if b.Selector, err = selector.Parse(sel); err != nil {
				return nil, fmt.Errorf("secrets: binding %s: stored selector: %w", b.ID, err)
			}
			b.HasSelector = true
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// refsFor is the secret index of one node: every secret a binding
// delivers to it, by name, each once.
func refsFor(bs []binding, nodeID string, labels map[string]string) []nodeproto.SecretRef {
	refs := []nodeproto.SecretRef{}
	for _, b := range bs {
		if (len(refs) == 0 || refs[len(refs)-1].Key != b.Name) && b.matches(nodeID, labels) {
			refs = append(refs, nodeproto.SecretRef{Key: b.Name, Version: b.Version})
		}
	}
	return refs
}

// view is a Project's bindings and live nodes, read once per change.
type view struct {
	bs    []binding
	nodes map[string]map[string]string // node id → labels
}

// loadView reads the Project's bindings and live nodes through q.
func loadView(ctx context.Context, q store.Querier, projectID string) (view, error) {
	bs, err := loadBindings(ctx, q, projectID, "")
	if err != nil {
		return view{}, err
	}
	nodes, err := labels.ProjectNodes(ctx, q, projectID)
	return view{bs: bs, nodes: nodes}, err
}

// matched returns the live nodes a binding that pick selects delivers
// to, sorted.
func (v view) matched(pick func(binding) bool) []string {
	var picked []binding
	for _, b := range v.bs {
		if pick(b) {
			picked = append(picked, b)
		}
	}
	var out []string
	for id, labels := range v.nodes {
		if slices.ContainsFunc(picked, func(b binding) bool { return b.matches(id, labels) }) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// without is v less the bindings drop selects (what a deletion leaves).
func (v view) without(drop func(binding) bool) view {
	return view{bs: slices.DeleteFunc(slices.Clone(v.bs), drop), nodes: v.nodes}
}

func ofSecret(id string) func(binding) bool  { return func(b binding) bool { return b.SecretID == id } }
func isBinding(id string) func(binding) bool { return func(b binding) bool { return b.ID == id } }

// tell sends node_secrets_updated, with its full secret index as v has
// it, to each of nodeIDs that is live, inside tx.
func (s *Service) tell(ctx context.Context, tx *sql.Tx, v view, nodeIDs []string) error {
	payloads := make(map[string]any, len(nodeIDs))
	for _, id := range nodeIDs {
		if labels, live := v.nodes[id]; live {
			payloads[id] = nodeproto.NodeSecretsUpdated{SecretRefs: refsFor(v.bs, id, labels)}
		}
	}
	return s.cfg.Events.EmitEach(ctx, tx, nodeproto.EventNodeSecretsUpdated, payloads)
}

// NodeLabelsChanged tells a relabelled node its secret index when its
// Project has a selector binding (labels.NodeWatcher), inside the
// assignment's transaction.
func (s *Service) NodeLabelsChanged(ctx context.Context, tx *sql.Tx, nodeID string) error {
	var projectID string
	err := tx.QueryRowContext(ctx, `SELECT project_id FROM nodes WHERE id = $1 AND revoked_at IS NULL`, nodeID).Scan(&projectID)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secrets: node %s: %w", nodeID, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_bindings WHERE project_id = $1 AND selector IS NOT NULL`,
		projectID).Scan(&n); err != nil || n == 0 {
		return err
	}
	v, err := loadView(ctx, tx, projectID)
	if err != nil {
		return err
	}
	return s.tell(ctx, tx, v, []string{nodeID})
}

// StateProvider fills state.secret_refs (nodestate).
func (s *Service) StateProvider() nodestate.Provider {
	return nodestate.Named{Name: "secrets", Provider: nodestate.Func(s.fillRefs)}
}

func (s *Service) fillRefs(ctx context.Context, tx *sql.Tx, n nodestate.Node, doc *nodeproto.StateSnapshot) error {
	refs, err := nodeRefs(ctx, tx, n.ID)
	if err != nil {
		return err
	}
	doc.SecretRefs = refs
	return nil
}

// nodeRefs is one node's secret index. Selectors match the labels
// assigned to the node (label_assignments), as policies do.
func nodeRefs(ctx context.Context, q store.Querier, nodeID string) ([]nodeproto.SecretRef, error) {
	var projectID string
	if err := q.QueryRowContext(ctx, `SELECT project_id FROM nodes WHERE id = $1`, nodeID).Scan(&projectID); err != nil {
		return nil, fmt.Errorf("secrets: node %s: %w", nodeID, err)
	}
	bs, err := loadBindings(ctx, q, projectID, "")
	if err != nil || len(bs) == 0 {
		return []nodeproto.SecretRef{}, err
	}
	labels, err := labels.NodeLabels(ctx, q, nodeID)
	if err != nil {
		return nil, err
	}
	return refsFor(bs, nodeID, labels), nil
}
