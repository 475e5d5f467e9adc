package audit

import (
	"context"
	"encoding/hex"
	"fmt"

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
)

// Result reports a verification; a broken chain is data, not an error.
type Result = apiv1.AuditVerifyResult

// Verify recomputes chain from fromSeq to toSeq (0 = its ends) straight from
// the database: every seq must be present and consecutive, every prev_hash
// must equal the previous entry_hash, and every entry_hash must match its
// recomputation. A full-chain check also compares the chain head, so removing
// the newest rows is caught. It needs no keys, so it runs offline.
func Verify(ctx context.Context, q store.Querier, chain string, fromSeq, toSeq int64) (Result, error) {
	if fromSeq < 1 {
		fromSeq = 1
	}
	res := Result{OK: true, SegmentFrom: fromSeq}
	var headSeq int64
	var headHash string
	if err := q.QueryRowContext(ctx, `SELECT last_seq, last_hash FROM audit_chains WHERE chain_id = $1`,
		chain).Scan(&headSeq, &headHash); err != nil {
		return Result{OK: false, Reason: ReasonChainNotFound}, nil
	}
	if toSeq <= 0 || toSeq > headSeq {
		toSeq = headSeq
	}
	res.SegmentTo = toSeq
	rows, err := q.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit_entries
		WHERE chain_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq`, chain, fromSeq, toSeq)
	if err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var (
		want    = fromSeq
		prev    [32]byte
		havePrv = fromSeq == 1 // genesis prev is 32 zero bytes
		buf     = make([]byte, 0, 1024)
	)
	err = scanEntries(rows, func(e *Entry) error {
		if !res.OK {
			return nil
		}
		switch {
		case e.Seq != want:
			fail(&res, want, ReasonMissingSeq, "", "")
		case havePrv && e.PrevHash != prev:
			fail(&res, e.Seq, ReasonPrevMismatch, hex.EncodeToString(prev[:]), hex.EncodeToString(e.PrevHash[:]))
		default:
			buf = e.Canonical(buf[:0])
			if got := chainHash(e.PrevHash, buf); got != e.EntryHash {
				fail(&res, e.Seq, ReasonHashMismatch, hex.EncodeToString(got[:]), hex.EncodeToString(e.EntryHash[:]))
			}
		}
		prev, havePrv = e.EntryHash, true
		want++
		res.EntriesLooked++
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.OK && want <= toSeq {
		fail(&res, want, ReasonMissingSeq, "", "")
	}
	if res.OK && toSeq == headSeq && headSeq > 0 && hex.EncodeToString(prev[:]) != headHash {
		fail(&res, headSeq, ReasonHeadMismatch, headHash, hex.EncodeToString(prev[:]))
	}
	return res, nil
}

func fail(r *Result, seq int64, reason, expected, observed string) {
	r.OK, r.DivergentSeq, r.Reason, r.ExpectedHash, r.ObservedHash = false, seq, reason, expected, observed
}

// Chains lists every chain id in the database.
func Chains(ctx context.Context, q store.Querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT chain_id FROM audit_chains ORDER BY chain_id`)
	if err != nil {
		return nil, fmt.Errorf("audit: chains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
