package enroll

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// AuthenticateNSK resolves a presented NSK to its node (the API middleware's
// node authenticator, node-protocol.md §3.3): nodeID is "" for an unknown
// NSK, revoked is true for a decommissioned node, and err is an outage.
func (s *Service) AuthenticateNSK(ctx context.Context, nsk string) (nodeID string, revoked bool, err error) {
	if !nodeproto.ValidNSK(nsk) {
		return "", false, nil
	}
	digest := s.nskDigest(nsk)
	var (
		stored            string
		revokedAt, usedAt *int64
	)
	err = s.db.QueryRowContext(ctx, `SELECT id, nsk_digest, revoked_at, nsk_used_at FROM nodes WHERE nsk_digest = $1`, digest).
		Scan(&nodeID, &stored, &revokedAt, &usedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(digest)) != 1 {
		return "", false, nil
	}
	if revokedAt == nil && usedAt == nil {
		return s.firstUse(ctx, nodeID, digest) // ends the registration replay (replay.go)
	}
	return nodeID, revokedAt != nil, nil
}

type nodeIDInput struct {
	ID string `path:"id" doc:"Node id (UUID)."`
}
type listNodesInput struct {
	DomainID string `query:"domain_id" doc:"Only nodes of this Domain."`
	page.Params
}
type nodeOutput struct{ Body apiv1.Node }
type nodesOutput struct {
	Body apiv1.List[apiv1.NodeSummary]
}

func (s *Service) registerNodes(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/nodes", "listNodes", "node.list", route.Operator,
		"List enrolled nodes (creation order)", "Nodes"), s.listNodes)
	huma.Register(api, route.Op(http.MethodGet, "/v1/nodes/{id}", "getNode", "node.read", route.Operator,
		"Read one node", "Nodes"), s.getNode)
	op := route.Op(http.MethodDelete, "/v1/nodes/{id}", "deleteNode", "node.delete", route.Operator,
		"Decommission a node: revoke its NSK and free its mesh IP", "Nodes")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteNode)
}

func (s *Service) listNodes(ctx context.Context, in *listNodesInput) (*nodesOutput, error) {
	domainID := ""
	if in.DomainID != "" {
		var err error
		if domainID, err = pathid.Parse("domain", in.DomainID); err != nil {
			return nil, err
		}
	}
	scope := "nodes.list?domain_id=" + domainID
	var after string
	limit, err := s.pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, domain_id, name, kind, created_at FROM nodes
		WHERE revoked_at IS NULL AND ($1 = '' OR domain_id = $1) AND id > $2 ORDER BY id LIMIT $3`,
		domainID, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &nodesOutput{Body: apiv1.List[apiv1.NodeSummary]{Items: []apiv1.NodeSummary{}}}
	for rows.Next() {
		var (
			n       apiv1.NodeSummary
			created int64
		)
		if err := rows.Scan(&n.ID, &n.DomainID, &n.Name, &n.Kind, &created); err != nil {
			return nil, problem.Internal(err)
		}
		n.CreatedAt = store.Time(created)
		out.Body.Items = append(out.Body.Items, n)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	var next string
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		next = out.Body.Items[limit-1].ID
	}
	if out.Body.Items, err = visibleRows(ctx, s.authz, "read", out.Body.Items,
		func(n apiv1.NodeSummary) string { return "node:" + n.ID }); err != nil {
		return nil, err
	}
	if next != "" {
		if out.Body.NextCursor, err = s.pages.Next(ctx, scope, next); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const nodeColumns = `id, domain_id, project_id, resource_id, name, kind, COALESCE(mesh_ip, ''), public_key, labels,
	binary_version, architecture,
	COALESCE(last_heartbeat_at, (SELECT a.last_heartbeat_at FROM node_agents a WHERE a.node_id = nodes.id)),
	created_at, updated_at`

func scanNode(row interface{ Scan(...any) error }) (apiv1.Node, error) {
	var (
		n                apiv1.Node
		labels           string
		heartbeat        *int64
		created, updated int64
	)
	err := row.Scan(&n.ID, &n.DomainID, &n.ProjectID, &n.ResourceID, &n.Name, &n.Kind, &n.MeshIP, &n.PublicKey,
		&labels, &n.BinaryVersion, &n.Architecture, &heartbeat, &created, &updated)
	if err != nil {
		return n, err
	}
	if err := json.Unmarshal([]byte(labels), &n.Labels); err != nil {
		return n, err
	}
	if len(n.Labels) == 0 {
		n.Labels = nil
	}
	n.CreatedAt, n.UpdatedAt = store.Time(created), store.Time(updated)
	n.Reachability = apiv1.NodeReachability{State: "unreachable", ChangedAt: n.CreatedAt, LastHeartbeatAt: store.NullTime(heartbeat)}
	return n, nil
}

func (s *Service) getNode(ctx context.Context, in *nodeIDInput) (*nodeOutput, error) {
	id, err := pathid.Parse("node", in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "read", "node:"+id); err != nil {
		return nil, err
	}
	n, err := scanNode(s.db.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = $1 AND revoked_at IS NULL`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound("node_not_found", "No such node.")
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	if n.Reachability, err = NodeReachability(ctx, s.db, id, s.now()); errNoNode(err) {
		return nil, problem.NotFound("node_not_found", "No such node.")
	} else if err != nil {
		return nil, problem.Internal(err)
	}
	return &nodeOutput{Body: n}, nil
}

