package deliver

import (
	"context"
	"database/sql"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/policy/compile"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// PolicyDefault is the body and answer of the Domain default operations
// (ours, an addition to the contract): the default for nodes no policy
// covers (docs/design/0006-policy.md, "Default").
type PolicyDefault struct {
	PolicyDefault string `json:"policy_default" enum:"deny,allow" doc:"deny (new Domains) or allow (the allow-all bootstrap mode)."`
}

type defaultInput struct {
	DomainID string `path:"domainId" doc:"Domain id (UUID)."`
}

type putDefaultInput struct {
	DomainID string `path:"domainId" doc:"Domain id (UUID)."`
	Body     PolicyDefault
}

type defaultOutput struct{ Body PolicyDefault }

// Register adds GET and PUT /v1/domains/{domainId}/policy-default; it
// needs Config.Authz and Config.Audit.
func (s *Service) Register(api huma.API) error {
	if s.cfg.Authz == nil || s.cfg.Audit == nil {
		return errors.New("deliver: Register needs Config.Authz and Config.Audit")
	}
	const path = "/v1/domains/{domainId}/policy-default"
	huma.Register(api, route.Op(http.MethodGet, path, "getDomainPolicyDefault", "policy.default.read", route.Operator,
		"Read the Domain's default for nodes no policy covers", "Policies"), s.getDefault)
	op := route.Op(http.MethodPut, path, "setDomainPolicyDefault", "policy.default.update", route.Operator,
		"Set the Domain's default for nodes no policy covers (deny, or allow-all bootstrap)", "Policies")
	op.MaxBodyBytes = 1 << 10
	huma.Register(api, op, s.putDefault)
	return nil
}

func domainID(v string) (string, error) {
	u, err := uuid.Parse(v)
	if err != nil || u == uuid.Nil || len(v) != 36 {
		return "", problem.BadRequest("invalid_domain_id", "The domain id must be a UUID.")
	}
	return u.String(), nil
}

func (s *Service) getDefault(ctx context.Context, in *defaultInput) (*defaultOutput, error) {
	id, err := domainID(in.DomainID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "domain-view", "domain:"+id); err != nil {
		return nil, err
	}
	var m string
	err = s.cfg.DB.QueryRowContext(ctx, `SELECT policy_default FROM domains WHERE id = $1`, id).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound("domain_not_found", "No such Domain.")
	}
	if err != nil {
		return nil, problem.From(err)
	}
	return &defaultOutput{Body: PolicyDefault{PolicyDefault: m}}, nil
}

func (s *Service) putDefault(ctx context.Context, in *putDefaultInput) (*defaultOutput, error) {
	id, err := domainID(in.DomainID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(id, "domain", id)
	if err := s.cfg.Authz.Check(ctx, "manage", "domain:"+id); err != nil {
		return nil, err
	}
	m := compile.Mode(in.Body.PolicyDefault)
	if !m.Valid() {
		return nil, problem.Unprocessable("policy_default_invalid", `policy_default must be "deny" or "allow".`)
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE id = $1`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return problem.NotFound("domain_not_found", "No such Domain.")
		}
		if err := s.SetMode(ctx, tx, id, m); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &defaultOutput{Body: PolicyDefault{PolicyDefault: string(m)}}, nil
}
