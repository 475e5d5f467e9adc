package mesh

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
)

// pskLabel separates this derivation from any other use of the secret.
const pskLabel = "plexsphere mesh psk v1"

// pairMAC derives the pair PSKs of one operation under one Domain's
// secret: the HMAC state is keyed once and Reset between pairs, and the
// message and sum go through scratch buffers kept here, so a pair costs
// its hashing and the PSK string, nothing else. Not safe for concurrent
// use.
type pairMAC struct {
	mac hash.Hash
	in  []byte
	sum []byte
}

// newMAC is the pair MAC of the Domain's secret.
func newMAC(d domainSecret) *pairMAC {
	return &pairMAC{mac: hmac.New(sha256.New, d.secret), in: make([]byte, 0, 128), sum: make([]byte, 0, sha256.Size)}
}

// psk derives the WireGuard preshared key of the pair (a, b): HMAC-SHA-256
// under the Domain's PSK secret of the label, then for each node in id
// order the length of its id (8 bytes big-endian), the id and its PSK
// epoch (8 bytes big-endian), base64 (a Key32). Both sides get the same
// value; bumping either side's epoch changes it, and only the pairs of
// that node.
func (k *pairMAC) psk(a, b viewer) string {
	return base64.StdEncoding.EncodeToString(k.pairSum(a, b))
}

// pskLen is the length of a PSK in base64.
var pskLen = base64.StdEncoding.EncodedLen(sha256.Size)

// appendPSK appends the pair's PSK (as psk returns it) to dst.
func (k *pairMAC) appendPSK(dst []byte, a, b viewer) []byte {
	return base64.StdEncoding.AppendEncode(dst, k.pairSum(a, b))
}

// pairSum is the pair's HMAC (in k's scratch buffer, valid until the next
// call).
func (k *pairMAC) pairSum(a, b viewer) []byte {
	if b.id < a.id {
		a, b = b, a
	}
	in := append(k.in[:0], pskLabel...)
	in = appendPSKPart(in, a)
	in = appendPSKPart(in, b)
	k.in = in
	k.mac.Reset()
	k.mac.Write(in)
	k.sum = k.mac.Sum(k.sum[:0])
	return k.sum
}

// appendPSKPart appends one node's part of the PSK message.
func appendPSKPart(in []byte, m viewer) []byte {
	in = binary.BigEndian.AppendUint64(in, uint64(len(m.id)))
	in = append(in, m.id...)
	return binary.BigEndian.AppendUint64(in, uint64(m.epoch))
}

// RotatePSKs gives every pair of nodeID a new PSK by bumping its epoch,
// inside tx. The other pairs of the Domain keep theirs. The caller
// announces the change: Announce(ctx, tx, nodeID, peer_key_rotated) tells
// each peer its new PSK with nodeID; nodeID itself learns its peers' new
// PSKs from its state (or from an event the caller appends to it).
func (s *Service) RotatePSKs(ctx context.Context, tx *sql.Tx, nodeID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE nodes SET psk_epoch = psk_epoch + 1 WHERE id = $1 AND revoked_at IS NULL`, nodeID)
	if err != nil {
		return fmt.Errorf("mesh: rotate PSKs: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("mesh: rotate PSKs of %s: %w", nodeID, ErrUnknownNode)
	}
	return s.changed(ctx, tx, nodeID)
}
