package tenancy

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type resourceIDInput struct {
	ID string `path:"id" doc:"Resource id (UUID)."`
}
type listResourcesInput struct {
	ProjectID string `path:"project_id" doc:"Project id (UUID)."`
	page.Params
}
type createResourceInput struct {
	ProjectID string `path:"project_id" doc:"Project id (UUID)."`
	Body      apiv1.CreateResource
}
type resourceOutput struct {
	Location string `header:"Location"`
	Body     apiv1.Resource
}
type resourcesOutput struct{ Body apiv1.List[apiv1.Resource] }

func (s *Service) registerResources(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/projects/{project_id}/resources", "listResources", "resource.list",
		route.Operator, "List a Project's Resources (creation order)", "Tenancy"), s.listResources)
	op := route.Op(http.MethodPost, "/v1/projects/{project_id}/resources", "createResource", "resource.create",
		route.Operator, "Adopt a Resource (provisioning arrives with Blueprints)", "Tenancy")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.createResource)
	huma.Register(api, route.Op(http.MethodGet, "/v1/resources/{id}", "getResource", "resource.read", route.Operator,
		"Read a Resource", "Tenancy"), s.getResource)
	op = route.Op(http.MethodDelete, "/v1/resources/{id}", "deleteResource", "resource.delete", route.Operator,
		"Delete a Resource", "Tenancy")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteResource)
}

const resourceColumns = `id, project_id, domain_id, kind, external_ref, origin, created_at, updated_at`

func scanResource(row interface{ Scan(...any) error }) (apiv1.Resource, error) {
	var (
		r                apiv1.Resource
		created, updated int64
	)
	err := row.Scan(&r.ID, &r.ProjectID, &r.DomainID, &r.Kind, &r.ExternalRef, &r.Origin, &created, &updated)
	r.CreatedAt, r.UpdatedAt = store.Time(created), store.Time(updated)
	return r, err
}

// GetResource reads a Resource without authorization; for other contexts.
func (s *Service) GetResource(ctx context.Context, q store.Querier, id string) (apiv1.Resource, error) {
	return getRow(q.QueryRowContext(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1`, id), scanResource,
		problem.NotFound("resource_not_found", "No such Resource."))
}

func (s *Service) listResources(ctx context.Context, in *listResourcesInput) (*resourcesOutput, error) {
	pid, err := pathid.Parse("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	scope := "resources.list?project_id=" + pid
	var after string
	limit, err := s.pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetProject(ctx, s.db, pid); err != nil {
		return nil, err
	}
	list, err := listPage(ctx, s, scope, limit, scanResource, func(r apiv1.Resource) any { return r.ID },
		`SELECT `+resourceColumns+` FROM resources
		WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3`, pid, after, limit+1)
	if err != nil {
		return nil, err
	}
	return &resourcesOutput{Body: list}, nil
}

func (s *Service) createResource(ctx context.Context, in *createResourceInput) (*resourceOutput, error) {
	pid, err := pathid.Parse("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "resource", "")
	if err := s.authz.Check(ctx, "deploy", "project:"+pid); err != nil {
		return nil, err
	}
	if in.Body.Origin == "provisioned" {
		return nil, problem.NotProvisioned("provisioning")
	}
	now := s.stamp()
	r := apiv1.Resource{ID: uuid.Must(uuid.NewV7()).String(), ProjectID: pid, Kind: in.Body.Kind,
		ExternalRef: in.Body.ExternalRef, Origin: "adopted", CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		p, err := s.GetProject(ctx, tx, pid)
		if err != nil {
			return err
		}
		r.DomainID = p.DomainID
		audit.RequestFrom(ctx).Target(p.DomainID, "resource", r.ID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO resources (`+resourceColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$7)`,
			r.ID, r.ProjectID, r.DomainID, r.Kind, r.ExternalRef, r.Origin, store.Micros(now)); err != nil {
			return err
		}
		if err := s.link(ctx, tx, authz.ObjectRef{Type: authz.TypeResource, ID: r.ID}, "project",
			authz.ObjectRef{Type: authz.TypeProject, ID: pid}, r.DomainID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err = s.synced(ctx, err); err != nil {
		return nil, problem.From(err)
	}
	return &resourceOutput{Location: "/v1/resources/" + r.ID, Body: r}, nil
}

func (s *Service) getResource(ctx context.Context, in *resourceIDInput) (*resourceOutput, error) {
	id, err := pathid.Parse("resource", in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "observe", "resource:"+id); err != nil {
		return nil, err
	}
	r, err := s.GetResource(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	return &resourceOutput{Body: r}, nil
}

func (s *Service) deleteResource(ctx context.Context, in *resourceIDInput) (*struct{}, error) {
	id, err := pathid.Parse("resource", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "resource", id)
	// api.md: project#deploy. The Resource's Project is not known before the
	// check, so check resource#operator, which every project#deploy holder
	// has (deploy = project operator ⊆ resource operator).
	if err := s.authz.Check(ctx, "operator", "resource:"+id); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.GetResource(ctx, tx, id)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(r.DomainID, "resource", id)
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE resource_id = $1 AND revoked_at IS NULL`, id).Scan(&live); err != nil {
			return err
		}
		if live > 0 {
			return problem.Conflict("resource_in_use", "An enrolled node runs on this Resource; decommission it first (DELETE /v1/nodes/{id}).")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM label_assignments WHERE object_kind = 'resource' AND object_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE id = $1`, id); err != nil {
			return err
		}
		if err := s.tuples.RemoveObject(ctx, tx, authz.ObjectRef{Type: authz.TypeResource, ID: id}); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(s.synced(ctx, err))
}
