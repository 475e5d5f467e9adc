package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/ratelimit"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/telemetry"
)

// Authenticator turns an operator bearer credential into a principal. It
// returns an error wrapping principal.ErrBadCredential for a credential that
// is not valid, and any other error for an outage.
type Authenticator interface {
	AuthenticateBearer(ctx context.Context, token string) (*principal.Principal, error)
}

// Check is one named dependency check for /v1/health.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Config configures the API.
type Config struct {
	Logger        *slog.Logger
	Audit         *audit.Log
	Authenticator Authenticator
	Version       apiv1.Version
	Checks        []Check
	// TrustedProxies are the proxies whose X-Forwarded-* headers count: the
	// client address is the right-most X-Forwarded-For hop not among them.
	// Empty ignores (and drops) forwarding headers.
	TrustedProxies []netip.Prefix
	// BodyReadTimeout bounds how long a request body may take to arrive
	// (408 beyond); 0 leaves it unbounded.
	BodyReadTimeout time.Duration
	// Sessions authenticates the plexsphere_session cookie; nil accepts
	// bearer credentials only.
	Sessions SessionAuthenticator
	// StepUp checks sensitive operations' callers; nil disables step-up.
	StepUp StepUpChecker
	// AllowedOrigins is the CSRF Origin allow-list (api.md §2.2.1); empty
	// refuses every cookie-authenticated mutation (fail closed).
	AllowedOrigins []string
	// Nodes authenticates NSKs for node operations; nil refuses them all.
	Nodes NodeAuthenticator
	// PublicLimit rate-limits unauthenticated mutations (sign-in, device
	// codes, service tokens, register) per client address; nil disables it.
	PublicLimit *ratelimit.Limiter
	// Metrics counts requests, their latency and open streams per
	// operation; nil counts nothing.
	Metrics *telemetry.Metrics
}

// Server is the HTTP API: register operations on API, serve Handler.
type Server struct {
	API huma.API
	mux *http.ServeMux
	cfg Config
}

var setErrorsOnce sync.Once

// New builds the API with the meta operations registered.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Logger == nil:
		return nil, errors.New("api: Config.Logger is required")
	case cfg.Audit == nil:
		return nil, errors.New("api: Config.Audit is required")
	case cfg.Authenticator == nil:
		return nil, errors.New("api: Config.Authenticator is required")
	}
	setErrorsOnce.Do(func() {
		huma.NewError = newError
		huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
			return newError(status, msg, errs...)
		}
	})
	s := &Server{mux: http.NewServeMux(), cfg: cfg}
	s.API = humago.New(s.mux, s.humaConfig())
	s.API.UseMiddleware(s.setup, s.checkText, s.limitBody, s.authenticate)
	s.registerMeta()
	return s, nil
}

func (s *Server) humaConfig() huma.Config {
	registry := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	return huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:       "plexsphere",
				Version:     "v1",
				Description: "The plexsphere operator API.",
			},
			Servers:    []*huma.Server{{URL: "/"}},
			Components: &huma.Components{Schemas: registry, SecuritySchemes: route.SecuritySchemes()},
		},
		Formats:       huma.DefaultFormats,
		DefaultFormat: "application/json",
		Transformers:  []huma.Transformer{s.transform},
	}
}

// Handler is the root handler: the edge (client address, body deadline),
// recovery, then the routes, with problem+json answers for unknown paths.
func (s *Server) Handler() http.Handler {
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := problem.NotFound("route_not_found", "No operation at "+r.Method+" "+r.URL.Path+".")
		if allowed := s.allowedMethods(r); len(allowed) > 0 {
			p = problem.New(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not served at "+r.URL.Path+".")
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		p.Instance = r.URL.Path
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(p.Status)
		json.NewEncoder(w).Encode(p)
	})
	return s.edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.ErrorContext(r.Context(), "handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusInternalServerError)
				json.NewEncoder(w).Encode(problem.Internal(nil))
			}
		}()
		s.mux.ServeHTTP(w, r)
	}))
}

// allowedMethods lists the methods served at r's path, by asking the mux.
func (s *Server) allowedMethods(r *http.Request) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// setup gives every request a correlation id and its audit state, and logs
// it when done.
func (s *Server) setup(ctx huma.Context, next func(huma.Context)) {
	start := time.Now()
	op := ctx.Operation()
	corr := uuid.Must(uuid.NewV7()).String()
	ctx.SetHeader("X-Correlation-ID", corr)
	ar := &audit.Request{
		Action:        route.Action(op),
		CorrelationID: corr,
		IP:            s.clientIP(ctx),
		UserAgent:     audit.Clean(ctx.Header("User-Agent"), audit.MaxUserAgent),
		Mutating:      op.Method != http.MethodGet && op.Method != http.MethodHead,
	}
	ctx = huma.WithContext(ctx, audit.WithRequest(ctx.Context(), ar))
	done := s.cfg.Metrics.Begin(op.OperationID, isStream(op))
	next(ctx)
	status := ctx.Status()
	if status >= 500 && clientGone(ctx) {
		status = StatusClientClosedRequest // the failure is the client's leaving (issue 7 row 13)
	}
	done(status)
	s.cfg.Audit.Finish(ctx.Context(), status, s.cfg.Logger)
	level := slog.LevelInfo
	if serverFault(status) {
		level = slog.LevelError
	}
	s.cfg.Logger.Log(ctx.Context(), level, "request",
		"method", op.Method, "path", ctx.URL().Path, "operation", op.OperationID,
		"status", status, "duration_ms", time.Since(start).Milliseconds(), "correlation_id", corr)
}

