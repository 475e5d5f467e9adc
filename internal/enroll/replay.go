package enroll

import (
	"context"
	"database/sql"
	"errors"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// The registration replay rule (node-protocol.md §4.3 as docs/enrolment.md
// narrows it, issue 7 row 2). A public key is not secret, so the same token
// and key must never hand an existing node's NSK to someone else:
//
//   - A replay is answered only while the node's current NSK has never
//     authenticated a call (nodes.nsk_used_at is NULL). An agent whose
//     response was lost never had the NSK, so it never used it.
//   - The answer carries a freshly minted NSK that replaces the unused one
//     (the old one no longer authenticates), never the stored one.
//   - Once the NSK authenticated a call, the same token and key get 409
//     public_key_conflict and no NSK.
//   - A node that registered at level 2 is answered only to a level-2
//     request, with the NSK only sealed to its WireGuard key: proof of
//     possession of the private key.

// replayNode is the live node a replay would answer for.
type replayNode struct {
	id, domainID, meshIP, digest string
	used                         bool
	level                        int
}

// errReplayRaced reports that the node's NSK was used or replaced between
// reading it and replacing it.
var errReplayRaced = errors.New("enroll: the node's NSK changed during the replay")

func replayConflict() *problem.Problem {
	return problem.Conflict(nodeproto.CodePublicKeyConflict,
		"The public key belongs to a node that has already used its node secret key; a registration replay cannot return it.")
}

// replay answers a second redemption of the same token with the same public
// key within replayWindow under the rule above; ok is false when there is
// nothing to replay.
func (s *Service) replay(ctx context.Context, r *redemption) (resp nodeproto.RegisterResponse, ok bool, err error) {
	for range 3 {
		n, found, err := s.replayNode(ctx, r.tok.ID, r.req.PublicKey)
		if err != nil || !found {
			return resp, false, err
		}
		audit.RequestFrom(ctx).Target(n.domainID, "node", n.id)
		if n.used {
			return resp, false, replayConflict()
		}
		if n.level >= nodeproto.Level2 && r.level < nodeproto.Level2 {
			return resp, false, problem.Conflict(nodeproto.CodePublicKeyConflict,
				"The node registered at protocol level 2; a registration replay must negotiate level 2.")
		}
		resp, err = s.reissueNSK(ctx, r, n)
		if !errors.Is(err, errReplayRaced) {
			return resp, err == nil, err
		}
	}
	return resp, false, replayConflict()
}

// replayNode finds the live node the token enrolled with publicKey within
// replayWindow.
func (s *Service) replayNode(ctx context.Context, tokenID, publicKey string) (replayNode, bool, error) {
	var (
		n      replayNode
		usedAt *int64
	)
	since := store.Micros(s.now().Add(-replayWindow))
	err := s.db.QueryRowContext(ctx, `SELECT id, domain_id, COALESCE(mesh_ip, ''), nsk_digest, nsk_used_at,
		registered_level FROM nodes
		WHERE token_id = $1 AND public_key = $2 AND revoked_at IS NULL AND created_at > $3`,
		tokenID, publicKey, since).Scan(&n.id, &n.domainID, &n.meshIP, &n.digest, &usedAt, &n.level)
	if errors.Is(err, sql.ErrNoRows) {
		return n, false, nil
	}
	if err != nil {
		return n, false, problem.Unavailable(nodeproto.CodeUnavailable, err)
	}
	n.used = usedAt != nil
	return n, true, nil
}

// reissueNSK replaces the node's unused NSK with a fresh one, conditionally
// on it being still the one read and still unused (errReplayRaced
// otherwise), and answers with the new one and the Domain's current
// signing key, mesh pool and peers.
func (s *Service) reissueNSK(ctx context.Context, r *redemption, n replayNode) (nodeproto.RegisterResponse, error) {
	resp := nodeproto.RegisterResponse{NodeID: n.id, MeshIP: n.meshIP}
	nsk, err := nodeproto.NewNSK(nil)
	if err != nil {
		return resp, problem.From(err)
	}
	if err := answerNSK(&resp, r.req.PublicKey, nsk, r.level, n.level >= nodeproto.Level2); err != nil {
		return resp, problem.From(err)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE nodes SET nsk_digest = $3, nsk_sealed = $4, updated_at = $5
			WHERE id = $1 AND nsk_digest = $2 AND nsk_used_at IS NULL AND revoked_at IS NULL`,
			n.id, n.digest, s.nskDigest(nsk), s.sealNSK(n.id, nsk), store.Micros(s.stamp()))
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k != 1 {
			return errReplayRaced
		}
		if err := s.fillDomain(ctx, tx, n.domainID, &resp); err != nil {
			return err
		}
		audit.RequestFrom(ctx).SetPrincipal(&principal.Principal{IdentityID: n.id, Kind: KindNode,
			DomainID: n.domainID, Credential: "bootstrap_token", CredentialID: r.tok.ID})
		return s.audit.Commit(ctx, tx)
	})
	switch {
	case err == nil:
		return resp, nil
	case errors.Is(err, errReplayRaced):
		return resp, err
	}
	var p *problem.Problem
	if errors.As(err, &p) {
		return resp, p
	}
	return resp, problem.Unavailable(nodeproto.CodeUnavailable, err)
}

// answerNSK puts nsk into a registration answer as the negotiated level
// allows: in plaintext unless sealedOnly, and at level 2 also sealed to
// the node's WireGuard key publicKey.
func answerNSK(resp *nodeproto.RegisterResponse, publicKey, nsk string, level int, sealedOnly bool) error {
	if !sealedOnly {
		resp.NodeSecretKey = nsk
	}
	if level < nodeproto.Level2 {
		return nil
	}
	sealed, err := nodeproto.SealNSK(nil, publicKey, resp.NodeID, nsk)
	resp.NodeSecretKeySealed = sealed
	return err
}

// firstUse records the first call the node's current NSK (digest)
// authenticated, which ends its registration replay; AuthenticateNSK calls
// it while nsk_used_at is NULL. It reports the node as AuthenticateNSK
// does: nodeID "" when a replay replaced the NSK meanwhile.
func (s *Service) firstUse(ctx context.Context, nodeID, digest string) (string, bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE nodes SET nsk_used_at = $3
		WHERE id = $1 AND nsk_digest = $2 AND nsk_used_at IS NULL`, nodeID, digest, store.Micros(s.stamp()))
	if err != nil {
		return "", false, err
	}
	if k, err := res.RowsAffected(); err == nil && k == 1 {
		return nodeID, false, nil
	}
	// Another call marked it first, or a replay replaced this NSK.
	var revokedAt *int64
	err = s.db.QueryRowContext(ctx, `SELECT revoked_at FROM nodes WHERE id = $1 AND nsk_digest = $2`, nodeID, digest).
		Scan(&revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return nodeID, revokedAt != nil, nil
}
