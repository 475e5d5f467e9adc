package nat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// bridgeKind is the Resource kind of a bridge (api.md §3.1).
const bridgeKind = "bridge"

type relayInput struct {
	ProjectID  string `path:"project_id" doc:"Project id (UUID)."`
	ResourceID string `path:"resource_id" doc:"The bridge Resource id (UUID)."`
}

type putRelayInput struct {
	ProjectID  string `path:"project_id" doc:"Project id (UUID)."`
	ResourceID string `path:"resource_id" doc:"The bridge Resource id (UUID)."`
	Body       apiv1.BridgeRelayConfigureRequest
}

type relayOutput struct{ Body apiv1.BridgeRelayResponse }

func (s *Service) registerRelay(api huma.API) {
	const path = "/v1/projects/{project_id}/resources/{resource_id}/bridge/relay"
	huma.Register(api, route.Op(http.MethodGet, path, "getBridgeRelay", "bridge.relay.read", route.Operator,
		"Read a bridge Resource's relay configuration", "Bridges"), s.getRelay)
	huma.Register(api, route.Op(http.MethodPut, path, "configureBridgeRelay", "bridge.relay.update", route.Operator,
		"Replace a bridge Resource's relay configuration", "Bridges"), s.putRelay)
}

// parseUUID is a path id that must be a UUID.
func parseUUID(kind, v string) (string, error) {
	u, err := uuid.Parse(v)
	if err != nil || u == uuid.Nil || len(v) != 36 {
		return "", problem.BadRequest("invalid_"+kind+"_id", "The "+kind+" id must be a UUID.")
	}
	return u.String(), nil
}

// bridgeResource reads the Resource of the path and checks it is a bridge
// of that Project.
func bridgeResource(ctx context.Context, q store.Querier, projectID, resourceID string) (domainID string, err error) {
	var pid, kind string
	err = q.QueryRowContext(ctx, `SELECT project_id, domain_id, kind FROM resources WHERE id = $1`, resourceID).
		Scan(&pid, &domainID, &kind)
	if errors.Is(err, sql.ErrNoRows) || err == nil && pid != projectID {
		return "", problem.NotFound("resource_not_found", "No such Resource in this Project.")
	}
	if err != nil {
		return "", err
	}
	if kind != bridgeKind {
		return "", problem.Conflict("resource_not_bridge", "The Resource is not of kind bridge.")
	}
	return domainID, nil
}

func (s *Service) relayIDs(projectID, resourceID string) (string, string, error) {
	pid, err := parseUUID("project", projectID)
	if err != nil {
		return "", "", err
	}
	rid, err := parseUUID("resource", resourceID)
	return pid, rid, err
}

func (s *Service) getRelay(ctx context.Context, in *relayInput) (*relayOutput, error) {
	pid, rid, err := s.relayIDs(in.ProjectID, in.ResourceID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "observe", "resource:"+rid); err != nil {
		return nil, err
	}
	if _, err := bridgeResource(ctx, s.db, pid, rid); err != nil {
		return nil, problem.From(err)
	}
	r, ok, err := loadRelay(ctx, s.db, rid)
	if err != nil {
		return nil, problem.From(err)
	}
	if !ok {
		return nil, problem.NotFound("bridge_relay_not_found", "This bridge has no relay configured.")
	}
	return &relayOutput{Body: r}, nil
}

