package nat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// endpointRawLimit bounds the body as sent (it may be gzip); the inflated
// body is held to EndpointBodyLimit.
const endpointRawLimit = 64 << 10

type endpointInput struct {
	ID              string `path:"id" doc:"The node id."`
	ContentEncoding string `header:"Content-Encoding" doc:"gzip or identity."`
	RawBody         []byte
}

// EndpointAnswer is the union of the level-1 EndpointResponse
// (peer_endpoints) and the contract's (accepted_at, stale_after).
type EndpointAnswer struct {
	PeerEndpoints []nodeproto.PeerEndpoint `json:"peer_endpoints" doc:"Each peer's endpoint as this node reaches it (level 1; [] when none)."`
	AcceptedAt    time.Time                `json:"accepted_at" doc:"When the report was committed."`
	StaleAfter    time.Time                `json:"stale_after" doc:"The report is tombstoned after this without a fresh one."`
}

type endpointOutput struct{ Body EndpointAnswer }

// endpointDoc documents the request body (the union of both forms).
type endpointDoc struct {
	Endpoint       string    `json:"endpoint,omitempty" doc:"host:port (contract form)."`
	PublicEndpoint string    `json:"public_endpoint,omitempty" doc:"ip:port (level-1 form)."`
	NATType        string    `json:"nat_type" enum:"none,full_cone,restricted,port_restricted,symmetric,unknown"`
	ReportedAt     time.Time `json:"reported_at,omitzero" doc:"Agent clock; within 60 s of server time."`
	Candidates     []string  `json:"candidates,omitempty" doc:"Further ip:port endpoints (level 2)."`
}

// registerEndpoint adds PUT /v1/nodes/{id}/endpoint. A removed node's
// NSK reaches the handler so it can answer 410 endpoint_peer_gone.
func (s *Service) registerEndpoint(api huma.API) {
	op := route.AcceptRevokedNSK(route.Op(http.MethodPut, "/v1/nodes/{id}/endpoint", "putNodeEndpoint",
		"node.endpoint.report", route.Node, "Report the node's NAT-observed endpoint (node-protocol §12.2)", "Nodes"))
	op.MaxBodyBytes = endpointRawLimit + 1
	op.SkipValidateBody = true
	huma.Register(api, op, s.putEndpoint)
	if item := api.OpenAPI().Paths["/v1/nodes/{id}/endpoint"]; item != nil && item.Put != nil && item.Put.RequestBody != nil {
		reg := api.OpenAPI().Components.Schemas
		item.Put.RequestBody.Required = true
		item.Put.RequestBody.Content = map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflectOf[endpointDoc](), true, "")},
		}
	}
}

// caller checks the path id and, when configured, that the NSK names it.
func (s *Service) caller(ctx context.Context, id string) error {
	if !nodeproto.ValidID(id) {
		return problem.BadRequest("invalid_node_id", "The node id is not valid.")
	}
	if s.cfg.Caller != nil {
		if c, ok := s.cfg.Caller(ctx); !ok || c != id {
			return problem.New(http.StatusForbidden, nodeproto.CodeNodeIDMismatch, "The credential belongs to another node.")
		}
	}
	return nil
}

func (s *Service) putEndpoint(ctx context.Context, in *endpointInput) (*endpointOutput, error) {
	if err := s.caller(ctx, in.ID); err != nil {
		return nil, err
	}
	body, err := readBody(in.RawBody, in.ContentEncoding)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rep, err := DecodeReport(body, now)
	if err != nil {
		return nil, err
	}
	observed := ""
	if a, err := netip.ParseAddr(audit.RequestFrom(ctx).IP); err == nil {
		observed = a.Unmap().String()
	}
	var out EndpointAnswer
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.storeReport(ctx, tx, in.ID, rep, observed, now)
		return err
	})
	if err != nil {
		return nil, nodeError(err)
	}
	return &endpointOutput{Body: out}, nil
}

// storeReport records rep for node id; a change of what peers render is
// announced and re-decides the node's relayed pairs.
func (s *Service) storeReport(ctx context.Context, tx *sql.Tx, id string, rep Report, observed string, now time.Time) (EndpointAnswer, error) {
	n, err := loadNode(ctx, tx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return EndpointAnswer{}, problem.NotFound("node_not_found", "No such node.")
	}
	if err != nil {
		return EndpointAnswer{}, err
	}
	if n.revoked {
		return EndpointAnswer{}, problem.New(http.StatusGone, codePeerGone, "This node was removed from the mesh.")
	}
	old, had, err := loadEndpoint(ctx, tx, id)
	if err != nil {
		return EndpointAnswer{}, err
	}
	reported := rep.ReportedAt
	if reported.IsZero() {
		reported = now
	}
	staleAfter := now.Add(s.cfg.EndpointTTL)
	cands, _ := json.Marshal(rep.Candidates)
	if _, err := tx.ExecContext(ctx, `INSERT INTO node_endpoints (`+endpointColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,FALSE)
		ON CONFLICT (node_id) DO UPDATE SET domain_id = $2, endpoint = $3, nat_type = $4, candidates = $5,
		observed_ip = $6, reported_at = $7, accepted_at = $8, stale_after = $9, tombstoned = FALSE`,
		id, n.domainID, rep.Endpoint, rep.NATType, string(cands), observed, store.Micros(reported), store.Micros(now),
		store.Micros(staleAfter)); err != nil {
		return EndpointAnswer{}, fmt.Errorf("nat: store endpoint: %w", err)
	}
	same := had && !old.tombstoned && old.endpoint == rep.Endpoint && old.natType == rep.NATType &&
		slices.Equal(old.candidates, rep.Candidates)
	if !same {
		changed := map[string]bool{id: true}
		if err := s.reconcileNode(ctx, tx, id, changed); err != nil {
			return EndpointAnswer{}, err
		}
		if err := s.announceSet(ctx, tx, changed); err != nil {
			return EndpointAnswer{}, err
		}
	}
	peers, err := s.peerEndpoints(ctx, tx, n)
	if err != nil {
		return EndpointAnswer{}, err
	}
	return EndpointAnswer{PeerEndpoints: peers, AcceptedAt: now, StaleAfter: staleAfter}, nil
}

// peerEndpoints lists each peer's endpoint as n reaches it (relay address
// for a level-1 node of a relayed pair), peers without one left out.
func (s *Service) peerEndpoints(ctx context.Context, tx *sql.Tx, n nodeRef) ([]nodeproto.PeerEndpoint, error) {
	peers, err := livePeers(ctx, tx, n.domainID, n.id)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(peers))
	for i, p := range peers {
		ids[i] = p.id
	}
	paths, err := s.Paths(ctx, tx, n.id, ids)
	if err != nil {
		return nil, err
	}
	out := []nodeproto.PeerEndpoint{}
	for _, id := range ids {
		if ep := paths[id].Endpoint; ep != "" {
			out = append(out, nodeproto.PeerEndpoint{PeerID: id, Endpoint: ep})
		}
	}
	return out, nil
}

// nodeError passes problems through and makes anything else a 503 a node
// retries (never 4xx for a transient failure).
func nodeError(err error) error {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	return problem.New(http.StatusServiceUnavailable, nodeproto.CodeUnavailable, "").
		WithCause(err).WithHeader(nodeproto.HeaderRetryAfter, "5")
}
