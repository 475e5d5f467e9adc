package policy

import (
	"context"
	"net/netip"

	"github.com/plexsphere/plexsphere/internal/policy/compile"
	"github.com/plexsphere/plexsphere/internal/store"
)

// DBInventory reads a Domain's live nodes (those with a mesh address) and
// their labels from the database; every Domain has the deny default. The
// delivery's inventory replaces it when configured (it knows the Domain's
// mode).
type DBInventory struct{}

// Nodes returns the Domain's live nodes with their labels (qualified key
// → value; several values of one key joined with "," as selectors see
// them).
func (DBInventory) Nodes(ctx context.Context, q store.Querier, domainID string) ([]compile.Node, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, COALESCE(mesh_ip, ''), COALESCE(mesh_ipv6, '') FROM nodes
		WHERE domain_id = $1 AND revoked_at IS NULL AND mesh_ip IS NOT NULL ORDER BY id`, domainID)
	if err != nil {
		return nil, err
	}
	var out []compile.Node
	index := map[string]int{}
	for rows.Next() {
		var id, v4, v6 string
		if err := rows.Scan(&id, &v4, &v6); err != nil {
			rows.Close()
			return nil, err
		}
		n := compile.Node{ID: id, Labels: map[string]string{}}
		n.MeshIP, _ = netip.ParseAddr(v4)
		n.MeshIPv6, _ = netip.ParseAddr(v6)
		index[id] = len(out)
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	lrows, err := q.QueryContext(ctx, `SELECT a.object_id, d.qualified_key, a.value
		FROM label_assignments a JOIN label_definitions d ON d.id = a.definition_id
		JOIN nodes n ON n.id = a.object_id
		WHERE a.object_kind = 'node' AND n.domain_id = $1 AND n.revoked_at IS NULL
		ORDER BY a.object_id, d.qualified_key, a.value`, domainID)
	if err != nil {
		return nil, err
	}
	defer lrows.Close()
	for lrows.Next() {
		var id, key, value string
		if err := lrows.Scan(&id, &key, &value); err != nil {
			return nil, err
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

// Mode is the deny default (the allow-all bootstrap mode is the
// delivery's to report).
func (DBInventory) Mode(context.Context, store.Querier, string) (compile.Mode, error) {
	return compile.ModeDeny, nil
}