// deleteNode decommissions a node: the NSK is revoked (later calls get 401
// nsk_revoked), the mesh IP is freed, the structural tuples go, and the
// event plane's hook tells the peers, all in one transaction.
func (s *Service) deleteNode(ctx context.Context, in *nodeIDInput) (*struct{}, error) {
	id, err := pathid.Parse("node", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "node", id)
	// api.md: project#deploy. The node's Project is not known before the
	// check, so check node#operator, which every project#deploy holder has
	// (deploy = project operator ⊆ node operator).
	if err := s.authz.Check(ctx, "operator", "node:"+id); err != nil {
		return nil, err
	}
	return nil, s.decommission(ctx, id)
}

// DeregisterRetryWindow is how long after its removal a node's revoked NSK
// still gets 204 from POST …/deregister: an agent whose 204 was lost
// retries, and the node is already gone as it asked (issue 8).
const DeregisterRetryWindow = 10 * time.Minute

// Deregister decommissions a node at its own request (node-protocol.md §5.2
// deregister, the event plane's Deregisterer): later calls with its NSK get
// 401 nsk_revoked, except deregister itself, which is idempotent: a node
// removed at most DeregisterRetryWindow ago answers 204 again and nothing
// changes; after that, 401 nsk_revoked.
func (s *Service) Deregister(ctx context.Context, nodeID string) error {
	var revokedAt *int64
	err := s.db.QueryRowContext(ctx, `SELECT revoked_at FROM nodes WHERE id = $1`, nodeID).Scan(&revokedAt)
	switch {
	case errNoNode(err):
		return problem.NotFound("node_not_found", "No such node.")
	case err != nil:
		return err
	case revokedAt == nil:
		err = s.decommission(ctx, nodeID)
		var p *problem.Problem
		if !errors.As(err, &p) || p.Status != http.StatusNotFound {
			return err
		}
		// Removed meanwhile (a concurrent retry or an operator): judge the
		// retry below.
		if err := s.db.QueryRowContext(ctx, `SELECT revoked_at FROM nodes WHERE id = $1`, nodeID).Scan(&revokedAt); err != nil || revokedAt == nil {
			return problem.NotFound("node_not_found", "No such node.")
		}
	}
	if s.now().Sub(store.Time(*revokedAt)) > DeregisterRetryWindow {
		// Audited as the middleware audits a revoked NSK (issue 7 row 9).
		audit.RequestFrom(ctx).Target("", "node", nodeID)
		return problem.New(http.StatusUnauthorized, nodeproto.CodeNSKRevoked, "The node was deregistered or revoked.")
	}
	return nil
}

// decommission revokes a live node's NSK, frees its mesh IP, removes its
// structural tuples and appends peer_removed for its peers, with the
// request's audit entry, in one transaction.
func (s *Service) decommission(ctx context.Context, id string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var ref NodeRef
		var resourceID string
		err := tx.QueryRowContext(ctx, `SELECT id, domain_id, project_id, resource_id, COALESCE(mesh_ip, ''), public_key
			FROM nodes WHERE id = $1 AND revoked_at IS NULL`+s.db.ForUpdate(), id).
			Scan(&ref.ID, &ref.DomainID, &ref.ProjectID, &resourceID, &ref.MeshIP, &ref.PublicKey)
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound("node_not_found", "No such node.")
		}
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(ref.DomainID, "node", id)
		now := store.Micros(s.stamp())
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET revoked_at = $2, mesh_ip = NULL, updated_at = $2 WHERE id = $1`,
			id, now); err != nil {
			return err
		}
		if _, err := s.tuples.WriteRows(ctx, tx, nil, tuplesOf(nodeTuples(ref, resourceID)), false); err != nil {
			return err
		}
		if err := s.nodeRemoved(ctx, tx, ref); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err == nil {
		s.sync(ctx)
	}
	return problem.From(err)
}

// NodeFrom names the node whose NSK authenticated the request (the API
// middleware makes it the principal, kind "node"); the event stream's
// CallerFunc.
func NodeFrom(ctx context.Context) (string, bool) {
	p := principal.From(ctx)
	if p == nil || p.Kind != KindNode {
		return "", false
	}
	return p.IdentityID, true
}
