package secrets

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/labels"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/store"
)

// NodeSecret answers a node's fetch of the secret name (version 0: the
// current one) at protocol level: re-wrapped for that node on every call,
// never cached. A secret that is not bound to the node is 404
// secret_not_found, exactly as one that does not exist. A node with a
// sealing key gets the value sealed to it at level 2, and a level-1 fetch
// of such a node is refused (403 protocol_downgrade_refused).
func (s *Service) NodeSecret(ctx context.Context, nodeID, name string, version int64, level int) (nodeproto.SecretResponse, error) {
	if !backend.ValidName(name) || version < 0 {
		return nodeproto.SecretResponse{}, problem.NotFound(CodeSecretNotFound, "No such secret for this node.")
	}
	n, err := loadNode(ctx, s.cfg.DB, nodeID)
	if err != nil {
		return nodeproto.SecretResponse{}, err
	}
	if err := s.limit(nodeID, n.DomainID); err != nil {
		return nodeproto.SecretResponse{}, err
	}
	r, bound, err := s.boundSecret(ctx, n, name)
	if err != nil {
		return nodeproto.SecretResponse{}, err
	}
	audit.RequestFrom(ctx).Target(n.DomainID, "secret", r.ID)
	if !bound {
		return nodeproto.SecretResponse{}, problem.NotFound(CodeSecretNotFound, "No such secret for this node.")
	}
	if n.SealingKey != "" && level < nodeproto.Level2 {
		return nodeproto.SecretResponse{}, problem.New(http.StatusForbidden, CodeDowngradeRefused,
			"This node registered a sealing key: fetch secrets at protocol level 2.")
	}
	v, err := s.cfg.Backend.Get(ctx, r.path(), version)
	if err != nil {
		return nodeproto.SecretResponse{}, s.nodeBackendError(ctx, err)
	}
	defer clear(v.Data)
	var resp nodeproto.SecretResponse
	if n.SealingKey != "" {
		resp, err = nodeproto.SealSecretToNode(n.SealingKey, nodeID, name, v.Version, v.Data)
	} else {
		var nsk string
		if nsk, err = s.cfg.NSKs.OpenNSK(ctx, nodeID); err == nil {
			resp, err = nodeproto.SealSecret(nsk, name, v.Version, v.Data, nil)
		}
	}
	if err != nil {
		return nodeproto.SecretResponse{}, problem.Internal(err)
	}
	// Every granted fetch is audited before the value leaves (api.md §3.8).
	if err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error { return s.cfg.Audit.Commit(ctx, tx) }); err != nil {
		return nodeproto.SecretResponse{}, err
	}
	return resp, nil
}

// nodeBackendError is backendError for the node plane: a version the node
// asks for and the store lacks is 404; anything else transient is 503.
func (s *Service) nodeBackendError(ctx context.Context, err error) error {
	if errors.Is(err, backend.ErrNotFound) {
		return problem.NotFound(CodeSecretNotFound, "No such secret for this node.")
	}
	return s.backendError(ctx, err)
}

// limit applies the per-node and per-Domain fetch rates.
func (s *Service) limit(nodeID, domainID string) error {
	if ok, wait := s.perNode.Allow(nodeID); !ok {
		return rateLimited(CodePerNodeRateLimited, wait)
	}
	if ok, wait := s.perDomain.Allow(domainID); !ok {
		return rateLimited(CodePerDomainRateLimited, wait)
	}
	return nil
}

func rateLimited(code string, wait time.Duration) error {
	secs := max(1, int(wait.Round(time.Second)/time.Second))
	return problem.New(http.StatusTooManyRequests, code, "Too many secret fetches; retry later.").
		WithHeader("Retry-After", strconv.Itoa(secs))
}

// fetchNode is what delivery needs of the calling node.
type fetchNode struct {
	ID, DomainID, ProjectID, PublicKey string
	SealingKey                         string // empty: level-1 delivery
}

