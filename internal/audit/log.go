package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/store"
)

// ErrNotFound is returned for a seq that does not exist in a chain.
var ErrNotFound = errors.New("audit: entry not found")

// Config configures a Log.
type Config struct {
	DB *store.DB
	// Pepper keys the subject pseudonyms (HMAC-SHA-256); 32 bytes or more.
	Pepper []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Domains resolves the Domain of a denied request's object, so the
	// denial is written to that Domain's chain; nil keeps the chain the
	// handler targeted.
	Domains DomainResolver
	// BurstWindow is how long the entries of failed authentications and
	// rate-limited requests from one client are aggregated into one;
	// 0 means DefaultBurstWindow.
	BurstWindow time.Duration
}

// Log appends to and reads the chains.
type Log struct {
	db      *store.DB
	pepper  []byte
	now     func() time.Time
	domains DomainResolver
	burst   *burst
	// appended runs inside the transaction of every append (see OnAppend).
	appended []func(ctx context.Context, tx *sql.Tx, e Entry) error
}

// OnAppend adds fn, run inside the transaction of every entry appended
// after the entry is written (an outbox, such as the operator event
// stream's); its error fails the append. Call it before serving.
func (l *Log) OnAppend(fn func(ctx context.Context, tx *sql.Tx, e Entry) error) {
	l.appended = append(l.appended, fn)
}

const (
	sqlAdvance = `UPDATE audit_chains SET last_seq = last_seq + 1 WHERE chain_id = $1 RETURNING last_seq, last_hash`
	sqlCreate  = sqlCreateChain
	sqlInsert  = `INSERT INTO audit_entries (` + entryColumns + `)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)`
	sqlHead = `UPDATE audit_chains SET last_hash = $2 WHERE chain_id = $1`
)

// New validates cfg and returns a Log.
func New(cfg Config) (*Log, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("audit: Config.DB is required")
	case len(cfg.Pepper) < 32:
		return nil, errors.New("audit: Config.Pepper must be at least 32 bytes")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BurstWindow <= 0 {
		cfg.BurstWindow = DefaultBurstWindow
	}
	return &Log{db: cfg.DB, pepper: cfg.Pepper, now: cfg.Now, domains: cfg.Domains,
		burst: newBurst(cfg.BurstWindow)}, nil
}

// Pseudonym is the legacy per-chain pseudonym of an identity: 64 lowercase
// hex of HMAC-SHA-256(pepper, chain ‖ 0 ‖ identity). Entries written before
// issue 16 carry it, and so do entries without an identity ("anonymous").
func (l *Log) Pseudonym(chainID, identityID string) string {
	return l.pseudonym(chainID, identityID, "")
}