func loadRelay(ctx context.Context, q store.Querier, rid string) (apiv1.BridgeRelayResponse, bool, error) {
	var (
		r                apiv1.BridgeRelayResponse
		created, updated int64
	)
	err := q.QueryRowContext(ctx, `SELECT resource_id, enabled, listen_port, created_at, updated_at FROM bridge_relays
		WHERE resource_id = $1`, rid).Scan(&r.ResourceID, &r.Enabled, &r.ListenPort, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	r.CreatedAt, r.UpdatedAt = store.Time(created), store.Time(updated)
	return r, err == nil, err
}

// putRelay replaces the relay configuration. An identical PUT changes
// nothing and emits nothing; a change tells the bridge's nodes
// (bridge_config_updated) and re-decides the relayed pairs of the Domain.
func (s *Service) putRelay(ctx context.Context, in *putRelayInput) (*relayOutput, error) {
	pid, rid, err := s.relayIDs(in.ProjectID, in.ResourceID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "resource", rid)
	if err := s.cfg.Authz.Check(ctx, "manage", "resource:"+rid); err != nil {
		return nil, err
	}
	if in.Body.ListenPort < 1 || in.Body.ListenPort > 65535 {
		return nil, problem.BadRequest("relay_port_out_of_range", "listen_port must be within 1..65535.")
	}
	var out apiv1.BridgeRelayResponse
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		domainID, err := bridgeResource(ctx, tx, pid, rid)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(domainID, "resource", rid)
		old, had, err := loadRelay(ctx, tx, rid)
		if err != nil {
			return err
		}
		now := s.now()
		out = apiv1.BridgeRelayResponse{ResourceID: rid, Enabled: in.Body.Enabled, ListenPort: in.Body.ListenPort,
			CreatedAt: now, UpdatedAt: now}
		if had {
			out.CreatedAt = old.CreatedAt
			if old.Enabled == out.Enabled && old.ListenPort == out.ListenPort {
				out = old
				return s.cfg.Audit.Commit(ctx, tx)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bridge_relays (resource_id, project_id, domain_id, enabled,
			listen_port, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7)
			ON CONFLICT (resource_id) DO UPDATE SET enabled = $4, listen_port = $5, updated_at = $7`,
			rid, pid, domainID, out.Enabled, out.ListenPort, store.Micros(out.CreatedAt), store.Micros(now)); err != nil {
			return fmt.Errorf("nat: store relay: %w", err)
		}
		if err := s.relayChanged(ctx, tx, domainID, rid); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &relayOutput{Body: out}, nil
}

// relayChanged tells the bridge's nodes their config changed and
// re-decides every pair of the Domain that is or wants to be relayed.
func (s *Service) relayChanged(ctx context.Context, tx *sql.Tx, domainID, resourceID string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM nodes WHERE resource_id = $1 AND revoked_at IS NULL ORDER BY id`, resourceID)
	if err != nil {
		return err
	}
	var bridgeNodes []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		bridgeNodes = append(bridgeNodes, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(bridgeNodes) > 0 && s.cfg.Events != nil {
		if err := s.cfg.Events.Emit(ctx, tx, bridgeNodes, nodeproto.EventBridgeConfigUpdated, struct{}{}); err != nil {
			return err
		}
	}
	return s.reconcileDomain(ctx, tx, domainID)
}

// reconcileDomain re-decides the pairs of every node of the Domain that
// may want a relay: behind a symmetric NAT, reporting a failed or down
// path, or in a session now.
func (s *Service) reconcileDomain(ctx context.Context, tx *sql.Tx, domainID string) error {
	ids, err := store.Strings(ctx, tx, `SELECT node_id FROM node_endpoints WHERE domain_id = $1 AND nat_type = $2 AND NOT tombstoned
		UNION SELECT p.node_id FROM peer_paths p JOIN nodes n ON n.id = p.node_id
			WHERE n.domain_id = $1 AND (p.direct_failed OR p.path = $3)
		UNION SELECT node_a FROM relay_sessions WHERE domain_id = $1`, domainID, natSymmetric, nodeproto.PathDown)
	if err != nil {
		return fmt.Errorf("nat: relay candidates: %w", err)
	}
	changed := map[string]bool{}
	for _, id := range ids {
		if err := s.reconcileNode(ctx, tx, id, changed); err != nil {
			return err
		}
	}
	return s.announceSet(ctx, tx, changed)
}