func loadNode(ctx context.Context, q store.Querier, nodeID string) (fetchNode, error) {
	n := fetchNode{ID: nodeID}
	err := q.QueryRowContext(ctx, `SELECT n.domain_id, n.project_id, n.public_key, COALESCE(k.public_key, '')
		FROM nodes n LEFT JOIN node_sealing_keys k ON k.node_id = n.id
		WHERE n.id = $1 AND n.revoked_at IS NULL`, nodeID).Scan(&n.DomainID, &n.ProjectID, &n.PublicKey, &n.SealingKey)
	if errors.Is(err, sql.ErrNoRows) {
		return n, problem.NotFound("node_not_found", "No such node.")
	}
	if err != nil {
		return n, problem.Internal(err)
	}
	return n, nil
}

// boundSecret reads the secret name of the node's Project and whether a
// binding delivers it to the node.
func (s *Service) boundSecret(ctx context.Context, n fetchNode, name string) (row, bool, error) {
	r, err := loadRow(ctx, s.cfg.DB, n.ProjectID, name)
	var p *problem.Problem
	if errors.As(err, &p) && p.Status == http.StatusNotFound {
		return row{}, false, problem.NotFound(CodeSecretNotFound, "No such secret for this node.")
	}
	if err != nil {
		return row{}, false, err
	}
	bs, err := loadBindings(ctx, s.cfg.DB, n.ProjectID, ` AND b.secret_id = $2`, r.ID)
	if err != nil {
		return row{}, false, problem.Internal(err)
	}
	if len(bs) == 0 {
		return r, false, nil
	}
	labels, err := labels.NodeLabels(ctx, s.cfg.DB, n.ID)
	if err != nil {
		return row{}, false, problem.Internal(err)
	}
	return r, len(refsFor(bs, n.ID, labels)) > 0, nil
}

// RegisterSealingKey records the node's X25519 sealing public key (level
// 2); a new key replaces the old one. The key must differ from the node's
// WireGuard key.
func (s *Service) RegisterSealingKey(ctx context.Context, nodeID, publicKey string) (nodeproto.SealingKeyResponse, error) {
	kid, err := nodeproto.SealingKID(publicKey)
	if err != nil {
		return nodeproto.SealingKeyResponse{}, problem.BadRequest(CodeInvalidSealingKey,
			"public_key must be the base64 of a 32-byte X25519 public key.")
	}
	n, err := loadNode(ctx, s.cfg.DB, nodeID)
	if err != nil {
		return nodeproto.SealingKeyResponse{}, err
	}
	if subtle.ConstantTimeCompare([]byte(n.PublicKey), []byte(publicKey)) == 1 {
		return nodeproto.SealingKeyResponse{}, problem.BadRequest(CodeInvalidSealingKey,
			"The sealing key must not be the node's WireGuard key.")
	}
	audit.RequestFrom(ctx).Target(n.DomainID, "node", nodeID)
	resp := nodeproto.SealingKeyResponse{KID: kid, PublicKey: publicKey}
	if n.SealingKey == publicKey {
		return resp, nil // a retry: nothing changes, nothing to audit
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO node_sealing_keys (node_id, kid, public_key, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (node_id) DO UPDATE SET
				kid = excluded.kid, public_key = excluded.public_key, created_at = excluded.created_at`,
			nodeID, kid, publicKey, store.Micros(s.stamp())); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nodeproto.SealingKeyResponse{}, problem.From(err)
	}
	return resp, nil
}

// ForgetNode drops a removed node's sealing key, inside the removing
// transaction; its node-id bindings go too.
func (s *Service) ForgetNode(ctx context.Context, tx *sql.Tx, nodeID string) error {
	for _, q := range []string{`DELETE FROM node_sealing_keys WHERE node_id = $1`,
		`DELETE FROM secret_bindings WHERE node_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, nodeID); err != nil {
			return err
		}
	}
	return nil
}
