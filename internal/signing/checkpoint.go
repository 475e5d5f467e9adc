package signing

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"

	"github.com/plexsphere/plexsphere/internal/audit"
)

// platformOwner is the domain_id the platform key is stored under. It is not
// a UUID, so no Domain route (they all parse a UUID) can name, list or
// rotate it.
const platformOwner = "platform"

var _ audit.CheckpointSigner = (*Local)(nil)

// SignCheckpoint implements audit.CheckpointSigner: a Domain chain's
// checkpoint is signed with that Domain's active key, so whoever trusts the
// Domain's key (its nodes pin it) can check it. The platform chain, and a
// chain whose Domain never had a key, are signed with the platform key, an
// Ed25519 key of the same local backend created on first use; it signs
// audit checkpoints only.
func (l *Local) SignCheckpoint(ctx context.Context, chainID string, msg []byte) (string, ed25519.PublicKey, []byte, error) {
	k, err := l.ActiveKey(ctx, l.db, chainID)
	if errors.Is(err, ErrDomainNotFound) {
		k, err = l.platformKey(ctx)
	}
	if err != nil {
		return "", nil, nil, err
	}
	sig, err := l.SignWith(ctx, k.KID, msg)
	if err != nil {
		return "", nil, nil, err
	}
	return k.KID, k.Public, sig, nil
}

// platformKey returns the platform key, creating it on first use.
func (l *Local) platformKey(ctx context.Context) (Key, error) {
	const q = `SELECT ` + keyColumns + ` FROM signing_keys WHERE domain_id = $1 AND status = 'active'`
	k, err := scanKey(l.db.QueryRowContext(ctx, q, platformOwner))
	if !errors.Is(err, sql.ErrNoRows) {
		return k, err
	}
	if _, err := l.insertKey(ctx, l.db, platformOwner, `ON CONFLICT DO NOTHING`); err != nil {
		return k, err
	}
	return scanKey(l.db.QueryRowContext(ctx, q, platformOwner))
}
