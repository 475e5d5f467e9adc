package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/netip"
	"strconv"

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

type projectIDInput struct {
	ID string `path:"id" doc:"Project id (UUID)."`
}
type listProjectsInput struct {
	page.Params
	DomainID string `query:"domain_id" doc:"Only the Projects of this Domain."`
}
type createProjectInput struct{ Body apiv1.CreateProject }
type patchProjectInput struct {
	ID   string `path:"id" doc:"Project id (UUID)."`
	Body apiv1.PatchProject
}
type projectOutput struct {
	Location string `header:"Location"`
	Body     apiv1.Project
}
type projectsOutput struct{ Body apiv1.List[apiv1.Project] }

// projectPos is the keyset position of the project list (slug, then id).
type projectPos struct {
	Slug string `json:"s"`
	ID   string `json:"i"`
}

func (s *Service) registerProjects(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/projects", "listProjects", "project.list", route.Operator,
		"List Projects (slug order)", "Tenancy"), s.listProjects)
	op := route.Op(http.MethodPost, "/v1/projects", "createProject", "project.create", route.Operator, "Create a Project", "Tenancy")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.createProject)
	huma.Register(api, route.Op(http.MethodGet, "/v1/projects/{id}", "getProject", "project.read", route.Operator,
		"Read a Project", "Tenancy"), s.getProject)
	huma.Register(api, route.Op(http.MethodPatch, "/v1/projects/{id}", "patchProject", "project.update", route.Operator,
		"Change a Project's name, description or sub-range", "Tenancy"), s.patchProject)
	op = route.Op(http.MethodDelete, "/v1/projects/{id}", "deleteProject", "project.delete", route.Operator,
		"Delete an empty Project", "Tenancy")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteProject)
}

const projectColumns = `id, domain_id, slug, name, description, sub_range_cidr, created_at, updated_at`

func scanProject(row interface{ Scan(...any) error }) (apiv1.Project, error) {
	var (
		p                apiv1.Project
		created, updated int64
	)
	err := row.Scan(&p.ID, &p.DomainID, &p.Slug, &p.Name, &p.Description, &p.SubRangeCIDR, &created, &updated)
	p.CreatedAt, p.UpdatedAt = store.Time(created), store.Time(updated)
	return p, err
}

// GetProject reads a Project without authorization; for other contexts.
func (s *Service) GetProject(ctx context.Context, q store.Querier, id string) (apiv1.Project, error) {
	return getRow(q.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = $1`, id), scanProject,
		problem.NotFound("project_not_found", "No such Project."))
}

func (s *Service) listProjects(ctx context.Context, in *listProjectsInput) (*projectsOutput, error) {
	scope := "projects.list?domain_id=" + in.DomainID
	args := []any{}
	where := ""
	if in.DomainID != "" {
		id, err := pathid.Parse("domain", in.DomainID)
		if err != nil {
			// The contract's code for a malformed filter (issue 8).
			return nil, problem.BadRequest("invalid_domain_filter", "domain_id must be a UUID.")
		}
		if err := s.authz.Check(ctx, "read", "domain:"+id); err != nil {
			return nil, err
		}
		args = append(args, id)
		where = " AND domain_id = $1"
	}
	var pos projectPos
	limit, err := s.pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	n := len(args)
	args = append(args, pos.Slug, pos.ID, limit+1)
	list, err := listPage(ctx, s, scope, limit, scanProject, func(p apiv1.Project) any { return projectPos{p.Slug, p.ID} },
		`SELECT `+projectColumns+` FROM projects
		WHERE (slug > $`+strconv.Itoa(n+1)+` OR (slug = $`+strconv.Itoa(n+1)+` AND id > $`+strconv.Itoa(n+2)+`))`+where+`
		ORDER BY slug, id LIMIT $`+strconv.Itoa(n+3), args...)
	if err != nil {
		return nil, err
	}
	if err := keepVisible(ctx, s.authz, "read", &list, func(p apiv1.Project) string { return "project:" + p.ID }); err != nil {
		return nil, err
	}
	return &projectsOutput{Body: list}, nil
}

func (s *Service) createProject(ctx context.Context, in *createProjectInput) (*projectOutput, error) {
	b := in.Body
	domainID, err := pathid.Parse("domain", b.DomainID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(domainID, "project", "")
	if err := s.authz.Check(ctx, "manage", "domain:"+domainID); err != nil {
		return nil, err
	}
	now := s.stamp()
	p := apiv1.Project{ID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID, Name: b.Name, Slug: b.Slug,
		Description: b.Description, CreatedAt: now, UpdatedAt: now}
	audit.RequestFrom(ctx).Target(domainID, "project", p.ID)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		d, err := s.GetDomain(ctx, tx, domainID)
		if pr := (*problem.Problem)(nil); errors.As(err, &pr) && pr.Code == "domain_not_found" {
			// The contract's code on CreateProject (issue 8).
			return problem.Conflict("parent_domain_missing", "No such Domain to hold the Project.")
		}
		if err != nil {
			return err
		}
		if b.SubRangeCIDR != "" {
			if p.SubRangeCIDR, err = s.checkSubRange(ctx, tx, d, "", b.SubRangeCIDR); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO projects (`+projectColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$7)`,
			p.ID, p.DomainID, p.Slug, p.Name, p.Description, p.SubRangeCIDR, store.Micros(now))
		if store.IsUniqueViolation(err) {
			return problem.Conflict("project_slug_conflict", "The Domain already has a Project with slug "+p.Slug+".")
		}
		if err != nil {
			return err
		}
		if err := s.link(ctx, tx, authz.ObjectRef{Type: authz.TypeProject, ID: p.ID}, "domain",
			authz.ObjectRef{Type: authz.TypeDomain, ID: domainID}, domainID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err = s.synced(ctx, err); err != nil {
		return nil, problem.From(err)
	}
	return &projectOutput{Location: "/v1/projects/" + p.ID, Body: p}, nil
}

// checkSubRange validates a Project sub-range against its Domain pool and its
// siblings (locking the Domain row so sibling checks serialise).
func (s *Service) checkSubRange(ctx context.Context, tx *sql.Tx, d apiv1.Domain, self, cidr string) (string, error) {
	sub, err := parseCIDR("sub_range_cidr", cidr)
	if err != nil {
		return "", err
	}
	pool, _ := netip.ParsePrefix(d.MeshCIDR)
	if !contains(pool, sub) {
		return "", problem.BadRequest("invalid_project", "sub_range_cidr must lie inside the Domain's mesh_cidr "+d.MeshCIDR+".")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE domains SET updated_at = updated_at WHERE id = $1`, d.ID); err != nil {
		return "", err
	}
	subs, err := s.subRanges(ctx, tx, d.ID, self)
	if err != nil {
		return "", err
	}
	for slug, other := range subs {
		if overlaps(sub, other) {
			return "", problem.Conflict("sub_range_overlap", "sub_range_cidr overlaps Project "+slug+" ("+other.String()+").")
		}
	}
	return sub.String(), nil
}

