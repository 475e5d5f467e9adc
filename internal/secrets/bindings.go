package secrets

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/labels"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/selector"
	"github.com/plexsphere/plexsphere/internal/store"
)

// MaxBindings bounds the bindings of one secret.
const MaxBindings = 256

const bindingsPath = secretPath + "/bindings"

type bindingPath struct {
	SecretPathParams
	BindingID string `path:"binding_id" doc:"Binding id (UUID)."`
}
type createBindingInput struct {
	SecretPathParams
	Body apiv1.SecretBindingRequest
}
type bindingOutput struct {
	Body apiv1.SecretBinding
}
type bindingsOutput struct {
	Body apiv1.List[apiv1.SecretBinding]
}

func (s *Service) registerBindings(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, bindingsPath, "ListSecretBindings", "secret.binding.list", route.Operator,
		"Which nodes receive the secret: its bindings and how many nodes each matches", tag), s.listBindings)
	op := route.Op(http.MethodPost, bindingsPath, "CreateSecretBinding", "secret.bind", route.Operator,
		"Deliver the secret to a node, or to the Project's nodes a label selector matches", tag)
	op.DefaultStatus = http.StatusCreated
	op.MaxBodyBytes = 4096
	huma.Register(api, op, s.createBinding)
	op = route.Op(http.MethodDelete, bindingsPath+"/{binding_id}", "DeleteSecretBinding", "secret.unbind", route.Operator,
		"Stop delivering the secret through this binding", tag)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteBinding)
}

func (s *Service) listBindings(ctx context.Context, in *SecretPathParams) (*bindingsOutput, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	if _, err := s.project(ctx, pid, "operator"); err != nil {
		return nil, err
	}
	r, err := loadRow(ctx, s.cfg.DB, pid, name)
	if err != nil {
		return nil, err
	}
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT id, COALESCE(node_id, ''), COALESCE(selector, ''), created_at, created_by
		FROM secret_bindings WHERE secret_id = $1 ORDER BY id`, r.ID)
	if err != nil {
		return nil, problem.Internal(err)
	}
	out := apiv1.List[apiv1.SecretBinding]{Items: []apiv1.SecretBinding{}}
	for rows.Next() {
		var b apiv1.SecretBinding
		var created int64
		if err := rows.Scan(&b.ID, &b.NodeID, &b.Selector, &created, &b.CreatedBy); err != nil {
			rows.Close()
			return nil, problem.Internal(err)
		}
		b.CreatedAt = store.Time(created)
		out.Items = append(out.Items, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	nodes, err := labels.ProjectNodes(ctx, s.cfg.DB, pid)
	if err != nil {
		return nil, problem.Internal(err)
	}
	for i := range out.Items {
		out.Items[i].MatchedNodes = matched(out.Items[i], nodes)
	}
	return &bindingsOutput{Body: out}, nil
}

// matched counts the live nodes b delivers to.
func matched(b apiv1.SecretBinding, nodes map[string]map[string]string) int {
	if b.Selector == "" {
		if _, ok := nodes[b.NodeID]; ok {
			return 1
		}
		return 0
	}
	sel, err := selector.Parse(b.Selector)
	if err != nil {
		return 0
	}
	n := 0
	for _, labels := range nodes {
		if sel.Matches(labels) {
			n++
		}
	}
	return n
}

// checkBinding validates a binding request against the Project.
func checkBinding(ctx context.Context, q store.Querier, pid string, req *apiv1.SecretBindingRequest) error {
	switch {
	case (req.NodeID == "") == (req.Selector == ""):
		return problem.BadRequest(CodeInvalidBinding, "A binding names exactly one of node_id and selector.")
	case req.Selector != "":
		sel, err := selector.Parse(req.Selector)
		if err != nil {
			return problem.BadRequest(CodeInvalidBinding, "selector: "+err.Error())
		}
		if sel.Empty() {
			return problem.BadRequest(CodeInvalidBinding, "An empty selector would match every node; bind nodes by label, e.g. role=db.")
		}
		req.Selector = sel.String()
		return nil
	}
	id, err := uuid.Parse(req.NodeID)
	if err != nil || len(req.NodeID) != 36 {
		return problem.BadRequest(CodeInvalidBinding, "node_id must be a node's UUID.")
	}
	req.NodeID = id.String()
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE id = $1 AND project_id = $2 AND revoked_at IS NULL`,
		req.NodeID, pid).Scan(&n); err != nil {
		return problem.Internal(err)
	}
	if n == 0 {
		return problem.Unprocessable(CodeInvalidBinding, "node_id is not a live node of the secret's Project.")
	}
	return nil
}

func (s *Service) createBinding(ctx context.Context, in *createBindingInput) (*bindingOutput, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "secret", "")
	if _, err := s.project(ctx, pid, "manage"); err != nil {
		return nil, err
	}
	req := in.Body
	if err := checkBinding(ctx, s.cfg.DB, pid, &req); err != nil {
		return nil, err
	}
	by := "system"
	if p := principal.From(ctx); p != nil {
		by = p.Ref()
	}
	b := apiv1.SecretBinding{ID: uuid.Must(uuid.NewV7()).String(), NodeID: req.NodeID, Selector: req.Selector,
		CreatedAt: s.stamp(), CreatedBy: by}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := loadRow(ctx, tx, pid, name)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(r.DomainID, "secret", r.ID)
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_bindings WHERE secret_id = $1`, r.ID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxBindings {
			return problem.Conflict("secret_bindings_limit", "A secret has at most 256 bindings; bind by selector instead.")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO secret_bindings (id, secret_id, project_id, node_id, selector, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, b.ID, r.ID, pid, nullable(b.NodeID), nullable(b.Selector),
			store.Micros(b.CreatedAt), b.CreatedBy); err != nil {
			return err
		}
		v, err := loadView(ctx, tx, pid)
		if err != nil {
			return err
		}
		nodes := v.matched(isBinding(b.ID))
		b.MatchedNodes = len(nodes)
		if err := s.tell(ctx, tx, v, nodes); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &bindingOutput{Body: b}, nil
}

func (s *Service) deleteBinding(ctx context.Context, in *bindingPath) (*struct{}, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "secret", "")
	if _, err := s.project(ctx, pid, "manage"); err != nil {
		return nil, err
	}
	bid, err := uuid.Parse(in.BindingID)
	if err != nil {
		return nil, problem.NotFound(CodeBindingNotFound, "No such binding of this secret.")
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := loadRow(ctx, tx, pid, name)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(r.DomainID, "secret", r.ID)
		v, err := loadView(ctx, tx, pid)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM secret_bindings WHERE id = $1 AND secret_id = $2`, bid.String(), r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.NotFound(CodeBindingNotFound, "No such binding of this secret.")
		}
		if err := s.tell(ctx, tx, v.without(isBinding(bid.String())), v.matched(isBinding(bid.String()))); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return nil, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
