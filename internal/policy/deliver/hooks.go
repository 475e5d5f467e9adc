package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/policy/compile"
)

// PolicyChanged recompiles after a Policy of the Domain was created,
// patched (a new head revision) or deleted, inside that change's
// transaction (policy.Notifier).
func (s *Service) PolicyChanged(ctx context.Context, tx *sql.Tx, domainID, policyID string) error {
	return s.apply(ctx, tx, domainID, func(x *compile.Index) (change, error) {
		ch := change{peerEvents: true}
		if x == nil {
			return ch, nil
		}
		now, exists, err := loadPolicy(ctx, tx, domainID, policyID)
		if err != nil {
			return change{}, err
		}
		old, had := x.Policy(policyID)
		ch.do, ch.undo = setOrRemovePolicy(policyID, now, exists), setOrRemovePolicy(policyID, old, had)
		return ch, nil
	})
}

// NodeLabelsChanged recompiles after a node's labels changed (called by
// the label context inside the assignment's transaction). Its peers are
// told of gained and lost peers.
func (s *Service) NodeLabelsChanged(ctx context.Context, tx *sql.Tx, nodeID string) error {
	return s.nodeChanged(ctx, tx, nodeID, true)
}

// NodeJoined adds a node that just got its mesh address, before the mesh
// announces it (so that the announcement reaches only the peers policy
// lets it talk to).
func (s *Service) NodeJoined(ctx context.Context, tx *sql.Tx, nodeID string) error {
	return s.nodeChanged(ctx, tx, nodeID, false)
}

// NodeLeft drops a node that was revoked or deregistered (the mesh
// announces its removal to the whole Domain).
func (s *Service) NodeLeft(ctx context.Context, tx *sql.Tx, domainID, nodeID string) error {
	if err := forgetTold(ctx, tx, nodeID); err != nil {
		return fmt.Errorf("deliver: forget %s: %w", nodeID, err)
	}
	return s.apply(ctx, tx, domainID, func(x *compile.Index) (change, error) {
		if x == nil {
			return change{}, nil
		}
		old, had := x.Node(nodeID)
		return change{do: removeNode(nodeID), undo: setOrRemoveNode(nodeID, old, had)}, nil
	})
}

func (s *Service) nodeChanged(ctx context.Context, tx *sql.Tx, nodeID string, peerEvents bool) error {
	var domainID string
	err := tx.QueryRowContext(ctx, `SELECT domain_id FROM nodes WHERE id = $1`, nodeID).Scan(&domainID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // not a node: nothing compiles it
	}
	if err != nil {
		return fmt.Errorf("deliver: node %s: %w", nodeID, err)
	}
	return s.apply(ctx, tx, domainID, func(x *compile.Index) (change, error) {
		ch := change{peerEvents: peerEvents}
		if !peerEvents {
			ch.subject = nodeID
		}
		if x == nil {
			return ch, nil
		}
		now, live, err := loadNode(ctx, tx, nodeID)
		if err != nil {
			return change{}, err
		}
		old, had := x.Node(nodeID)
		ch.do, ch.undo = setOrRemoveNode(nodeID, now, live), setOrRemoveNode(nodeID, old, had)
		return ch, nil
	})
}

// SetMode stores the Domain's default and recompiles every node.
func (s *Service) SetMode(ctx context.Context, tx *sql.Tx, domainID string, m compile.Mode) error {
	if !m.Valid() {
		return fmt.Errorf("%w: mode %q", compile.ErrInvalid, m)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE domains SET policy_default = $2 WHERE id = $1`, domainID, string(m)); err != nil {
		return fmt.Errorf("deliver: mode of %s: %w", domainID, err)
	}
	return s.apply(ctx, tx, domainID, func(x *compile.Index) (change, error) {
		if x == nil {
			return change{peerEvents: true}, nil
		}
		old := x.Mode()
		return change{
			peerEvents: true,
			do:         func(x *compile.Index) compile.Affected { return x.SetMode(m) },
			undo:       func(x *compile.Index) compile.Affected { return x.SetMode(old) },
		}, nil
	})
}

func setOrRemovePolicy(id string, p compile.Policy, exists bool) func(*compile.Index) compile.Affected {
	return func(x *compile.Index) compile.Affected {
		if exists {
			return x.SetPolicy(p)
		}
		return x.RemovePolicy(id)
	}
}

func setOrRemoveNode(id string, n compile.Node, exists bool) func(*compile.Index) compile.Affected {
	if !exists {
		return removeNode(id)
	}
	return func(x *compile.Index) compile.Affected { return x.SetNode(n) }
}

func removeNode(id string) func(*compile.Index) compile.Affected {
	return func(x *compile.Index) compile.Affected { return x.RemoveNode(id) }
}
