package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// NodeKind is the principal kind of a caller authenticated by its NSK; the
// principal's IdentityID is the node id.
const NodeKind principal.Kind = "node"

// NodeAuthenticator resolves a node secret key (node-protocol.md §3.3):
// nodeID is "" for an unknown NSK, revoked is true for a decommissioned
// node, and err reports an outage of the credential store.
type NodeAuthenticator interface {
	AuthenticateNSK(ctx context.Context, nsk string) (nodeID string, revoked bool, err error)
}

// nodePathParams are the path parameters that name the addressed node.
var nodePathParams = []string{"id", "node_id"}

// authenticateNode enforces the Node class: a Bearer NSK of a live node
// (401 unauthenticated without one, 401 unauthorized when unknown, 401
// nsk_revoked when revoked, 503 unavailable on an outage) that must belong
// to the node the path names (403 node_id_mismatch). The node becomes the
// request's principal.
func (s *Server) authenticateNode(ctx huma.Context, next func(huma.Context)) {
	// N3: every answer to a request announcing a level names the negotiated
	// level, errors and the event stream included.
	if h := ctx.Header(nodeproto.HeaderPlexdProtocol); h != "" {
		ctx.SetHeader(nodeproto.HeaderPlexsphereProtocol,
			strconv.Itoa(nodeproto.NegotiateLevel(nodeproto.ParseLevel(h), nodeproto.MaxLevel)))
	}
	tok, ok := bearer(ctx.Header("Authorization"))
	if !ok {
		s.writeProblem(ctx, problem.Unauthenticated())
		return
	}
	if s.cfg.Nodes == nil {
		s.writeProblem(ctx, problem.New(http.StatusUnauthorized, "unauthorized", "A valid node secret key is required."))
		return
	}
	id, revoked, err := s.cfg.Nodes.AuthenticateNSK(ctx.Context(), tok)
	switch {
	case err != nil:
		s.writeProblem(ctx, problem.Unavailable("unavailable", err))
		return
	case id == "":
		s.writeProblem(ctx, problem.New(http.StatusUnauthorized, "unauthorized", "The node secret key is not known."))
		return
	case revoked && route.AcceptsRevokedNSK(ctx.Operation()):
		// The handler decides (deregister's bounded retry, issue 8); the
		// path must still name this node, below.
	case revoked:
		// The refusal is audited on the node's Domain chain (issue 7 row 9).
		audit.RequestFrom(ctx.Context()).Target("", "node", id)
		s.writeProblem(ctx, problem.New(http.StatusUnauthorized, "nsk_revoked", "The node was deregistered or revoked."))
		return
	}
	for _, name := range nodePathParams {
		if v := ctx.Param(name); v != "" && v != id {
			// api.md §2.2: the execution and session callbacks spell it
			// nsk_node_mismatch.
			code := "node_id_mismatch"
			if p := ctx.Operation().Path; strings.Contains(p, "/sessions/") || strings.Contains(p, "/executions/") {
				code = "nsk_node_mismatch"
			}
			s.writeProblem(ctx, problem.New(http.StatusForbidden, code,
				"The node secret key belongs to another node than the path names."))
			return
		}
	}
	p := &principal.Principal{IdentityID: id, Kind: NodeKind, Credential: "nsk", CredentialID: id}
	audit.RequestFrom(ctx.Context()).SetPrincipal(p)
	next(huma.WithContext(ctx, principal.With(ctx.Context(), p)))
}
