package deliver

import (
	"context"

	"github.com/plexsphere/plexsphere/internal/policy/compile"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Inventory is policy.Inventory over the delivery's own reads: the
// Domain's live nodes with their Project, labels and addresses, and the
// Domain's stored default, so that dry-runs and revision tests decide
// exactly as delivery compiles.
type Inventory struct{}

// Nodes returns the Domain's live nodes with mesh addresses.
func (Inventory) Nodes(ctx context.Context, q store.Querier, domainID string) ([]compile.Node, error) {
	return loadNodes(ctx, q, domainID)
}

// Mode returns the Domain's default.
func (Inventory) Mode(ctx context.Context, q store.Querier, domainID string) (compile.Mode, error) {
	return loadMode(ctx, q, domainID)
}
