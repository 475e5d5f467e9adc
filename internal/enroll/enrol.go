package enroll

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// nskDigest is the stored one-way form of an NSK: hex HMAC-SHA-256 under
// the server's NSK digest key (node-protocol.md §3.2).
func (s *Service) nskDigest(nsk string) string {
	m := hmac.New(sha256.New, s.nskKey)
	m.Write([]byte(nsk))
	return hex.EncodeToString(m.Sum(nil))
}

func nskSealName(nodeID string) string { return "nsk:" + nodeID }

// sealNSK encrypts an NSK under the master key, bound to its node.
func (s *Service) sealNSK(nodeID, nsk string) string {
	return base64.StdEncoding.EncodeToString(s.kr.Seal(nskSealName(nodeID), []byte(nsk)))
}

// OpenNSK decrypts a node's sealed NSK, in memory only, for level-1 secret
// delivery (node-protocol.md §11.1). The caller must not log or keep it.
func (s *Service) OpenNSK(ctx context.Context, nodeID string) (string, error) {
	var sealed string
	err := s.db.QueryRowContext(ctx, `SELECT nsk_sealed FROM nodes WHERE id = $1 AND revoked_at IS NULL`, nodeID).Scan(&sealed)
	if err != nil {
		return "", err
	}
	return s.openNSK(nodeID, sealed)
}

func (s *Service) openNSK(nodeID, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", errors.New("enroll: sealed NSK is not base64")
	}
	pt, err := s.kr.Open(nskSealName(nodeID), raw)
	return string(pt), err
}

// fillDomain adds the Domain's current signing key, mesh pool and the
// node's peers as the mesh context renders them (complete, with PSKs).
func (s *Service) fillDomain(ctx context.Context, tx *sql.Tx, domainID string, resp *nodeproto.RegisterResponse) error {
	key, err := s.signing.ActiveKey(ctx, tx, domainID)
	if err != nil {
		return err
	}
	resp.SigningPublicKey, resp.SigningKeyID = key.PublicBase64(), key.KID
	if err := tx.QueryRowContext(ctx, `SELECT mesh_cidr FROM domains WHERE id = $1`, domainID).Scan(&resp.DomainMeshCIDR); err != nil {
		return err
	}
	resp.Peers, err = s.mesh.PeersOf(ctx, tx, resp.NodeID)
	return err
}

// checkContract applies the contract form's checks (api.md §3.5): the
// Project must be the token's (403 project_mismatch), a named Resource must
// exist in it (404) with the token's kind (403 kind_mismatch), and a nonce
// must be new in the Project (403 nonce_collision).
func (s *Service) checkContract(ctx context.Context, r *redemption) error {
	req, tok := r.req, r.tok
	if req.ProjectID != "" && req.ProjectID != tok.ProjectID {
		return problem.New(http.StatusForbidden, "project_mismatch", "The token belongs to another Project.")
	}
	handle := req.ResourceID
	if handle == "" {
		handle = req.RequestedResourceID
	}
	if handle != "" {
		var kind string
		query := `SELECT id, kind FROM resources WHERE project_id = $1 AND external_ref = $2 ORDER BY id LIMIT 1`
		if u, err := uuid.Parse(handle); err == nil && len(handle) == 36 {
			handle, query = u.String(), `SELECT id, kind FROM resources WHERE project_id = $1 AND id = $2`
		}
		err := s.db.QueryRowContext(ctx, query, tok.ProjectID, handle).Scan(&r.resourceID, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound("resource_not_found", "No such Resource in the token's Project.")
		}
		if err != nil {
			return problem.Unavailable(nodeproto.CodeUnavailable, err)
		}
		if kind != tok.Kind {
			return problem.New(http.StatusForbidden, "kind_mismatch", "The Resource's kind differs from the token's.")
		}
	}
	if req.Nonce != "" {
		var one int
		err := s.db.QueryRowContext(ctx, `SELECT 1 FROM nodes WHERE project_id = $1 AND nonce = $2`, tok.ProjectID, req.Nonce).Scan(&one)
		if err == nil {
			return problem.New(http.StatusForbidden, "nonce_collision", "The nonce was already used in this Project.")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return problem.Unavailable(nodeproto.CodeUnavailable, err)
		}
	}
	return nil
}

