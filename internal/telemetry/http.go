package telemetry

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/plexsphere/plexsphere/internal/route"
)

// Authorizer checks a permission on an object (the guard).
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// Path is where the exposition is served.
const Path = "/metrics"

// Register serves GET /metrics to callers with platform#auditor (the
// series name every Domain's chain): a Prometheus server scrapes it with a
// service identity's token (authorization: credentials_file).
func (m *Metrics) Register(api huma.API, authz Authorizer) {
	op := route.Op(http.MethodGet, Path, "GetMetrics", "metrics.read", route.Operator,
		"Ours: plexsphere's own telemetry in the Prometheus exposition format", "Observability")
	op.Description = "Requests and latency per operation, open event streams, event fan-out latency, audit chain " +
		"lengths, Go runtime and process series. Needs platform#auditor."
	op.Responses = map[string]*huma.Response{"200": {Description: "Prometheus text exposition (or OpenMetrics when asked).",
		Content: map[string]*huma.MediaType{"text/plain": {}}}}
	huma.Register(api, op, func(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
		if err := authz.Check(ctx, "auditor", "platform:platform"); err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			r, w := humago.Unwrap(hctx)
			m.Handler().ServeHTTP(w, r)
		}}, nil
	})
}
