package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/canonjson"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Checkpoint is a signed statement that a chain held seq with entry_hash at
// signed_at (issue 7 row 11). A hash chain alone cannot show that its newest
// entries were deleted and its head rewound; a checkpoint kept off the host
// can.
type Checkpoint = apiv1.AuditCheckpoint

// Checkpoint defaults: a chain is checkpointed once it has grown by
// DefaultCheckpointEvery entries, or DefaultCheckpointInterval after its last
// checkpoint when it has grown at all.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
)

// checkpointContext prefixes every signed checkpoint, so a checkpoint
// signature can never be taken for an envelope or token signature of the
// same Domain key, nor the other way round.
const checkpointContext = "plexsphere audit checkpoint v1\n"

// CheckpointSigner signs checkpoints. A Domain chain is signed with its
// Domain's signing key; the platform chain, and a chain whose Domain has no
// key, with the platform key. It returns the key id and public key used.
type CheckpointSigner interface {
	SignCheckpoint(ctx context.Context, chainID string, msg []byte) (kid string, pub ed25519.PublicKey, sig []byte, err error)
}

// CheckpointConfig configures a Checkpointer.
type CheckpointConfig struct {
	DB     *store.DB
	Signer CheckpointSigner
	// Every is the number of new entries after which a chain is
	// checkpointed; 0 means DefaultCheckpointEvery.
	Every int64
	// Interval is the longest a grown chain goes without a checkpoint; 0
	// means DefaultCheckpointInterval.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Checkpointer writes signed checkpoints of every chain head. It runs
// outside the append transactions: it reads committed heads, so it never
// holds a chain's lock while signing.
type Checkpointer struct {
	db       *store.DB
	signer   CheckpointSigner
	every    int64
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	// mu guards stop and done, the running loop's channels, and alarmed.
	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
	// alarmed is the head seq last reported as tampered, per chain, so a
	// broken chain is logged once, not every second.
	alarmed map[string]int64
}

// NewCheckpointer validates cfg and returns a Checkpointer.
func NewCheckpointer(cfg CheckpointConfig) (*Checkpointer, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("audit: CheckpointConfig.DB is required")
	case cfg.Signer == nil:
		return nil, errors.New("audit: CheckpointConfig.Signer is required")
	case cfg.Every < 0:
		return nil, errors.New("audit: CheckpointConfig.Every must not be negative")
	case cfg.Interval < 0:
		return nil, errors.New("audit: CheckpointConfig.Interval must not be negative")
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultCheckpointEvery
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultCheckpointInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Checkpointer{db: cfg.DB, signer: cfg.Signer, every: cfg.Every, interval: cfg.Interval,
		log: cfg.Logger, now: cfg.Now, alarmed: map[string]int64{}}, nil
}

// Start runs Tick every second (or every Interval, when shorter) until Close.
func (c *Checkpointer) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		return
	}
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.loop(c.stop, c.done)
}

func (c *Checkpointer) loop(stop, done chan struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := time.NewTicker(min(c.interval, time.Second))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := c.Tick(ctx); err != nil {
				c.log.ErrorContext(ctx, "audit checkpoint failed", "error", err)
			}
		}
	}
}

// Close stops the loop, waits for it, and then checkpoints every chain
// that grew since its last checkpoint (Flush), so that a clean shutdown
// leaves no unsigned tail.
func (c *Checkpointer) Close() {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.stop, c.done = nil, nil
	c.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Flush(ctx); err != nil {
		c.log.WarnContext(ctx, "audit checkpoint at shutdown failed", "error", err)
	}
}

// due is a chain head that needs a checkpoint.
type due struct {
	chain string
	seq   int64
	hash  string
}

// Tick checkpoints every chain that grew by Every entries, or grew at all
// and was last checkpointed Interval ago, and returns how many it wrote. A
// head behind its last checkpoint (a rewound chain) is logged, never signed.
func (c *Checkpointer) Tick(ctx context.Context) (int, error) { return c.run(ctx, false) }

// Flush checkpoints every chain that grew since its last checkpoint, now.
func (c *Checkpointer) Flush(ctx context.Context) (int, error) { return c.run(ctx, true) }

