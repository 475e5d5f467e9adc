package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// healthOutput is always 200: the contract's GetHealth answers a failing
// dependency as status "down" in a 200 body (a 503 would not decode in a
// client generated from it); probes read status.
type healthOutput struct {
	Body apiv1.Health
}

type versionOutput struct{ Body apiv1.Version }

type openAPIOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func (s *Server) registerMeta() {
	huma.Register(s.API, route.Op(http.MethodGet, "/v1/health", "getHealth", "meta.health", route.Public,
		"Process and dependency health", "Meta"), s.health)
	// Our addition for load balancers and orchestrators, which read only
	// the status code: the same checks as getHealth, 503 when one fails.
	huma.Register(s.API, route.Op(http.MethodGet, "/v1/health/ready", "getReadiness", "meta.readiness", route.Public,
		"Readiness probe: 200 when every dependency check passes, else 503", "Meta"), s.ready)
	huma.Register(s.API, route.Op(http.MethodGet, "/v1/version", "getVersion", "meta.version", route.Public,
		"Build information", "Meta"), func(context.Context, *struct{}) (*versionOutput, error) {
		return &versionOutput{Body: s.cfg.Version}, nil
	})
	huma.Register(s.API, route.Op(http.MethodGet, "/v1/openapi.json", "getOpenAPI", "meta.openapi", route.Public,
		"The generated OpenAPI 3.1 document", "Meta"), func(context.Context, *struct{}) (*openAPIOutput, error) {
		b, err := json.Marshal(s.API.OpenAPI())
		if err != nil {
			return nil, err
		}
		return &openAPIOutput{ContentType: "application/json", Body: b}, nil
	})
}

// ready answers like health, but a failing check is 503 not_ready with the
// same body fields, so probes that read only the status code see it.
func (s *Server) ready(ctx context.Context, in *struct{}) (*healthOutput, error) {
	out, _ := s.health(ctx, in)
	if out.Body.Status != "ok" {
		return nil, problem.New(http.StatusServiceUnavailable, "not_ready",
			"A dependency check failed; GET /v1/health names it.").WithHeader("Retry-After", "5")
	}
	return out, nil
}

func (s *Server) health(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	out := &healthOutput{Body: apiv1.Health{Status: "ok", Checks: []apiv1.HealthCheck{}}}
	for _, c := range s.cfg.Checks {
		// detail is required by the contract: a short, fixed text, never
		// the error (which may name hosts or credentials; it is logged).
		hc := apiv1.HealthCheck{Name: c.Name, Status: "ok", Detail: "check passed"}
		if err := c.Run(ctx); err != nil {
			hc.Status, hc.Detail = "down", "check failed"
			out.Body.Status = "down"
			s.cfg.Logger.ErrorContext(ctx, "health check failed", "check", c.Name, "error", err)
		}
		out.Body.Checks = append(out.Body.Checks, hc)
	}
	return out, nil
}
