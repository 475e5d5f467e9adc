// Package signing owns the per-Domain Ed25519 signing keys (DESIGN.md §6,
// node-protocol.md §8): the key-manager interface the event plane and
// enrolment sign through, the local backend that keeps private keys sealed
// with the master key in the database, key creation on a Domain's first use,
// rotation with a grace window during which the previous key stays listed as
// retiring, and the operator endpoints that list and rotate them.
//
// Private keys exist in plaintext only in this process's memory, never in the
// database, a response or a log line. OpenBao Transit arrives as a second
// backend behind the same KeyManager interface.
package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Key statuses (api.md §4.2).
const (
	StatusActive   = "active"
	StatusRetiring = "retiring"
	StatusRetired  = "retired"
)

// Algorithm is the JOSE name of every key's algorithm.
const Algorithm = "EdDSA"

// Grace bounds of a rotation (api.md §4.2; node-protocol.md §8 K7).
const (
	DefaultGrace = 24 * time.Hour
	MinGrace     = time.Hour
	MaxGrace     = 7 * 24 * time.Hour
)

// Errors callers branch on.
var (
	// ErrDomainNotFound: the Domain does not exist.
	ErrDomainNotFound = errors.New("signing: domain not found")
	// ErrRotationInProgress: a previous key is still retiring.
	ErrRotationInProgress = errors.New("signing: a key is still retiring")
	// ErrKeyUnusable: the named key is retired (or unknown) and signs nothing.
	ErrKeyUnusable = errors.New("signing: key is retired or unknown")
)

// Key is the public view of one signing key.
type Key struct {
	KID       string
	DomainID  string
	Public    ed25519.PublicKey
	Status    string
	CreatedAt time.Time
	// NotAfter is when a retiring key stops verifying; nil for the active key.
	NotAfter *time.Time
}

// PublicBase64 is the key as standard padded base64 (a Key32).
func (k Key) PublicBase64() string { return base64.StdEncoding.EncodeToString(k.Public) }

// Rotation is the outcome of a rotation: the new active key and the key it
// replaced, now retiring until Retiring.NotAfter.
type Rotation struct {
	Active   Key
	Retiring Key
}

// KeyManager is what other contexts sign through. Implementations create a
// Domain's first key on first use.
type KeyManager interface {
	// Sign signs msg with the Domain's active key and names that key.
	Sign(ctx context.Context, domainID string, msg []byte) (kid string, sig []byte, err error)
	// PublicKeys lists the Domain's keys, newest first: the active key,
	// then retiring and retired ones.
	PublicKeys(ctx context.Context, domainID string) ([]Key, error)
	// Rotate makes a new key active and keeps the old one verifying for grace.
	Rotate(ctx context.Context, domainID string, grace time.Duration) (Rotation, error)
}

// LocalConfig configures the local sealed backend.
type LocalConfig struct {
	DB      *store.DB
	Keyring *keyring.Keyring
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Local is the embedded key manager: Ed25519 keys generated in process,
// their private halves sealed with the master key (AES-256-GCM, bound to the
// key id) in the signing_keys table.
type Local struct {
	db  *store.DB
	kr  *keyring.Keyring
	now func() time.Time

	// mu guards cache, the opened private keys by kid.
	mu    sync.Mutex
	cache map[string]ed25519.PrivateKey
}

var _ KeyManager = (*Local)(nil)

// NewLocal validates cfg and returns the local backend.
func NewLocal(cfg LocalConfig) (*Local, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("signing: LocalConfig.DB is required")
	case cfg.Keyring == nil:
		return nil, errors.New("signing: LocalConfig.Keyring is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Local{db: cfg.DB, kr: cfg.Keyring, now: cfg.Now, cache: map[string]ed25519.PrivateKey{}}, nil
}

func sealName(kid string) string { return "signing-key:" + kid }

const keyColumns = `kid, domain_id, public_key, status, created_at, not_after`

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var (
		k       Key
		pub     string
		created int64
		notAft  *int64
	)
	if err := row.Scan(&k.KID, &k.DomainID, &pub, &k.Status, &created, &notAft); err != nil {
		return k, err
	}
	raw, err := base64.StdEncoding.DecodeString(pub)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return k, fmt.Errorf("signing: key %s: corrupt public key", k.KID)
	}
	k.Public, k.CreatedAt, k.NotAfter = raw, store.Time(created), store.NullTime(notAft)
	return k, nil
}

