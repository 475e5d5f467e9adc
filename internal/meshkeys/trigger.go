package meshkeys

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// operatePermission is the ReBAC permission rotation needs on the node
// (api.md: node#node-operate).
const operatePermission = "node-operate"

// heartbeatInterval is how often agents heartbeat (§5.2): the latest a
// level-2 node hears of a rotation whose event it missed.
const heartbeatInterval = 30 * time.Second

type nodeIDInput struct {
	ID string `path:"id" doc:"Node id (UUID)."`
}

type triggerOutput struct{ Body apiv1.RotationTrigger }

type previewOutput struct{ Body apiv1.RotationPreview }

func (s *Service) registerOperator(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/nodes/{id}/keys/rotate", "postNodeKeysRotate", "node.keys.rotate",
		route.Operator, "Ask a node to rotate its WireGuard key (idempotent while one is pending)", "Nodes")
	op.Description = "Records a pending rotation and tells the node (level 2: the rotate_keys event and heartbeat " +
		"flag). A repeat while one is pending answers it with already_pending: true and sends nothing new."
	huma.Register(api, op, s.trigger)
	huma.Register(api, route.Op(http.MethodGet, "/v1/nodes/{id}/keys/rotate/preview", "getNodeKeysRotatePreview",
		"node.keys.rotate.preview", route.Operator, "What rotating a node's WireGuard key would touch", "Nodes"), s.preview)
}

// parseNodeID checks a path node id.
func parseNodeID(s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", problem.BadRequest("invalid_node_id", "The node id must be a UUID.")
	}
	return u.String(), nil
}

// trigger records a pending rotation of the node, audits it and, when the
// node speaks level 2, appends rotate_keys to its log, in one transaction.
func (s *Service) trigger(ctx context.Context, in *nodeIDInput) (*triggerOutput, error) {
	id, err := parseNodeID(in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "node", id)
	if err := s.cfg.Authz.Check(ctx, operatePermission, "node:"+id); err != nil {
		return nil, err
	}
	out := &triggerOutput{Body: apiv1.RotationTrigger{PeerID: id}}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		n, err := loadNode(ctx, tx, id, s.cfg.DB.ForUpdate())
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound("node_not_found", "No such node.")
		}
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(n.DomainID, "node", id)
		rid, fresh, err := s.request(ctx, tx, n, originOperator)
		if err != nil {
			return err
		}
		out.Body.RotationID, out.Body.AlreadyPending = rid, !fresh
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return out, nil
}

// request records a pending rotation of n (unless one is pending) and,
// for a new one, tells a level-2 node through rotate_keys (E4: never at
// level 1, whose agent does not rotate).
func (s *Service) request(ctx context.Context, tx *sql.Tx, n nodeRow, origin string) (string, bool, error) {
	rid, fresh, err := insertPending(ctx, tx, n, origin, s.stamp())
	if err != nil || !fresh || n.Level < nodeproto.Level2 {
		return rid, fresh, err
	}
	return rid, fresh, s.cfg.Events.Emit(ctx, tx, []string{n.ID}, nodeproto.EventRotateKeys, nodeproto.Empty{})
}

// preview answers what a rotation of the node would touch: its pairs and
// the PSK generation each holds, whether one is pending, and its key's age.
func (s *Service) preview(ctx context.Context, in *nodeIDInput) (*previewOutput, error) {
	id, err := parseNodeID(in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, operatePermission, "node:"+id); err != nil {
		return nil, err
	}
	out := &previewOutput{Body: apiv1.RotationPreview{NodeID: id, PeerID: id, AffectedEdges: []apiv1.RotationEdge{}}}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		n, err := loadNode(ctx, tx, id, "")
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound("node_not_found", "No such node.")
		}
		if err != nil {
			return err
		}
		peers, err := s.cfg.Mesh.PeersOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if out.Body.AffectedEdges, err = edges(ctx, tx, id, peers); err != nil {
			return err
		}
		if _, out.Body.AlreadyPending, err = pendingOf(ctx, tx, id, ""); err != nil {
			return err
		}
		out.Body.KeyInstalledAt, err = keyInstalledAt(ctx, tx, n)
		return err
	})
	if err != nil {
		return nil, problem.From(err)
	}
	b := &out.Body
	b.AffectedPeerCount = len(b.AffectedEdges)
	b.KeyAgeSeconds = max(int64(s.cfg.Now().Sub(b.KeyInstalledAt)/time.Second), 0)
	b.EstimatedDurationSeconds = int(heartbeatInterval/time.Second) + (b.AffectedPeerCount+99)/100
	return out, nil
}

// edges lists the pairs of nodeID with the PSK generation in force on each:
// the later of the two ends' last completed rotations (a rotation of either
// end re-issues the pair's PSK), or the enrolment generation.
func edges(ctx context.Context, tx *sql.Tx, nodeID string, peers []nodeproto.Peer) ([]apiv1.RotationEdge, error) {
	own, ownOK, err := lastCompleted(ctx, tx, nodeID)
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.RotationEdge, 0, len(peers))
	for _, p := range peers {
		kid, at := initialKID, int64(-1)
		if ownOK && own.CompletedAt != nil {
			kid, at = own.KID, *own.CompletedAt
		}
		other, ok, err := lastCompleted(ctx, tx, p.ID)
		if err != nil {
			return nil, err
		}
		if ok && other.CompletedAt != nil && *other.CompletedAt > at {
			kid = other.KID
		}
		out = append(out, apiv1.RotationEdge{PeerNodeID: p.ID, CurrentKID: kid, CurrentWrapKeyVersion: wrapKeyVersion})
	}
	return out, nil
}
