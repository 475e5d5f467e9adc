package enroll

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/reqtext"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Registration limits.
const (
	// registerBodyLimit bounds the body on the wire; maxInflated bounds it
	// after gzip (node-protocol.md §2.3 C1). A registration is a few hundred
	// bytes and is read before its token is verified, so both stay far
	// below C1's 10 MiB SHOULD (issue 7 row 4, docs/enrolment.md).
	registerBodyLimit = 64 << 10
	maxInflated       = 64 << 10
	// replayWindow is how long a second redemption with the same public key
	// returns the first answer (node-protocol.md §4.3).
	replayWindow = 10 * time.Minute
	maxNameLen   = 253
)

// KindNode is the principal kind of an NSK-authenticated caller.
const KindNode principal.Kind = "node"

type registerInput struct {
	Authorization   string `header:"Authorization" hidden:"true"`
	ContentEncoding string `header:"Content-Encoding" hidden:"true"`
	PlexdProtocol   string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (our plexd)."`
	RawBody         []byte `contentType:"application/octet-stream"`
}

type registerOutput struct {
	CacheControl string `header:"Cache-Control"`
	Protocol     string `header:"X-Plexsphere-Protocol"`
	Body         nodeproto.RegisterResponse
}

func (s *Service) registerRegistration(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/register", "registerNode", "node.register", route.Public,
		"Redeem a bootstrap token and join the mesh (agent and contract forms)", "Enrolment")
	// 200, the contract's status; the existing agent takes any 2xx
	// (node-protocol §4.2 recommends 201, so 200 is the one both accept).
	op.DefaultStatus = http.StatusOK
	op.MaxBodyBytes = registerBodyLimit + 1
	op.Middlewares = huma.Middlewares{s.gate(api)}
	op.Description = "Accepts the agent form (`token` + `Authorization: Bearer`, node-protocol.md §4) and the " +
		"contract form (`bootstrap_token`, `project_id`, `resource_id`, `nonce`); answers the union of both forms."
	huma.Register(api, op, s.register)
	// The handler decodes the body itself (gzip, lenient J4 decoding, 400
	// invalid_request), so huma sees a raw body; the document still shows
	// the JSON schema.
	if o := api.OpenAPI(); o != nil && o.Paths["/v1/register"] != nil && o.Paths["/v1/register"].Post != nil {
		if rb := o.Paths["/v1/register"].Post.RequestBody; rb != nil {
			rb.Content = map[string]*huma.MediaType{"application/json": {
				Schema: o.Components.Schemas.Schema(typeOf[nodeproto.RegisterRequest](), true, "RegisterRequest")}}
		}
	}
}

// redemption is what a valid, redeemable token and request resolved to.
type redemption struct {
	req        nodeproto.RegisterRequest
	tok        tokenRow
	resourceID string // an existing Resource named by the contract form
	level      int    // the negotiated protocol level (1 without X-Plexd-Protocol)
}

func (s *Service) register(ctx context.Context, in *registerInput) (*registerOutput, error) {
	out, err := s.redeem(ctx, in)
	if in.PlexdProtocol == "" {
		return out, err
	}
	// N3: name the negotiated level on every answer, errors included.
	level := strconv.Itoa(nodeproto.NegotiateLevel(nodeproto.ParseLevel(in.PlexdProtocol), nodeproto.MaxLevel))
	var p *problem.Problem
	if errors.As(err, &p) {
		return nil, p.WithHeader(nodeproto.HeaderPlexsphereProtocol, level)
	}
	if out != nil {
		out.Protocol = level
	}
	return out, err
}

// redeem validates the request and the token in the spec's order, then
// answers a replay or enrols the node.
func (s *Service) redeem(ctx context.Context, in *registerInput) (*registerOutput, error) {
	out := &registerOutput{CacheControl: "no-store"}
	g := gateFrom(ctx)
	bearer, _ := nodeproto.ParseBearer(in.Authorization)
	req, plain, err := parseRegister(in.ContentEncoding, in.RawBody, bearer)
	g.release()
	if err != nil {
		return nil, err
	}
	tok := g.tok
	if g.bearer == "" || g.bearer != plain {
		if tok, err = s.verified(ctx, plain); err != nil {
			return nil, err
		}
	}
	audit.RequestFrom(ctx).Target(tok.domainID, "node", "")
	if tok.RevokedAt != nil {
		return nil, unauthorized("token_revoked", "The bootstrap token was revoked.")
	}
	r := &redemption{req: req, tok: tok,
		level: nodeproto.NegotiateLevel(nodeproto.ParseLevel(in.PlexdProtocol), nodeproto.MaxLevel)}
	if resp, ok, err := s.replay(ctx, r); err != nil || ok {
		if err != nil {
			return nil, problem.From(err)
		}
		out.Body = resp
		return out, nil
	}
	if err := tokenState(tok.BootstrapToken, s.now()); err != nil {
		return nil, err
	}
	if _, _, err := projectDomain(ctx, s.db, tok.ProjectID); err != nil {
		var p *problem.Problem
		if errors.As(err, &p) && p.Status == http.StatusNotFound {
			return nil, problem.New(http.StatusForbidden, nodeproto.CodeRegistrationDenied, "The token's Project no longer exists.")
		}
		return nil, problem.Unavailable(nodeproto.CodeUnavailable, err)
	}
	if err := s.checkContract(ctx, r); err != nil {
		return nil, err
	}
	if err := s.checkPublicKey(ctx, req.PublicKey); err != nil {
		return nil, err
	}
	resp, err := s.enrol(ctx, r)
	if err != nil {
		return nil, err
	}
	out.Body = resp
	return out, nil
}

