package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Reasons a verification fails.
const (
	ReasonHashMismatch  = "entry_hash_mismatch"
	ReasonPrevMismatch  = "prev_hash_mismatch"
	ReasonMissingSeq    = "missing_seq"
	ReasonHeadMismatch  = "head_mismatch"
	ReasonChainNotFound = "chain_not_found"
	// ReasonIdentityRefMismatch: a hash_version 2 entry's identity_id_ref
	// no longer opens the commitment its hash covers.
	ReasonIdentityRefMismatch = "identity_ref_mismatch"
	// ReasonObjectRefMismatch: a hash_version 3 entry's object id no longer
	// opens the commitment its hash covers.
	ReasonObjectRefMismatch = "object_ref_mismatch"
)

// Result reports a verification; a broken chain is data, not an error.
type Result = apiv1.AuditVerifyResult

// parallelMin is the chain length from which Verify splits the work.
var parallelMin int64 = 20_000

// Verify recomputes chain from fromSeq to toSeq (0 = its ends) straight from
// the database: every seq must be present and consecutive, every prev_hash
// must equal the previous entry_hash, and every entry_hash must match its
// recomputation. A full-chain check also compares the chain head, so removing
// the newest rows is caught. It needs no keys, so it runs offline.
//
// Given a *store.DB and a long range, it verifies consecutive segments on
// separate connections in parallel and then checks the links between them;
// the earliest divergence is reported either way.
func Verify(ctx context.Context, q store.Querier, chain string, fromSeq, toSeq int64) (Result, error) {
	if fromSeq < 1 {
		fromSeq = 1
	}
	var headSeq int64
	var headHash string
	if err := q.QueryRowContext(ctx, `SELECT last_seq, last_hash FROM audit_chains WHERE chain_id = $1`,
		chain).Scan(&headSeq, &headHash); err != nil {
		return Result{OK: false, Reason: ReasonChainNotFound}, nil
	}
	if toSeq <= 0 || toSeq > headSeq {
		toSeq = headSeq
	}
	if fromSeq > 1 && fromSeq > toSeq {
		return Result{}, fmt.Errorf("%w: from_seq %d is after the segment's end %d", ErrSegment, fromSeq, toSeq)
	}
	segs := split(q, fromSeq, toSeq)
	g, gctx := errgroup.WithContext(ctx)
	for i := range segs {
		g.Go(func() error { return segs[i].run(gctx, q, chain) })
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	res := Result{OK: true, SegmentFrom: fromSeq, SegmentTo: toSeq}
	for i, s := range segs {
		res.EntriesLooked += s.checked
		if i > 0 && s.checked > 0 && segs[i-1].fail == nil && s.firstPrev != segs[i-1].last {
			fail(&res, s.from, ReasonPrevMismatch, hex.EncodeToString(segs[i-1].last[:]), hex.EncodeToString(s.firstPrev[:]))
			return res, nil
		}
		if s.fail != nil {
			f := s.fail
			fail(&res, f.DivergentSeq, f.Reason, f.ExpectedHash, f.ObservedHash)
			return res, nil
		}
	}
	last := segs[len(segs)-1].last
	if toSeq == headSeq && headSeq > 0 && hex.EncodeToString(last[:]) != headHash {
		fail(&res, headSeq, ReasonHeadMismatch, headHash, hex.EncodeToString(last[:]))
	}
	return res, nil
}

// segment is one contiguous seq range verified on its own.
type segment struct {
	from, to  int64
	checked   int64
	firstPrev [32]byte // prev_hash of the first row, linked by the caller
	last      [32]byte // entry_hash of the last row
	fail      *Result
}

// split cuts [from, to] into one segment per CPU when q is a pool and the
// range is long enough to be worth it.
func split(q store.Querier, from, to int64) []*segment {
	n := int64(1)
	if _, pool := q.(*store.DB); pool && to-from+1 >= parallelMin {
		n = int64(min(runtime.GOMAXPROCS(0), 8))
	}
	size := (to - from + 1 + n - 1) / n
	var segs []*segment
	for a := from; a <= to || len(segs) == 0; a += size {
		segs = append(segs, &segment{from: a, to: min(a+size-1, to)})
		if size <= 0 {
			break
		}
	}
	return segs
}

func (s *segment) run(ctx context.Context, q store.Querier, chain string) error {
	rows, err := q.QueryContext(ctx, `SELECT `+verifyColumns+` FROM audit_entries
		WHERE chain_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq`, chain, s.from, s.to)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var (
		want    = s.from
		havePrv = s.from == 1 // genesis prev is 32 zero bytes
		buf     = make([]byte, 0, 1024)
		r       Result
	)
	err = scan(rows, chain, func(e *Entry) error {
		if s.fail != nil {
			return nil
		}
		if s.checked == 0 {
			s.firstPrev = e.PrevHash
		}
		switch {
		case e.Seq != want:
			fail(&r, want, ReasonMissingSeq, "", "")
		case havePrv && e.PrevHash != s.last:
			fail(&r, e.Seq, ReasonPrevMismatch, hex.EncodeToString(s.last[:]), hex.EncodeToString(e.PrevHash[:]))
		default:
			buf = e.Canonical(buf[:0])
			if got := chainHash(e.PrevHash, buf); got != e.EntryHash {
				fail(&r, e.Seq, ReasonHashMismatch, hex.EncodeToString(got[:]), hex.EncodeToString(e.EntryHash[:]))
			} else if !e.identityBound() {
				fail(&r, e.Seq, ReasonIdentityRefMismatch, e.IdentityCommit, identityCommit(e.IdentitySalt, e.IdentityRef))
			} else if !e.objectBound() {
				fail(&r, e.Seq, ReasonObjectRefMismatch, e.ObjectCommit, objectCommit(e.ObjectSalt, e.ObjectID))
			}
		}
		if r.DivergentSeq != 0 {
			s.fail = &r
		}
		s.last, havePrv = e.EntryHash, true
		want++
		s.checked++
		return nil
	})
	if err != nil {
		return err
	}
	if s.fail == nil && want <= s.to {
		fail(&r, want, ReasonMissingSeq, "", "")
		s.fail = &r
	}
	return nil
}

// ErrSegment is returned by Verify for a segment that starts after its end
// or after the chain's head: a caller's mistake, not tampering.
var ErrSegment = errors.New("audit: empty verification segment")

func fail(r *Result, seq int64, reason, expected, observed string) {
	r.OK, r.DivergentSeq, r.Reason, r.ExpectedHash, r.ObservedHash = false, seq, reason, expected, observed
}

// Chains lists every chain id in the database.
func Chains(ctx context.Context, q store.Querier) ([]string, error) {
	out, err := store.Strings(ctx, q, `SELECT chain_id FROM audit_chains ORDER BY chain_id`)
	if err != nil {
		return nil, fmt.Errorf("audit: chains: %w", err)
	}
	return out, nil
}
