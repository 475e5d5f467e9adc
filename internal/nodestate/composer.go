// Package nodestate is the one composer of a node's desired state (GET
// /v1/nodes/{id}/state): each context that owns part of the answer
// registers a Provider, and the composer runs them, in order, inside the
// one read transaction of the request, so the snapshot is consistent
// (docs/design/0005-mesh.md, "Composer"). The composer knows none of the
// contexts; the composition root (internal/app) lists the providers.
package nodestate

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Node is the node whose state is composed.
type Node struct {
	ID, DomainID, ProjectID string
	// Labels is the node's labels as a JSON object.
	Labels string
	// Level is the protocol level negotiated for this request (N3):
	// providers add level-2 members only when it is 2 or more.
	Level int
}

// Provider fills its part of doc for n, reading through tx only.
// Providers run in the order the composer lists them; a later one may read
// what an earlier one filled (the contract's state buckets mirror the
// metadata, the STUN servers go into the mesh block).
type Provider interface {
	Fill(ctx context.Context, tx *sql.Tx, n Node, doc *nodeproto.StateSnapshot) error
}

// Func adapts a function to Provider.
type Func func(ctx context.Context, tx *sql.Tx, n Node, doc *nodeproto.StateSnapshot) error

// Fill calls f.
func (f Func) Fill(ctx context.Context, tx *sql.Tx, n Node, doc *nodeproto.StateSnapshot) error {
	return f(ctx, tx, n, doc)
}

// Named labels a provider for error messages.
type Named struct {
	Name string
	Provider
}

// Composer runs providers in order.
type Composer struct {
	providers []Provider
}

// New returns a composer of providers, in order.
func New(providers ...Provider) *Composer {
	return &Composer{providers: append([]Provider(nil), providers...)}
}

// With returns a composer running c's providers, then more.
func (c *Composer) With(more ...Provider) *Composer {
	return New(append(append([]Provider(nil), c.providers...), more...)...)
}

// Late marks a provider that runs after the read transaction ends, with
// a nil tx: one that reads through its own connection and may write (the
// signing key manager retires expired keys as it lists them), which would
// wait on the transaction's lock on SQLite.
type Late struct {
	Provider
}

// Compose fills doc for n inside tx: every provider but the Late ones, in
// order; the first error stops it (the request then fails as a whole,
// never serving half a state).
func (c *Composer) Compose(ctx context.Context, tx *sql.Tx, n Node, doc *nodeproto.StateSnapshot) error {
	return c.run(ctx, tx, n, doc, false)
}

// ComposeLate runs the Late providers, in order, after the transaction of
// Compose has ended.
func (c *Composer) ComposeLate(ctx context.Context, n Node, doc *nodeproto.StateSnapshot) error {
	return c.run(ctx, nil, n, doc, true)
}

func (c *Composer) run(ctx context.Context, tx *sql.Tx, n Node, doc *nodeproto.StateSnapshot, late bool) error {
	for i, p := range c.providers {
		if _, isLate := p.(Late); isLate != late {
			continue
		}
		if l, ok := p.(Late); ok {
			p = l.Provider
		}
		if err := p.Fill(ctx, tx, n, doc); err != nil {
			if named, ok := p.(Named); ok {
				return fmt.Errorf("nodestate: %s: %w", named.Name, err)
			}
			return fmt.Errorf("nodestate: provider %d: %w", i, err)
		}
	}
	return nil
}