// parseRegister is the whole untrusted-body path of a registration:
// inflate and decode the body, check the public key, and pick the
// credential against the bearer ("" when none came). Every failure is a
// 4xx problem.
func parseRegister(encoding string, raw []byte, bearer string) (nodeproto.RegisterRequest, string, error) {
	req, err := decodeRegister(encoding, raw)
	if err != nil {
		return req, "", err
	}
	if err := req.Validate(); err != nil {
		return req, "", problem.BadRequest(nodeproto.CodeInvalidRequest, "public_key must be a non-zero WireGuard key (Key32).")
	}
	plain, err := req.Credential(bearer)
	switch {
	case errors.Is(err, nodeproto.ErrTokenMismatch):
		return req, "", unauthorized(nodeproto.CodeTokenMismatch, "The bearer token and the body token differ.")
	case err != nil:
		return req, "", unauthorized(nodeproto.CodeInvalidToken, "A bootstrap token is required.")
	}
	return req, plain, nil
}

// decodeRegister reads the body, inflating gzip, leniently (J4): unknown
// members are ignored; anything that is not a JSON object is 400.
func decodeRegister(encoding string, raw []byte) (nodeproto.RegisterRequest, error) {
	var req nodeproto.RegisterRequest
	bad := problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not a JSON registration request.")
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return req, bad
		}
		inflated, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
		if err != nil {
			return req, bad
		}
		if len(inflated) > maxInflated {
			return req, problem.New(http.StatusRequestEntityTooLarge, "request_body_too_large",
				"The inflated registration body exceeds 64 KiB.")
		}
		// The API checks identity bodies as they stream in; an inflated
		// one is checked here (issue 7 row 6).
		if reqtext.Check(reqtext.JSON, inflated) != nil {
			return req, problem.BadRequest("invalid_body", "A string in the body contains NUL or invalid UTF-8.")
		}
		raw = inflated
	default:
		return req, problem.New(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Encoding must be gzip or identity.")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &req) != nil {
		return req, bad
	}
	return req, nil
}

func unauthorized(code, detail string) *problem.Problem {
	return problem.New(http.StatusUnauthorized, code, detail)
}

// verified finds the token's row by its lookup id and checks the Argon2id
// hash; anything else is 401 invalid_token.
func (s *Service) verified(ctx context.Context, plain string) (tokenRow, error) {
	invalid := unauthorized(nodeproto.CodeInvalidToken, "The bootstrap token is not valid.")
	pt, ok := parseToken(plain)
	if !ok || !nodeproto.ValidBootstrapToken(plain) {
		return tokenRow{}, invalid
	}
	tok, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM bootstrap_tokens WHERE lookup = $1`, pt.lookup))
	if errors.Is(err, sql.ErrNoRows) {
		return tok, invalid
	}
	if err != nil {
		return tok, problem.Unavailable(nodeproto.CodeUnavailable, err)
	}
	match, err := s.verifyToken(ctx, plain, tok.secretHash)
	if err != nil {
		return tok, problem.Unavailable(nodeproto.CodeUnavailable, err)
	}
	if !match || pt.projectID != tok.ProjectID || pt.kind != tok.Kind {
		return tok, invalid
	}
	return tok, nil
}

// tokenState refuses an expired or used-up token (api.md §3.5).
func tokenState(t apiv1.BootstrapToken, now time.Time) error {
	switch {
	case t.RevokedAt != nil:
		return unauthorized("token_revoked", "The bootstrap token was revoked.")
	case !now.Before(t.ExpiresAt):
		return unauthorized(nodeproto.CodeTokenExpired, "The bootstrap token has expired.")
	case t.ConsumedAt != nil || t.Uses >= t.MaxUses:
		return unauthorized(nodeproto.CodeTokenConsumed, "The bootstrap token has been used up.")
	}
	return nil
}
