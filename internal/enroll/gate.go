package enroll

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// The registration gate (issue 7 row 4): POST /v1/register is
// unauthenticated until its bootstrap token is verified, so the body is
// never read before the cheapest checks have passed, and it stays small.
//
//   - A request with "Authorization: Bearer" (every agent sends one) has the
//     bearer verified before its body is read: its format and lookup id
//     first (no hash, at most one indexed read), then the Argon2id hash
//     (under Service.hashSem). Anything else is 401 invalid_token, with
//     the body unread.
//   - A request without a bearer (the contract form) carries its token in
//     the body, so the body must be read first: at most
//     Config.RegisterConcurrency such reads run at once (429 rate_limited
//     with Retry-After beyond), each bounded to registerBodyLimit on the
//     wire and maxInflated after gzip (413 request_body_too_large).

// DefaultRegisterConcurrency bounds concurrent registration bodies read
// before their token is known (Config.RegisterConcurrency).
const DefaultRegisterConcurrency = 16

// gateKey keys the gate's verdict in the request context.
type gateKey struct{}

// gateState is what the gate learnt before the body was read.
type gateState struct {
	// bearer is the verified bootstrap token of the Authorization header
	// and tok its row; bearer is "" when no bearer came.
	bearer string
	tok    tokenRow
	// release frees the unauthenticated body-read slot (no-op with a
	// bearer); the handler calls it once the body is decoded.
	release func()
}

func gateFrom(ctx context.Context) *gateState {
	if g, ok := ctx.Value(gateKey{}).(*gateState); ok {
		return g
	}
	return &gateState{release: func() {}}
}

// gate is the registration operation's middleware: it runs before huma
// reads the body.
func (s *Service) gate(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		g := &gateState{release: func() {}}
		if bearer, ok := nodeproto.ParseBearer(ctx.Header(nodeproto.HeaderAuthorization)); ok {
			tok, err := s.verified(ctx.Context(), bearer)
			if err != nil {
				writeGateProblem(api, ctx, err)
				return
			}
			g.bearer, g.tok = bearer, tok
		} else {
			select {
			case s.bodySem <- struct{}{}:
			default:
				writeGateProblem(api, ctx, problem.New(http.StatusTooManyRequests, nodeproto.CodeRateLimited,
					"Too many registrations without a bearer token are being read; retry later.").
					WithHeader(nodeproto.HeaderRetryAfter, "1"))
				return
			}
			var once sync.Once
			g.release = func() { once.Do(func() { <-s.bodySem }) }
			defer g.release()
		}
		next(huma.WithContext(ctx, context.WithValue(ctx.Context(), gateKey{}, g)))
	}
}

// writeGateProblem answers from the gate as the handler would: the
// negotiated level (N3) and the API's problem transform included.
func writeGateProblem(api huma.API, ctx huma.Context, err error) {
	p, ok := problem.From(err).(*problem.Problem)
	if !ok {
		p = problem.Internal(err)
	}
	if h := ctx.Header(nodeproto.HeaderPlexdProtocol); h != "" {
		p = p.WithHeader(nodeproto.HeaderPlexsphereProtocol,
			strconv.Itoa(nodeproto.NegotiateLevel(nodeproto.ParseLevel(h), nodeproto.MaxLevel)))
	}
	for k, vs := range p.GetHeaders() {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", nodeproto.ContentTypeProblemJSON)
	ctx.SetStatus(p.Status)
	v, terr := api.Transform(ctx, strconv.Itoa(p.Status), p)
	if terr != nil {
		v = p
	}
	api.Marshal(ctx.BodyWriter(), nodeproto.ContentTypeJSON, v)
}