// checkPublicKey refuses a WireGuard key held by another live node.
func (s *Service) checkPublicKey(ctx context.Context, key string) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM nodes WHERE public_key = $1 AND revoked_at IS NULL`, key).Scan(&one)
	switch {
	case err == nil:
		return problem.Conflict(nodeproto.CodePublicKeyConflict, "The public key belongs to another node.")
	case errors.Is(err, sql.ErrNoRows):
		return nil
	}
	return problem.Unavailable(nodeproto.CodeUnavailable, err)
}

// errTokenLost reports that the conditional consume matched no row.
var errTokenLost = errors.New("enroll: token no longer redeemable")

// enrol is the one transaction that consumes the token and writes the node:
// consume (conditional update: only one of N racing redemptions of a
// one-shot token matches), allocate the mesh IP under the Domain's lock,
// create the Resource, mint the NSK, write the node and its tuples, take the
// Domain's signing key, emit peer events and the audit entry. Any failure
// rolls everything back, leaving the token unconsumed.
func (s *Service) enrol(ctx context.Context, r *redemption) (nodeproto.RegisterResponse, error) {
	var resp nodeproto.RegisterResponse
	nsk, err := nodeproto.NewNSK(nil)
	if err != nil {
		return resp, problem.From(err)
	}
	resp.NodeID = uuid.Must(uuid.NewV7()).String()
	if err := answerNSK(&resp, r.req.PublicKey, nsk, r.level, false); err != nil {
		return resp, problem.From(err)
	}
	audit.RequestFrom(ctx).Target(r.tok.domainID, "node", resp.NodeID)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.stamp()
		if err := consume(ctx, tx, r.tok.ID, now); err != nil {
			return err
		}
		addrs, err := s.allocate(ctx, tx, r)
		if err != nil {
			return err
		}
		resp.MeshIP = addrs.IPv4.String()
		ref, err := s.writeNode(ctx, tx, r, nsk, &resp, now)
		if err != nil {
			return err
		}
		if err := recordIPv6(ctx, tx, ref.ID, addrs); err != nil {
			return err
		}
		if err := s.joined(ctx, tx, ref); err != nil {
			return err
		}
		if err := s.fillDomain(ctx, tx, ref.DomainID, &resp); err != nil {
			return err
		}
		if err := s.nodeAdded(ctx, tx, ref); err != nil {
			return err
		}
		audit.RequestFrom(ctx).SetPrincipal(&principal.Principal{IdentityID: ref.ID, Kind: KindNode,
			DomainID: ref.DomainID, Credential: "bootstrap_token", CredentialID: r.tok.ID})
		return s.audit.Commit(ctx, tx)
	})
	if err == nil {
		s.sync(ctx)
		return resp, nil
	}
	return resp, s.enrolError(ctx, r, err)
}

// consume takes one use of the token if it is still redeemable at now; the
// conditional update is what serialises racing redemptions on both
// databases (errTokenLost for the losers).
func consume(ctx context.Context, tx *sql.Tx, tokenID string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE bootstrap_tokens SET uses = uses + 1,
		consumed_at = CASE WHEN uses + 1 >= max_uses THEN $2 ELSE NULL END
		WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 AND uses < max_uses`, tokenID, store.Micros(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errTokenLost
	}
	return nil
}

// writeNode creates the node's Resource (unless the contract form named
// one), the node row with its NSK digest and sealed NSK, and its
// structural tuples. Labels are the agent's metadata overlaid with the
// token's.
func (s *Service) writeNode(ctx context.Context, tx *sql.Tx, r *redemption, nsk string, resp *nodeproto.RegisterResponse, now time.Time) (NodeRef, error) {
	tok, req := r.tok, r.req
	ref := NodeRef{ID: resp.NodeID, DomainID: tok.domainID, ProjectID: tok.ProjectID, MeshIP: resp.MeshIP, PublicKey: req.PublicKey}
	labels := map[string]string{}
	for k, v := range req.Metadata {
		labels[k] = v
	}
	for k, v := range tok.Labels {
		labels[k] = v // the operator's token wins over the agent's configuration
	}
	labelJSON, _ := json.Marshal(labels)
	name := req.Hostname
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	resourceID := r.resourceID
	if resourceID == "" {
		resourceID = uuid.Must(uuid.NewV7()).String()
		if _, err := tx.ExecContext(ctx, `INSERT INTO resources (id, project_id, domain_id, kind, external_ref, origin,
			created_at, updated_at) VALUES ($1, $2, $3, $4, '', 'adopted', $5, $5)`,
			resourceID, tok.ProjectID, tok.domainID, tok.Kind, store.Micros(now)); err != nil {
			return ref, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, nonce, kind,
		name, public_key, mesh_ip, nsk_digest, nsk_sealed, labels, registered_level, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$15)`,
		ref.ID, tok.domainID, tok.ProjectID, resourceID, tok.ID, req.Nonce, tok.Kind, name, req.PublicKey,
		resp.MeshIP, s.nskDigest(nsk), s.sealNSK(ref.ID, nsk), string(labelJSON), r.level,
		store.Micros(now)); err != nil {
		return ref, err
	}
	if err := s.labels.ApplyBindings(ctx, tx, "node", ref.ID, tok.Labels, "bootstrap_token:"+tok.ID); err != nil {
		return ref, err
	}
	add := nodeTuples(ref, resourceID)
	if r.resourceID == "" {
		add = append(add, resourceTuples(resourceID, ref)...)
	}
	_, err := s.tuples.WriteRows(ctx, tx, add, nil, false)
	return ref, err
}

// enrolError explains a rolled-back enrolment: a lost consume race or a
// unique violation is re-read to give the precise code; anything else is
// transient (503), never a 4xx for a valid request (node-protocol.md §4.3).
func (s *Service) enrolError(ctx context.Context, r *redemption, err error) error {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, errTokenLost) {
		tok, lerr := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM bootstrap_tokens WHERE id = $1`, r.tok.ID))
		if lerr != nil {
			return problem.Unavailable(nodeproto.CodeUnavailable, lerr)
		}
		if serr := tokenState(tok.BootstrapToken, s.now()); serr != nil {
			return serr
		}
		return problem.Unavailable("allocator_contention", err)
	}
	if store.IsUniqueViolation(err) {
		if perr := s.checkPublicKey(ctx, r.req.PublicKey); perr != nil {
			return perr
		}
		if cerr := s.checkContract(ctx, r); cerr != nil {
			return cerr
		}
		return problem.Unavailable("allocator_contention", err)
	}
	return problem.Unavailable(nodeproto.CodeUnavailable, err)
}

// sync makes committed tuple changes visible on this replica now; the
// change-log follower catches up anyway, so a failure is only logged.
func (s *Service) sync(ctx context.Context) {
	if err := s.tuples.Sync(ctx); err != nil {
		s.log.WarnContext(ctx, "tuple sync failed", "error", err)
	}
}
