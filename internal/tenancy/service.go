package tenancy

import (
	"context"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Authorizer is the authorization this context needs: a check before any
// read, and per-row visibility for lists.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// Config configures the Service.
type Config struct {
	DB    *store.DB
	Audit *audit.Log
	Authz Authorizer
	Pages *page.Codec
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves Domains, Projects and Resources.
type Service struct {
	db    *store.DB
	audit *audit.Log
	authz Authorizer
	pages *page.Codec
	now   func() time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("tenancy: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("tenancy: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("tenancy: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("tenancy: Config.Pages is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, now: cfg.Now}, nil
}

// Register adds every tenancy operation to api.
func (s *Service) Register(api huma.API) {
	s.registerDomains(api)
	s.registerProjects(api)
	s.registerResources(api)
}

// stamp is the current time, truncated to what the database keeps.
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// visibleRows drops the items the caller may not see with permission.
func visibleRows[T any](ctx context.Context, a Authorizer, permission string, items []T, object func(T) string) ([]T, error) {
	objs := make([]string, len(items))
	for i, it := range items {
		objs[i] = object(it)
	}
	ok, err := a.Visible(ctx, permission, objs)
	if err != nil {
		return nil, err
	}
	out := items[:0]
	for i, it := range items {
		if ok[i] {
			out = append(out, it)
		}
	}
	return out, nil
}