func (c *Checkpointer) run(ctx context.Context, force bool) (int, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT c.chain_id, c.last_seq, c.last_hash,
		COALESCE(k.seq, 0), COALESCE(k.signed_at, 0)
		FROM audit_chains c LEFT JOIN audit_checkpoints k ON k.chain_id = c.chain_id
			AND k.seq = (SELECT MAX(m.seq) FROM audit_checkpoints m WHERE m.chain_id = c.chain_id)
		ORDER BY c.chain_id`)
	if err != nil {
		return 0, fmt.Errorf("audit: checkpoint heads: %w", err)
	}
	now := c.now()
	var todo []due
	for rows.Next() {
		var (
			d           due
			cpSeq, cpAt int64
		)
		if err := rows.Scan(&d.chain, &d.seq, &d.hash, &cpSeq, &cpAt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("audit: checkpoint heads: %w", err)
		}
		switch {
		case d.seq < cpSeq:
			c.alarm(ctx, d, "audit chain head is behind its last checkpoint; not checkpointed")
		case d.seq > cpSeq && (force || d.seq-cpSeq >= c.every || now.Sub(store.Time(cpAt)) >= c.interval):
			todo = append(todo, d)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	n, errs := 0, []error(nil)
	for _, d := range todo { // one chain failing to sign does not hold up the others
		err := c.write(ctx, d)
		if errors.Is(err, errHeadMismatch) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// errHeadMismatch: the chain head names no stored entry; alarmed, not signed.
var errHeadMismatch = errors.New("audit: chain head does not match its entry")

// alarm logs a tampered head once per chain and head seq.
func (c *Checkpointer) alarm(ctx context.Context, d due, msg string) {
	c.mu.Lock()
	seen := c.alarmed[d.chain] == d.seq
	c.alarmed[d.chain] = d.seq
	c.mu.Unlock()
	if !seen {
		c.log.ErrorContext(ctx, msg, "chain", d.chain, "seq", d.seq)
	}
}

// write signs and stores the checkpoint of one head, after checking that the
// head names the stored entry.
func (c *Checkpointer) write(ctx context.Context, d due) error {
	var stored string
	err := c.db.QueryRowContext(ctx, `SELECT entry_hash FROM audit_entries WHERE chain_id = $1 AND seq = $2`,
		d.chain, d.seq).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) || err == nil && stored != d.hash {
		c.alarm(ctx, d, "audit chain head does not match its entry; not checkpointed")
		return errHeadMismatch
	}
	if err != nil {
		return fmt.Errorf("audit: checkpoint entry: %w", err)
	}
	cp := Checkpoint{DomainID: d.chain, Seq: d.seq, EntryHash: d.hash,
		SignedAt: c.now().UTC().Truncate(time.Microsecond), Algorithm: "EdDSA"}
	kid, pub, sig, err := c.signer.SignCheckpoint(ctx, d.chain, checkpointMessage(&cp))
	if err != nil {
		return fmt.Errorf("audit: checkpoint %s: sign: %w", d.chain, err)
	}
	cp.KID = kid
	cp.PublicKey = base64.StdEncoding.EncodeToString(pub)
	cp.Signature = base64.StdEncoding.EncodeToString(sig)
	_, err = c.db.ExecContext(ctx, `INSERT INTO audit_checkpoints
		(chain_id, seq, entry_hash, signed_at, kid, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (chain_id, seq) DO NOTHING`,
		cp.DomainID, cp.Seq, cp.EntryHash, store.Micros(cp.SignedAt), cp.KID, cp.PublicKey, cp.Signature)
	if err != nil {
		return fmt.Errorf("audit: store checkpoint: %w", err)
	}
	return nil
}

// checkpointMessage is what a checkpoint's signature covers: the context
// line, then the RFC 8785 form of {domain_id, entry_hash, seq, signed_at}.
// The key id is not covered: the signature verifies under the public key,
// which the verifier takes from the export or pins by kid.
func checkpointMessage(cp *Checkpoint) []byte {
	b := make([]byte, 0, 256)
	b = append(b, checkpointContext...)
	b = append(b, `{"domain_id":`...)
	b = canonjson.AppendString(b, cp.DomainID)
	b = append(b, `,"entry_hash":`...)
	b = canonjson.AppendString(b, cp.EntryHash)
	b = append(b, `,"seq":`...)
	b = canonjson.AppendInt(b, cp.Seq)
	b = append(b, `,"signed_at":`...)
	b = canonjson.AppendString(b, cp.SignedAt.UTC().Format(time.RFC3339Nano))
	return append(b, '}')
}

const checkpointColumns = `chain_id, seq, entry_hash, signed_at, kid, public_key, signature`

// ExportCheckpoints calls fn for every stored checkpoint of chain from
// fromSeq on, in seq order.
func ExportCheckpoints(ctx context.Context, q store.Querier, chain string, fromSeq int64, fn func(*Checkpoint) error) error {
	rows, err := q.QueryContext(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints
		WHERE chain_id = $1 AND seq >= $2 ORDER BY seq`, chain, fromSeq)
	if err != nil {
		return fmt.Errorf("audit: checkpoints: %w", err)
	}
	defer rows.Close()
	return scanCheckpoints(rows, fn)
}

// scanCheckpoints decodes rows of checkpointColumns.
func scanCheckpoints(rows *sql.Rows, fn func(*Checkpoint) error) error {
	for rows.Next() {
		var (
			cp Checkpoint
			at int64
		)
		if err := rows.Scan(&cp.DomainID, &cp.Seq, &cp.EntryHash, &at, &cp.KID, &cp.PublicKey, &cp.Signature); err != nil {
			return fmt.Errorf("audit: scan checkpoint: %w", err)
		}
		cp.SignedAt, cp.Algorithm = store.Time(at).UTC(), "EdDSA"
		if err := fn(&cp); err != nil {
			return err
		}
	}
	return rows.Err()
}