// subRanges returns the sub-ranges of a Domain's Projects by slug, except self.
func (s *Service) subRanges(ctx context.Context, q store.Querier, domainID, self string) (map[string]netip.Prefix, error) {
	rows, err := q.QueryContext(ctx, `SELECT slug, sub_range_cidr FROM projects
		WHERE domain_id = $1 AND sub_range_cidr <> '' AND id <> $2`, domainID, self)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]netip.Prefix{}
	for rows.Next() {
		var slug, cidr string
		if err := rows.Scan(&slug, &cidr); err != nil {
			return nil, err
		}
		if p, err := netip.ParsePrefix(cidr); err == nil {
			out[slug] = p
		}
	}
	return out, rows.Err()
}

func (s *Service) getProject(ctx context.Context, in *projectIDInput) (*projectOutput, error) {
	id, err := pathid.Parse("project", in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "read", "project:"+id); err != nil {
		return nil, err
	}
	p, err := s.GetProject(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: p}, nil
}

func (s *Service) patchProject(ctx context.Context, in *patchProjectInput) (*projectOutput, error) {
	id, err := pathid.Parse("project", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "project", id)
	if err := s.authz.Check(ctx, "manage", "project:"+id); err != nil {
		return nil, err
	}
	b := in.Body
	switch {
	case b.Slug != nil:
		return nil, problem.BadRequest("slug_immutable", "A Project's slug cannot change.")
	case b == apiv1.PatchProject{}:
		return nil, problem.BadRequest("empty_patch", "The patch changes nothing.")
	case b.ReleaseSubRange != nil && *b.ReleaseSubRange && b.SubRangeCIDR != nil:
		return nil, problem.Unprocessable("sub_range_invalidates_allocation", "release_sub_range and sub_range_cidr exclude each other.")
	}
	var p apiv1.Project
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if p, err = s.GetProject(ctx, tx, id); err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(p.DomainID, "project", id)
		if err := s.applyProjectPatch(ctx, tx, &p, b); err != nil {
			return err
		}
		p.UpdatedAt = s.stamp()
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET name=$2, description=$3, sub_range_cidr=$4, updated_at=$5
			WHERE id=$1`, p.ID, p.Name, p.Description, p.SubRangeCIDR, store.Micros(p.UpdatedAt)); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &projectOutput{Body: p}, nil
}

func (s *Service) applyProjectPatch(ctx context.Context, tx *sql.Tx, p *apiv1.Project, b apiv1.PatchProject) error {
	if b.Name != nil {
		p.Name = *b.Name
	}
	if b.Description != nil {
		p.Description = *b.Description
	}
	if b.ReleaseSubRange != nil && *b.ReleaseSubRange {
		p.SubRangeCIDR = ""
	}
	if b.SubRangeCIDR != nil {
		d, err := s.GetDomain(ctx, tx, p.DomainID)
		if err != nil {
			return err
		}
		if p.SubRangeCIDR, err = s.checkSubRange(ctx, tx, d, p.ID, *b.SubRangeCIDR); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) deleteProject(ctx context.Context, in *projectIDInput) (*struct{}, error) {
	id, err := pathid.Parse("project", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "project", id)
	if err := s.authz.Check(ctx, "manage", "project:"+id); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		p, err := s.GetProject(ctx, tx, id)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(p.DomainID, "project", id)
		var c apiv1.ProjectCounts
		if err := tx.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM resources WHERE project_id = $1),
			(SELECT COUNT(*) FROM nodes WHERE project_id = $1 AND revoked_at IS NULL),
			(SELECT COUNT(*) FROM relation_tuples WHERE project_id = $1 AND structural = FALSE),
			(SELECT COUNT(*) FROM policies WHERE project_id = $1)`, id).
			Scan(&c.Resources, &c.Nodes, &c.RelationTuples, &c.Policies); err != nil {
			return err
		}
		if c != (apiv1.ProjectCounts{}) {
			pr := problem.Conflict("project_not_empty", "Delete the Project's children first.")
			pr.ProjectCounts = &c
			return pr
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM label_assignments WHERE object_kind = 'project' AND object_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE id = $1`, id); err != nil {
			return err
		}
		if err := s.tuples.RemoveObject(ctx, tx, authz.ObjectRef{Type: authz.TypeProject, ID: id}); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(s.synced(ctx, err))
}