// effective turns a stored status into what callers see at now: a retiring
// key past its not_after is retired.
func effective(k Key, now time.Time) Key {
	if k.Status == StatusRetiring && k.NotAfter != nil && !now.Before(*k.NotAfter) {
		k.Status = StatusRetired
	}
	return k
}

// ActiveKey returns the Domain's active key, creating the Domain's first key
// when it has none. q may be a transaction; ErrDomainNotFound when the
// Domain does not exist.
func (l *Local) ActiveKey(ctx context.Context, q store.Querier, domainID string) (Key, error) {
	k, err := scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM signing_keys
		WHERE domain_id = $1 AND status = 'active'`, domainID))
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return k, err
	}
	var one int
	err = q.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE id = $1`, domainID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrDomainNotFound
	}
	if err != nil {
		return k, err
	}
	if _, err := l.insertKey(ctx, q, domainID, `ON CONFLICT DO NOTHING`); err != nil {
		return k, err
	}
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM signing_keys
		WHERE domain_id = $1 AND status = 'active'`, domainID))
}

// insertKey generates and stores a new active key for the Domain.
func (l *Local) insertKey(ctx context.Context, q store.Querier, domainID, conflict string) (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("signing: generate: %w", err)
	}
	now := l.now().UTC().Truncate(time.Microsecond)
	k := Key{KID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID, Public: pub, Status: StatusActive, CreatedAt: now}
	sealed := base64.StdEncoding.EncodeToString(l.kr.Seal(sealName(k.KID), priv))
	_, err = q.ExecContext(ctx, `INSERT INTO signing_keys (kid, domain_id, algorithm, public_key, private_sealed, status, created_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6) `+conflict,
		k.KID, domainID, Algorithm, k.PublicBase64(), sealed, store.Micros(now))
	if err != nil {
		return Key{}, fmt.Errorf("signing: store key: %w", err)
	}
	return k, nil
}

// PublicKeys implements KeyManager.
func (l *Local) PublicKeys(ctx context.Context, domainID string) ([]Key, error) {
	if _, err := l.ActiveKey(ctx, l.db, domainID); err != nil {
		return nil, err
	}
	now := l.now()
	// K7: a key past its window loses its private half.
	if _, err := l.db.ExecContext(ctx, `UPDATE signing_keys SET status = 'retired', private_sealed = ''
		WHERE domain_id = $1 AND status = 'retiring' AND not_after <= $2`, domainID, store.Micros(now)); err != nil {
		return nil, fmt.Errorf("signing: retire keys: %w", err)
	}
	rows, err := l.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys
		WHERE domain_id = $1 ORDER BY created_at DESC, kid DESC`, domainID)
	if err != nil {
		return nil, fmt.Errorf("signing: list keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, effective(k, now))
	}
	return out, rows.Err()
}

// Sign implements KeyManager.
func (l *Local) Sign(ctx context.Context, domainID string, msg []byte) (string, []byte, error) {
	k, err := l.ActiveKey(ctx, l.db, domainID)
	if err != nil {
		return "", nil, err
	}
	sig, err := l.SignWith(ctx, k.KID, msg)
	return k.KID, sig, err
}

// SignWith signs msg with the named key while it is active or retiring
// within its window (node-protocol.md §8 K5); ErrKeyUnusable otherwise.
func (l *Local) SignWith(ctx context.Context, kid string, msg []byte) ([]byte, error) {
	priv, err := l.private(ctx, kid)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(priv, msg), nil
}

