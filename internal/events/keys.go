package events

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Directory tells which Domain each node belongs to; the enrollment context
// implements it over its nodes table.
type Directory interface {
	// NodeDomains maps each of nodeIDs to its Domain id, reading through q
	// (the emitting transaction). A node that does not exist is absent from
	// the map.
	NodeDomains(ctx context.Context, q store.Querier, nodeIDs []string) (map[string]string, error)
}

// Keys is the signing context as the event plane needs it (node-protocol
// §8): which key signs a Domain's new events, and which key signs an entry
// at emission.
type Keys interface {
	// CurrentKeyID names the key that signs domainID's new events; Emit
	// records it with every entry (L1). q is the emitting transaction.
	CurrentKeyID(ctx context.Context, q store.Querier, domainID string) (string, error)
	// EmissionKey returns the signer for an entry recorded with keyID (K5):
	// that key while it is current, or previous before its transition
	// deadline; otherwise the Domain's current key.
	EmissionKey(ctx context.Context, domainID, keyID string) (envelope.KeySigner, error)
}

// StaticKeys signs every Domain's events with one key: the platform key of
// a self-hosted deployment (DESIGN.md §1), and the stand-in until per-Domain
// keys are wired. It never rotates.
type StaticKeys struct {
	// ID names the key in the log.
	ID string
	// Key signs.
	Key envelope.KeySigner
}

// NewStaticKeys wraps an Ed25519 private key.
func NewStaticKeys(id string, priv ed25519.PrivateKey) (*StaticKeys, error) {
	k, err := envelope.NewLocalKey(priv)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errors.New("events: static key id is required")
	}
	return &StaticKeys{ID: id, Key: k}, nil
}

// CurrentKeyID implements Keys.
func (s *StaticKeys) CurrentKeyID(context.Context, store.Querier, string) (string, error) {
	return s.ID, nil
}

// EmissionKey implements Keys.
func (s *StaticKeys) EmissionKey(context.Context, string, string) (envelope.KeySigner, error) {
	return s.Key, nil
}

// ErrUnknownNode reports that Emit addressed a node the Directory does not
// know; the emitting transaction should roll back.
var ErrUnknownNode = errors.New("events: unknown node")

// domainsOf resolves every node's Domain or fails naming the first missing.
func domainsOf(ctx context.Context, d Directory, tx *sql.Tx, ids []string) (map[string]string, error) {
	m, err := d.NodeDomains(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("events: node domains: %w", err)
	}
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrUnknownNode, id)
		}
	}
	return m, nil
}
