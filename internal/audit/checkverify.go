package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/plexsphere/plexsphere/internal/store"
)

// Reasons a checkpoint check fails; DivergentSeq is the checkpoint's seq.
const (
	// ReasonCheckpointSignature: the signature does not verify.
	ReasonCheckpointSignature = "checkpoint_signature_invalid"
	// ReasonCheckpointUntrusted: the key is not the pinned key of its kid.
	ReasonCheckpointUntrusted = "checkpoint_key_untrusted"
	// ReasonCheckpointMissing: the chain no longer holds the checkpointed
	// seq (its tail was deleted and its head rewound, or it was removed).
	ReasonCheckpointMissing = "checkpoint_entry_missing"
	// ReasonCheckpointMismatch: the checkpointed seq holds another hash
	// (the chain was rewritten from there or earlier).
	ReasonCheckpointMismatch = "checkpoint_hash_mismatch"
)

// Keys pins Ed25519 public keys by key id. A nil Keys trusts the public key
// each checkpoint carries.
type Keys map[string]ed25519.PublicKey

// checkSignature returns the reason cp's signature fails, or "".
func checkSignature(cp *Checkpoint, keys Keys) string {
	pub, err := base64.StdEncoding.DecodeString(cp.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return ReasonCheckpointSignature
	}
	if keys != nil {
		pinned, ok := keys[cp.KID]
		if !ok || !pinned.Equal(ed25519.PublicKey(pub)) {
			return ReasonCheckpointUntrusted
		}
	}
	sig, err := base64.StdEncoding.DecodeString(cp.Signature)
	if err != nil || !ed25519.Verify(pub, checkpointMessage(cp), sig) {
		return ReasonCheckpointSignature
	}
	return ""
}

// CheckCheckpoints checks chain's checkpoints against q: every signature
// must verify (under keys, when set), and the chain must still hold every
// checkpointed seq with the checkpointed entry_hash. The checkpoint with the
// lowest seq that fails is reported. Checkpoints of other chains are ignored.
func CheckCheckpoints(ctx context.Context, q store.Querier, chain string, cps []Checkpoint, keys Keys) (Result, error) {
	var mine []*Checkpoint
	for i := range cps {
		if cps[i].DomainID == chain {
			mine = append(mine, &cps[i])
		}
	}
	slices.SortFunc(mine, func(a, b *Checkpoint) int { return int(min(max(a.Seq-b.Seq, -1), 1)) })
	res := Result{OK: true}
	for _, cp := range mine {
		if reason := checkSignature(cp, keys); reason != "" {
			fail(&res, cp.Seq, reason, "", "")
			return res, nil
		}
		var stored string
		err := q.QueryRowContext(ctx, `SELECT entry_hash FROM audit_entries WHERE chain_id = $1 AND seq = $2`,
			chain, cp.Seq).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			fail(&res, cp.Seq, ReasonCheckpointMissing, cp.EntryHash, "")
			return res, nil
		case err != nil:
			return res, fmt.Errorf("audit: check checkpoint: %w", err)
		case stored != cp.EntryHash:
			fail(&res, cp.Seq, ReasonCheckpointMismatch, cp.EntryHash, stored)
			return res, nil
		}
	}
	return res, nil
}

// VerifyWithCheckpoints verifies the whole chain (Verify) and then its
// checkpoints (CheckCheckpoints). Without checkpoints a chain whose newest
// entries were deleted and whose head was rewound verifies; with a
// checkpoint kept elsewhere that names a deleted seq, it does not.
func VerifyWithCheckpoints(ctx context.Context, q store.Querier, chain string, cps []Checkpoint, keys Keys) (Result, error) {
	res, err := Verify(ctx, q, chain, 0, 0)
	if err != nil || !res.OK {
		return res, err
	}
	cr, err := CheckCheckpoints(ctx, q, chain, cps, keys)
	if err != nil || cr.OK {
		return res, err
	}
	cr.SegmentFrom, cr.SegmentTo, cr.EntriesLooked = res.SegmentFrom, res.SegmentTo, res.EntriesLooked
	return cr, nil
}

// latestCheckpoint returns chain's newest stored checkpoint, if any.
func latestCheckpoint(ctx context.Context, q store.Querier, chain string) ([]Checkpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints
		WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1`, chain)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	err = scanCheckpoints(rows, func(cp *Checkpoint) error { out = append(out, *cp); return nil })
	return out, err
}

// ReadCheckpoints decodes a checkpoint export: JSON Lines (or any sequence
// of JSON objects) of AuditCheckpoint.
func ReadCheckpoints(r io.Reader) ([]Checkpoint, error) {
	dec := json.NewDecoder(r)
	var out []Checkpoint
	for {
		var cp Checkpoint
		err := dec.Decode(&cp)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("audit: checkpoint %d: %w", len(out)+1, err)
		}
		if cp.DomainID == "" || cp.Seq < 1 || len(cp.EntryHash) != 64 {
			return nil, fmt.Errorf("audit: checkpoint %d: want domain_id, seq ≥ 1 and a 64-hex entry_hash", len(out)+1)
		}
		out = append(out, cp)
	}
}

// pinnedKey is one key of a keys file.
type pinnedKey struct {
	KID       string `json:"kid"`
	PublicKey string `json:"public_key"`
}

// ReadKeys decodes pinned public keys: any sequence of JSON values each
// being a key {kid, public_key}, an array of keys, or a list {items: [...]}
// as GET /v1/domains/{id}/signing-keys answers it.
func ReadKeys(r io.Reader) (Keys, error) {
	dec := json.NewDecoder(r)
	keys := Keys{}
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit: keys: %w", err)
		}
		var (
			list []pinnedKey
			one  struct {
				pinnedKey
				Items []pinnedKey `json:"items"`
			}
		)
		if json.Unmarshal(raw, &list) != nil {
			if err := json.Unmarshal(raw, &one); err != nil {
				return nil, fmt.Errorf("audit: keys: %w", err)
			}
			list = append(one.Items, one.pinnedKey)
		}
		for _, k := range list {
			if k.KID == "" && k.PublicKey == "" {
				continue
			}
			pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
			if k.KID == "" || err != nil || len(pub) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("audit: keys: key %q: want a kid and a base64 Ed25519 public_key", k.KID)
			}
			keys[k.KID] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("audit: keys: no key found")
	}
	return keys, nil
}