// Signer returns an envelope.KeySigner over the named key, for
// envelope.NewSigner.
func (l *Local) Signer(ctx context.Context, kid string) (envelope.KeySigner, error) {
	priv, err := l.private(ctx, kid)
	if err != nil {
		return nil, err
	}
	return envelope.NewLocalKey(priv)
}

// private opens the named key's private half, checking on every call that
// the key may still sign.
func (l *Local) private(ctx context.Context, kid string) (ed25519.PrivateKey, error) {
	var (
		status, sealed string
		notAfter       *int64
	)
	err := l.db.QueryRowContext(ctx, `SELECT status, private_sealed, not_after FROM signing_keys WHERE kid = $1`, kid).
		Scan(&status, &sealed, &notAfter)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrKeyUnusable
	}
	if err != nil {
		return nil, fmt.Errorf("signing: load key: %w", err)
	}
	usable := status == StatusActive ||
		status == StatusRetiring && notAfter != nil && l.now().Before(store.Time(*notAfter))
	if !usable || sealed == "" {
		l.mu.Lock()
		delete(l.cache, kid)
		l.mu.Unlock()
		return nil, ErrKeyUnusable
	}
	l.mu.Lock()
	priv, ok := l.cache[kid]
	l.mu.Unlock()
	if ok {
		return priv, nil
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("signing: key %s: bad encoding", kid)
	}
	pt, err := l.kr.Open(sealName(kid), raw)
	if err != nil {
		return nil, err
	}
	if len(pt) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing: key %s: corrupt private key", kid)
	}
	priv = ed25519.PrivateKey(pt)
	l.mu.Lock()
	l.cache[kid] = priv
	l.mu.Unlock()
	return priv, nil
}

// Rotate implements KeyManager in its own transaction. It announces nothing:
// operator rotations go through Service, which appends signing_key_rotated
// in the same transaction.
func (l *Local) Rotate(ctx context.Context, domainID string, grace time.Duration) (Rotation, error) {
	var r Rotation
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = l.RotateTx(ctx, tx, domainID, grace)
		return err
	})
	return r, err
}

// RotateTx rotates inside tx (so the caller's audit entry commits with it):
// the Domain's row is locked, a key still retiring refuses the rotation
// (ErrRotationInProgress), keys past their window are retired and lose their
// private half, the active key becomes retiring until now+grace, and a new
// key becomes active. Announcing the rotation to nodes is the caller's
// (Service.OnRotate), in the same transaction.
func (l *Local) RotateTx(ctx context.Context, tx *sql.Tx, domainID string, grace time.Duration) (Rotation, error) {
	var r Rotation
	if grace < MinGrace || grace > MaxGrace {
		return r, fmt.Errorf("signing: grace %s outside %s..%s", grace, MinGrace, MaxGrace)
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE id = $1`+l.db.ForUpdate(), domainID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrDomainNotFound
	}
	if err != nil {
		return r, err
	}
	old, err := l.ActiveKey(ctx, tx, domainID)
	if err != nil {
		return r, err
	}
	now := l.now().UTC().Truncate(time.Microsecond)
	if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET status = 'retired', private_sealed = ''
		WHERE domain_id = $1 AND status = 'retiring' AND not_after <= $2`, domainID, store.Micros(now)); err != nil {
		return r, err
	}
	var retiring int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signing_keys WHERE domain_id = $1 AND status = 'retiring'`,
		domainID).Scan(&retiring); err != nil {
		return r, err
	}
	if retiring > 0 {
		return r, ErrRotationInProgress
	}
	notAfter := now.Add(grace)
	if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET status = 'retiring', not_after = $2 WHERE kid = $1`,
		old.KID, store.Micros(notAfter)); err != nil {
		return r, err
	}
	old.Status, old.NotAfter = StatusRetiring, &notAfter
	active, err := l.insertKey(ctx, tx, domainID, "")
	if err != nil {
		return r, err
	}
	return Rotation{Active: active, Retiring: old}, nil
}
