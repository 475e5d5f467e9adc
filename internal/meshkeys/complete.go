package meshkeys

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type completeInput struct {
	ContentEncoding string `header:"Content-Encoding" hidden:"true"`
	Protocol        string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3)."`
	RawBody         []byte `contentType:"application/octet-stream"`
}

type completeOutput struct{ Body nodeproto.KeyRotateResponse }

func (s *Service) registerNode(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/keys/rotate", "postKeysRotate", "node.keys.rotate.complete", route.Node,
		"A node reports its new WireGuard key, completing its pending rotation", "Nodes")
	op.Description = "The NSK alone names the node; a node_id in the body must be that node (403 node_id_mismatch). " +
		"Answers the union of the agent's and the contract's forms. Reporting the installed key again returns " +
		"the earlier receipt."
	op.MaxBodyBytes = MaxRotateBody + 1
	huma.Register(api, op, s.complete)
	// The handler decodes the body (gzip, lenient decoding, the contract's
	// codes), so huma sees a raw body; the document shows the JSON schema.
	if o := api.OpenAPI(); o != nil && o.Paths["/v1/keys/rotate"] != nil && o.Paths["/v1/keys/rotate"].Post != nil {
		if rb := o.Paths["/v1/keys/rotate"].Post.RequestBody; rb != nil {
			rb.Content = map[string]*huma.MediaType{"application/json": {
				Schema: o.Components.Schemas.Schema(reflect.TypeFor[nodeproto.KeyRotateRequest](), true, "KeyRotateRequest")}}
		}
	}
}

// complete serves POST /v1/keys/rotate (node-protocol.md §5.2 endpoint 9).
func (s *Service) complete(ctx context.Context, in *completeInput) (*completeOutput, error) {
	caller, ok := s.cfg.Caller(ctx)
	if !ok {
		return nil, problem.Unauthenticated()
	}
	raw, err := readBody(in.ContentEncoding, in.RawBody)
	if err != nil {
		return nil, err
	}
	req, err := DecodeRotateBody(raw)
	if err != nil {
		return nil, err
	}
	if req.NodeID != "" && req.NodeID != caller {
		return nil, problem.New(http.StatusForbidden, nodeproto.CodeNodeIDMismatch,
			"The node secret key belongs to another node than node_id names.")
	}
	out := &completeOutput{}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		return s.completeTx(ctx, tx, caller, req.NewPublicKey, &out.Body)
	})
	if store.IsUniqueViolation(err) {
		err = problem.Conflict(nodeproto.CodePublicKeyConflict, "The public key belongs to another node.")
	}
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			return nil, p
		}
		return nil, problem.Unavailable(nodeproto.CodeUnavailable, err).WithHeader(nodeproto.HeaderRetryAfter, "5")
	}
	if nodeproto.ParseLevel(in.Protocol) < nodeproto.Level2 {
		out.Body.UpdatedPeers = levelOne(out.Body.UpdatedPeers)
	}
	return out, nil
}

// completeTx is the one transaction of a completion: the key swap, new
// PSKs for every pair, peer_key_rotated to every peer, the rotation closed,
// the audit entry; resp gets the node's peers after it. The key the last
// rotation installed, reported again, answers that rotation's receipt.
func (s *Service) completeTx(ctx context.Context, tx *sql.Tx, nodeID, key string, resp *nodeproto.KeyRotateResponse) error {
	n, err := loadNode(ctx, tx, nodeID, s.cfg.DB.ForUpdate())
	if errors.Is(err, sql.ErrNoRows) {
		return problem.NotFound("node_not_found", "No such node.")
	}
	if err != nil {
		return err
	}
	audit.RequestFrom(ctx).Target(n.DomainID, "node", nodeID)
	last, ok, err := lastCompleted(ctx, tx, nodeID)
	if err != nil {
		return err
	}
	switch {
	case ok && key == n.PublicKey && last.NewPublicKey == key:
		resp.RotationID, resp.Kid, resp.WrapKeyVersion = last.ID, last.KID, last.WrapKeyVersion
		resp.UpdatedPeers, err = s.cfg.Mesh.PeersOf(ctx, tx, nodeID)
		return err
	case key == n.PublicKey:
		return problem.Unprocessable(CodePublicKeyUnchanged, "new_public_key is the node's current key.")
	}
	pending, ok, err := pendingOf(ctx, tx, nodeID, s.cfg.DB.ForUpdate())
	if err != nil {
		return err
	}
	if !ok {
		return problem.Conflict(CodeNoPendingRotation, "No key rotation is pending for this node.")
	}
	if err := checkKeyFree(ctx, tx, nodeID, key); err != nil {
		return err
	}
	now := store.Micros(s.stamp())
	if _, err := tx.ExecContext(ctx, `UPDATE nodes SET public_key = $2, updated_at = $3 WHERE id = $1`,
		nodeID, key, now); err != nil {
		return err
	}
	if err := s.cfg.Mesh.RotatePSKs(ctx, tx, nodeID); err != nil {
		return err
	}
	if err := s.cfg.Mesh.Announce(ctx, tx, nodeID, nodeproto.EventPeerKeyRotated); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mesh_key_rotations SET state = 'completed', new_public_key = $2,
		kid = $1, wrap_key_version = $3, completed_at = $4 WHERE id = $1`,
		pending.ID, key, wrapKeyVersion, now); err != nil {
		return err
	}
	if err := s.cfg.Audit.Commit(ctx, tx); err != nil {
		return err
	}
	resp.RotationID, resp.Kid, resp.WrapKeyVersion = pending.ID, pending.ID, wrapKeyVersion
	resp.UpdatedPeers, err = s.cfg.Mesh.PeersOf(ctx, tx, nodeID)
	return err
}

// checkKeyFree refuses a key another live node holds (409, as registration).
func checkKeyFree(ctx context.Context, tx *sql.Tx, nodeID, key string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM nodes WHERE public_key = $1 AND revoked_at IS NULL AND id <> $2`,
		key, nodeID).Scan(&one)
	switch {
	case err == nil:
		return problem.Conflict(nodeproto.CodePublicKeyConflict, "The public key belongs to another node.")
	case errors.Is(err, sql.ErrNoRows):
		return nil
	}
	return err
}

// levelOne keeps only the six members of a level-1 Peer (§5.1), for an
// answer to a request that negotiated level 1 (N4).
func levelOne(peers []nodeproto.Peer) []nodeproto.Peer {
	out := make([]nodeproto.Peer, len(peers))
	for i, p := range peers {
		out[i] = nodeproto.Peer{ID: p.ID, PublicKey: p.PublicKey, MeshIP: p.MeshIP, Endpoint: p.Endpoint,
			AllowedIPs: p.AllowedIPs, PSK: p.PSK}
	}
	return out
}