// pseudonym is HMAC-SHA-256(pepper, chain ‖ 0 ‖ identity), or with a nonce
// HMAC-SHA-256(pepper, chain ‖ 0 ‖ identity ‖ 0 ‖ nonce). The nonce is the
// per-(chain, identity) key held in audit_pseudonym_keys, outside every
// entry; erasure deletes it, and with it the only way to derive the
// pseudonym from the identity.
func (l *Log) pseudonym(chainID, identityID, nonce string) string {
	m := hmac.New(sha256.New, l.pepper)
	m.Write([]byte(chainID))
	m.Write([]byte{0})
	m.Write([]byte(identityID))
	if nonce != "" {
		m.Write([]byte{0})
		m.Write([]byte(nonce))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// keyed reports whether an identity reference gets a per-identity
// pseudonym key: every reference but none and "anonymous".
func keyed(ref string) bool { return ref != "" && ref != "anonymous" }

// The (chain, identity) pseudonym key is read, and created on first use;
// the common case is one indexed read, with no write.
const (
	sqlNonceGet = `SELECT nonce FROM audit_pseudonym_keys WHERE chain_id = $1 AND identity_ref = $2`
	sqlNonceAdd = `INSERT INTO audit_pseudonym_keys (chain_id, identity_ref, nonce) VALUES ($1, $2, $3)
		ON CONFLICT (chain_id, identity_ref) DO NOTHING`
)

// keyedPseudonym returns the pseudonym of ref on chain under its key,
// creating the key inside tx when there is none. A concurrent first entry
// of the same identity waits on the insert and then reads the winner's key
// (read committed).
func (l *Log) keyedPseudonym(ctx context.Context, tx *sql.Tx, chain, ref string) (string, error) {
	if !keyed(ref) {
		return l.pseudonym(chain, ref, ""), nil
	}
	var nonce string
	err := tx.QueryRowContext(ctx, sqlNonceGet, chain, ref).Scan(&nonce)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err = tx.ExecContext(ctx, sqlNonceAdd, chain, ref, newSalt()); err == nil {
			err = tx.QueryRowContext(ctx, sqlNonceGet, chain, ref).Scan(&nonce)
		}
	}
	if err != nil {
		return "", fmt.Errorf("audit: pseudonym key: %w", err)
	}
	return l.pseudonym(chain, ref, nonce), nil
}

const entryColumns = `chain_id, seq, occurred_at, action, outcome, reason, subject_pseudonym, identity_id_ref,
	relation, object_type, object_id, decision_result, caveat_names, correlation_id, ip, user_agent, prev_hash, entry_hash,
	hash_version, identity_ref_salt, identity_ref_commit, object_ref_salt, object_ref_commit`

// Append adds e to the end of its chain inside tx, filling Seq, OccurredAt
// (when zero), the pseudonym (when empty) and both hashes. Concurrent appends
// to one chain serialise on the chain's head row.
func (l *Log) Append(ctx context.Context, tx *sql.Tx, e Entry) (Entry, error) {
	if e.ChainID == "" {
		return e, errors.New("audit: entry without chain")
	}
	e.clean()
	if e.OccurredAt.IsZero() {
		e.OccurredAt = l.now()
	}
	e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond)
	if e.DecisionResult == "" {
		e.DecisionResult = "none"
	}
	seq, prev, err := l.advance(ctx, tx, e.ChainID)
	if err != nil {
		return e, err
	}
	if e.Pseudonym == "" {
		if e.Pseudonym, err = l.keyedPseudonym(ctx, tx, e.ChainID, e.IdentityRef); err != nil {
			return e, err
		}
	}
	e.Seq, e.PrevHash = seq, prev
	e.HashVersion, e.IdentitySalt = hashCurrent, newSalt()
	e.IdentityCommit = identityCommit(e.IdentitySalt, e.IdentityRef)
	e.ObjectSalt, e.ObjectCommit = "", ""
	if e.HashVersion >= HashV3 && NamesIdentity(e.ObjectType) && e.ObjectID != "" {
		e.ObjectSalt = newSalt()
		e.ObjectCommit = objectCommit(e.ObjectSalt, e.ObjectID)
	}
	e.caveatJSON = appendCaveats(nil, e.CaveatNames)
	e.EntryHash = chainHash(prev, e.Canonical(make([]byte, 0, 512)))
	_, err = tx.ExecContext(ctx, sqlInsert,
		e.ChainID, e.Seq, store.Micros(e.OccurredAt), e.Action, e.Outcome, e.Reason, e.Pseudonym, e.IdentityRef,
		e.Relation, e.ObjectType, e.ObjectID, e.DecisionResult, string(e.caveatJSON), e.CorrelationID, e.IP, e.UserAgent,
		hex.EncodeToString(e.PrevHash[:]), hex.EncodeToString(e.EntryHash[:]),
		e.HashVersion, e.IdentitySalt, e.IdentityCommit, e.ObjectSalt, e.ObjectCommit)
	if err != nil {
		return e, fmt.Errorf("audit: insert: %w", err)
	}
	_, err = tx.ExecContext(ctx, sqlHead, e.ChainID, hex.EncodeToString(e.EntryHash[:]))
	if err != nil {
		return e, fmt.Errorf("audit: update head: %w", err)
	}
	for _, fn := range l.appended {
		if err := fn(ctx, tx, e); err != nil {
			return e, err
		}
	}
	return e, nil
}

// advance bumps the chain head (locking it until the transaction ends) and
// returns the new seq and the previous entry hash.
func (l *Log) advance(ctx context.Context, tx *sql.Tx, chain string) (int64, [32]byte, error) {
	var (
		seq  int64
		last string
		prev [32]byte
	)
	for range 2 {
		err := tx.QueryRowContext(ctx, sqlAdvance, chain).Scan(&seq, &last)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, sqlCreate, chain, hex.EncodeToString(prev[:]))
			if err != nil {
				return 0, prev, fmt.Errorf("audit: create chain: %w", err)
			}
			continue
		}
		if err != nil {
			return 0, prev, fmt.Errorf("audit: advance chain: %w", err)
		}
		if _, err := hex.Decode(prev[:], []byte(last)); err != nil {
			return 0, prev, fmt.Errorf("audit: chain head hash corrupt: %w", err)
		}
		return seq, prev, nil
	}
	return 0, prev, fmt.Errorf("%w: %s", ErrNoChain, chain)
}

// Filter narrows a listing; empty fields match everything.
type Filter struct {
	Action        string
	Outcome       string
	CorrelationID string
	Subject       string
	Relation      string
	ObjectType    string
	ObjectID      string
	// Reason is a contract AuditReason value, matched against the reason
	// shown (WireReason); any other value matches the stored reason, as
	// ReasonDetail does.
	Reason       string
	ReasonDetail string
	// From and To bound occurred_at, both inclusive.
	From, To time.Time
}