// isStream reports whether op answers with server-sent events.
func isStream(op *huma.Operation) bool {
	r := op.Responses["200"]
	if r == nil {
		return false
	}
	_, ok := r.Content["text/event-stream"]
	return ok
}

// clientIP is the client address the edge resolved (issue 7 row 14).
func (s *Server) clientIP(ctx huma.Context) string {
	if addr, ok := ctx.Context().Value(clientAddrKey{}).(string); ok {
		return addr
	}
	host, _, err := net.SplitHostPort(ctx.RemoteAddr())
	if err != nil {
		return ctx.RemoteAddr()
	}
	return host
}

// limitBody refuses a declared body over the ceiling before reading it.
func (s *Server) limitBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if cl := ctx.Header("Content-Length"); cl != "" && op.MaxBodyBytes > 0 {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= op.MaxBodyBytes {
			s.writeProblem(ctx, problem.Newf(http.StatusRequestEntityTooLarge, "request_body_too_large",
				"The body exceeds this operation's limit of %d bytes.", op.MaxBodyBytes-1))
			return
		}
	}
	next(ctx)
}

// authenticate enforces the operation's declared credential class.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	switch route.ClassOf(ctx.Operation()) {
	case route.Public:
		if ctx.Method() != http.MethodGet && ctx.Method() != http.MethodHead {
			if ok, wait := s.cfg.PublicLimit.Allow(s.clientIP(ctx)); !ok {
				s.writeProblem(ctx, problem.New(http.StatusTooManyRequests, "rate_limited",
					"Too many unauthenticated requests from this address; retry later.").
					WithHeader("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds())))))
				return
			}
		}
		next(ctx)
		return
	case route.Node:
		s.authenticateNode(ctx, next)
		return
	}
	p, perr := s.credential(ctx)
	if perr != nil {
		s.writeProblem(ctx, perr)
		return
	}
	if route.IsSensitive(ctx.Operation()) && s.cfg.StepUp != nil {
		if err := s.cfg.StepUp.RequireStepUp(ctx.Context(), p); err != nil {
			s.writeProblem(ctx, problemOf(err))
			return
		}
	}
	next(huma.WithContext(ctx, principal.With(ctx.Context(), p)))
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != "" && len(tok) <= 512
}

// transform completes every problem on its way out: instance, correlation id,
// the audit code, and the log line for a 5xx cause.
func (s *Server) transform(ctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*problem.Problem); ok {
		s.fill(ctx, p)
	}
	return v, nil
}

func (s *Server) fill(ctx huma.Context, p *problem.Problem) {
	ar := audit.RequestFrom(ctx.Context())
	p.Instance = ctx.URL().Path
	p.CorrelationID = ar.CorrelationID
	if p.Status == http.StatusForbidden && p.Reason == "" {
		// The contract's PermissionDenied requires a reason; a refusal
		// that is not a ReBAC decision (another node's credential, a
		// Domain the caller is not in) is out of the caller's scope.
		p.Reason = "out_of_scope"
	}
	ar.SetCode(p.Code)
	switch {
	case p.Status == StatusClientClosedRequest || p.Status >= 500 && clientGone(ctx):
		s.cfg.Logger.InfoContext(ctx.Context(), "client closed request", "code", p.Code,
			"correlation_id", ar.CorrelationID, "error", p.Cause())
	case serverFault(p.Status):
		s.cfg.Logger.ErrorContext(ctx.Context(), "request failed", "code", p.Code,
			"correlation_id", ar.CorrelationID, "error", p.Cause())
	}
}

// serverFault reports whether status is a failure of this server worth an
// ERROR log: a 5xx other than 501, which answers the contract operations
// not provisioned yet (internal/unserved) and is expected.
func serverFault(status int) bool {
	return status >= 500 && status != http.StatusNotImplemented
}

// clientGone reports whether the client closed the connection.
func clientGone(ctx huma.Context) bool { return errors.Is(ctx.Context().Err(), context.Canceled) }

func (s *Server) writeProblem(ctx huma.Context, p *problem.Problem) {
	s.fill(ctx, p)
	for k, vs := range p.GetHeaders() {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	json.NewEncoder(ctx.BodyWriter()).Encode(p)
}