func (f Filter) where(args []any) (string, []any) {
	var b strings.Builder
	add := func(col string, v any) {
		args = append(args, v)
		fmt.Fprintf(&b, " AND %s = $%d", col, len(args))
	}
	for _, c := range []struct{ col, v string }{
		{"action", f.Action}, {"outcome", f.Outcome}, {"correlation_id", f.CorrelationID},
		{"subject_pseudonym", f.Subject}, {"relation", f.Relation}, {"object_type", f.ObjectType},
		{"object_id", f.ObjectID}, {"reason", f.ReasonDetail},
	} {
		if c.v != "" {
			add(c.col, c.v)
		}
	}
	switch {
	case f.Reason == "":
	case isWireReason(f.Reason):
		add("("+wireReasonSQL+")", f.Reason)
	default:
		add("reason", f.Reason)
	}
	if !f.From.IsZero() {
		args = append(args, store.Micros(f.From))
		fmt.Fprintf(&b, " AND occurred_at >= $%d", len(args))
	}
	if !f.To.IsZero() {
		args = append(args, store.Micros(f.To))
		fmt.Fprintf(&b, " AND occurred_at <= $%d", len(args))
	}
	return b.String(), args
}

// List returns up to limit entries of chain after afterSeq, in seq order.
func (l *Log) List(ctx context.Context, chain string, f Filter, afterSeq int64, limit int) ([]Entry, error) {
	where, args := f.where([]any{chain, afterSeq, limit})
	rows, err := l.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit_entries
		WHERE chain_id = $1 AND seq > $2`+where+` ORDER BY seq LIMIT $3`, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	err = scanEntries(rows, func(e *Entry) error { out = append(out, e.clone()); return nil })
	return out, err
}

// Get returns one entry.
func (l *Log) Get(ctx context.Context, chain string, seq int64) (Entry, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit_entries
		WHERE chain_id = $1 AND seq = $2`, chain, seq)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: get: %w", err)
	}
	defer rows.Close()
	var (
		out   Entry
		found bool
	)
	err = scanEntries(rows, func(e *Entry) error { out, found = e.clone(), true; return nil })
	if err == nil && !found {
		err = ErrNotFound
	}
	return out, err
}

// Export calls fn for every entry of chain from fromSeq on, in order,
// streaming from the database.
func (l *Log) Export(ctx context.Context, chain string, fromSeq int64, fn func(*Entry) error) error {
	rows, err := l.db.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit_entries
		WHERE chain_id = $1 AND seq >= $2 ORDER BY seq`, chain, fromSeq)
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()
	return scanEntries(rows, fn)
}

// scanEntries decodes rows of entryColumns, reusing one Entry.
func scanEntries(rows *sql.Rows, fn func(*Entry) error) error {
	return scan(rows, "", fn)
}

// verifyColumns are the columns the hash covers, for scan with a chain: the
// chain id is known. identity_id_ref and its salt are read to check them
// against the hashed commitment (hash_version 2).
const verifyColumns = `seq, occurred_at, action, outcome, reason, subject_pseudonym,
	relation, object_type, object_id, decision_result, caveat_names, correlation_id, ip, user_agent, prev_hash, entry_hash,
	hash_version, identity_ref_salt, identity_ref_commit, object_ref_salt, object_ref_commit, identity_id_ref`

// scan decodes rows of entryColumns, or of verifyColumns when chain is set,
// reusing one Entry and its buffers.
func scan(rows *sql.Rows, chain string, fn func(*Entry) error) error {
	var (
		e                  Entry
		at                 int64
		names, prev, entry sql.RawBytes
	)
	tail := []any{&e.Relation, &e.ObjectType, &e.ObjectID, &e.DecisionResult, &names, &e.CorrelationID, &e.IP,
		&e.UserAgent, &prev, &entry, &e.HashVersion, &e.IdentitySalt, &e.IdentityCommit, &e.ObjectSalt, &e.ObjectCommit}
	dest := append([]any{&e.ChainID, &e.Seq, &at, &e.Action, &e.Outcome, &e.Reason, &e.Pseudonym, &e.IdentityRef}, tail...)
	if chain != "" {
		e.ChainID = chain
		dest = append(append([]any{&e.Seq, &at, &e.Action, &e.Outcome, &e.Reason, &e.Pseudonym}, tail...), &e.IdentityRef)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("audit: scan: %w", err)
		}
		e.OccurredAt = store.Time(at)
		e.CaveatNames, e.caveatJSON = nil, append(e.caveatJSON[:0], names...)
		e.PrevHash, e.EntryHash = decodeHash(prev), decodeHash(entry)
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decodeHash parses a stored hex hash; garbage decodes to a value that can
// never match, so verification reports it rather than failing.
func decodeHash(b []byte) [32]byte {
	var h [32]byte
	if len(b) != 64 {
		h[0] = 0xff
		return h
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		h[0] = 0xff
	}
	return h
}
