package tenancy

import (
	"context"
	"database/sql"
	"net/http"
	"net/netip"

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
	"github.com/plexsphere/plexsphere/internal/tuples"
)

type domainIDInput struct {
	ID string `path:"id" doc:"Domain id (UUID)."`
}
type listDomainsInput struct{ page.Params }
type createDomainInput struct{ Body apiv1.CreateDomain }
type patchDomainInput struct {
	ID   string `path:"id" doc:"Domain id (UUID)."`
	Body apiv1.PatchDomain
}
type domainOutput struct {
	Location string `header:"Location"`
	Body     apiv1.Domain
}
type domainsOutput struct{ Body apiv1.List[apiv1.Domain] }

func (s *Service) registerDomains(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains", "listDomains", "domain.list", route.Operator,
		"List Domains (slug order)", "Tenancy"), s.listDomains)
	op := route.Op(http.MethodPost, "/v1/domains", "createDomain", "domain.create", route.Operator, "Create a Domain", "Tenancy")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.createDomain)
	huma.Register(api, route.Op(http.MethodGet, "/v1/domains/{id}", "getDomain", "domain.read", route.Operator,
		"Read a Domain", "Tenancy"), s.getDomain)
	huma.Register(api, route.Op(http.MethodPatch, "/v1/domains/{id}", "patchDomain", "domain.update", route.Operator,
		"Change a Domain's name, description, region, mesh_cidr or reachability", "Tenancy"), s.patchDomain)
	op = route.Op(http.MethodDelete, "/v1/domains/{id}", "deleteDomain", "domain.delete", route.Operator,
		"Delete an empty Domain", "Tenancy")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteDomain)
}

const domainColumns = `id, slug, name, description, region, mesh_cidr, heartbeat_interval, stale_after, unreachable_after, created_at, updated_at`

func scanDomain(row interface{ Scan(...any) error }) (apiv1.Domain, error) {
	var (
		d                apiv1.Domain
		created, updated int64
	)
	err := row.Scan(&d.ID, &d.Slug, &d.Name, &d.Description, &d.Region, &d.MeshCIDR,
		&d.Reachability.HeartbeatInterval, &d.Reachability.StaleAfter, &d.Reachability.UnreachableAfter, &created, &updated)
	d.CreatedAt, d.UpdatedAt = store.Time(created), store.Time(updated)
	return d, err
}

// GetDomain reads a Domain without authorization; for other contexts.
func (s *Service) GetDomain(ctx context.Context, q store.Querier, id string) (apiv1.Domain, error) {
	return getRow(q.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM domains WHERE id = $1`, id), scanDomain,
		problem.NotFound("domain_not_found", "No such Domain."))
}

func (s *Service) listDomains(ctx context.Context, in *listDomainsInput) (*domainsOutput, error) {
	var after string
	limit, err := s.pages.Start(ctx, in.Params, "domains.list", &after)
	if err != nil {
		return nil, err
	}
	list, err := listPage(ctx, s, "domains.list", limit, scanDomain, func(d apiv1.Domain) any { return d.Slug },
		`SELECT `+domainColumns+` FROM domains WHERE slug > $1 ORDER BY slug LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, err
	}
	if err := keepVisible(ctx, s.authz, "read", &list, func(d apiv1.Domain) string { return "domain:" + d.ID }); err != nil {
		return nil, err
	}
	return &domainsOutput{Body: list}, nil
}

func (s *Service) createDomain(ctx context.Context, in *createDomainInput) (*domainOutput, error) {
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "domain", "")
	if err := s.authz.Check(ctx, "manage", "platform:platform"); err != nil {
		return nil, err
	}
	b := in.Body
	pool, err := parseCIDR("mesh_cidr", b.MeshCIDR)
	if err != nil {
		return nil, err
	}
	reach, err := reachability(b.Reachability)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	d := apiv1.Domain{ID: uuid.Must(uuid.NewV7()).String(), Name: b.Name, Slug: b.Slug, Description: b.Description,
		Region: b.Region, MeshCIDR: pool.String(), Reachability: reach, CreatedAt: now, UpdatedAt: now}
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "domain", d.ID)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.checkPoolLocked(ctx, tx, "", pool); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO domains (`+domainColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10)`,
			d.ID, d.Slug, d.Name, d.Description, d.Region, d.MeshCIDR, reach.HeartbeatInterval, reach.StaleAfter,
			reach.UnreachableAfter, store.Micros(now))
		if store.IsUniqueViolation(err) {
			return problem.Conflict("domain_slug_conflict", "A Domain with slug "+d.Slug+" already exists.")
		}
		if err != nil {
			return err
		}
		if err := s.seedDomainTuples(ctx, tx, d.ID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err = s.synced(ctx, err); err != nil {
		return nil, problem.From(err)
	}
	return &domainOutput{Location: "/v1/domains/" + d.ID, Body: d}, nil
}

// seedDomainTuples links a new Domain to the platform and makes its creator
// the Domain's admin (api.md §3.1: the creator's owner tuple).
func (s *Service) seedDomainTuples(ctx context.Context, tx *sql.Tx, id string) error {
	dom := authz.ObjectRef{Type: authz.TypeDomain, ID: id}
	if err := s.link(ctx, tx, dom, "platform", authz.Platform, id); err != nil {
		return err
	}
	who, ok := caller(ctx)
	if !ok {
		return nil
	}
	_, err := s.tuples.WriteRows(ctx, tx, []tuples.Row{{
		Tuple: authz.Tuple{Resource: dom, Relation: "admin", Subject: who}, DomainID: id,
	}}, nil, false)
	return err
}

// checkPoolLocked takes the platform row lock (so pool checks serialise) and
// refuses a pool that overlaps another Domain's.
func (s *Service) checkPoolLocked(ctx context.Context, tx *sql.Tx, self string, pool netip.Prefix) error {
	if _, err := tx.ExecContext(ctx, `UPDATE platform SET name = name WHERE id = 'platform'`); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, slug, mesh_cidr FROM domains WHERE id <> $1`, self)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, slug, cidr string
		if err := rows.Scan(&id, &slug, &cidr); err != nil {
			return err
		}
		if other, err := netip.ParsePrefix(cidr); err == nil && overlaps(pool, other) {
			return problem.Conflict("mesh_cidr_overlap", "mesh_cidr "+pool.String()+" overlaps Domain "+slug+" ("+cidr+").")
		}
	}
	return rows.Err()
}

func (s *Service) getDomain(ctx context.Context, in *domainIDInput) (*domainOutput, error) {
	id, err := pathid.Parse("domain", in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "read", "domain:"+id); err != nil {
		return nil, err
	}
	d, err := s.GetDomain(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	return &domainOutput{Body: d}, nil
}

func (s *Service) patchDomain(ctx context.Context, in *patchDomainInput) (*domainOutput, error) {
	id, err := pathid.Parse("domain", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(id, "domain", id)
	if err := s.authz.Check(ctx, "manage", "domain:"+id); err != nil {
		return nil, err
	}
	b := in.Body
	switch {
	case b.Slug != nil:
		return nil, problem.BadRequest("slug_immutable", "A Domain's slug cannot change.")
	case b == apiv1.PatchDomain{}:
		return nil, problem.BadRequest("empty_patch", "The patch changes nothing.")
	}
	var d apiv1.Domain
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if d, err = s.GetDomain(ctx, tx, id); err != nil {
			return err
		}
		if err := s.applyDomainPatch(ctx, tx, &d, b); err != nil {
			return err
		}
		d.UpdatedAt = s.stamp()
		_, err := tx.ExecContext(ctx, `UPDATE domains SET name=$2, description=$3, region=$4, mesh_cidr=$5,
			heartbeat_interval=$6, stale_after=$7, unreachable_after=$8, updated_at=$9 WHERE id=$1`,
			d.ID, d.Name, d.Description, d.Region, d.MeshCIDR, d.Reachability.HeartbeatInterval,
			d.Reachability.StaleAfter, d.Reachability.UnreachableAfter, store.Micros(d.UpdatedAt))
		if err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &domainOutput{Body: d}, nil
}

func (s *Service) applyDomainPatch(ctx context.Context, tx *sql.Tx, d *apiv1.Domain, b apiv1.PatchDomain) error {
	if b.Name != nil {
		d.Name = *b.Name
	}
	if b.Description != nil {
		d.Description = *b.Description
	}
	if b.Region != nil {
		d.Region = *b.Region
	}
	if b.Reachability != nil {
		r, err := reachability(b.Reachability)
		if err != nil {
			return err
		}
		d.Reachability = r
	}
	if b.MeshCIDR == nil {
		return nil
	}
	pool, err := parseCIDR("mesh_cidr", *b.MeshCIDR)
	if err != nil {
		return err
	}
	if err := s.checkPoolLocked(ctx, tx, d.ID, pool); err != nil {
		return err
	}
	subs, err := s.subRanges(ctx, tx, d.ID, "")
	if err != nil {
		return err
	}
	for slug, sub := range subs {
		if !contains(pool, sub) {
			return problem.Unprocessable("mesh_cidr_invalidates_subrange",
				"Project "+slug+"'s sub-range "+sub.String()+" would fall outside "+pool.String()+".")
		}
	}
	d.MeshCIDR = pool.String()
	return nil
}

func (s *Service) deleteDomain(ctx context.Context, in *domainIDInput) (*struct{}, error) {
	id, err := pathid.Parse("domain", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "domain", id)
	if err := s.authz.Check(ctx, "manage", "domain:"+id); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.GetDomain(ctx, tx, id); err != nil {
			return err
		}
		var c apiv1.ChildCounts
		// The delete guard reads the other contexts' tables directly: one
		// consistent count inside this transaction, no cross-context calls.
		err := tx.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM projects WHERE domain_id = $1),
			(SELECT COUNT(*) FROM principal_groups WHERE domain_id = $1),
			(SELECT COUNT(*) FROM identities WHERE domain_id = $1),
			(SELECT COUNT(*) FROM idp_bindings WHERE domain_id = $1),
			(SELECT COUNT(*) FROM nodes WHERE domain_id = $1 AND revoked_at IS NULL)`, id).
			Scan(&c.Projects, &c.Groups, &c.Identities, &c.IdPBindings, &c.Nodes)
		if err != nil {
			return err
		}
		if c != (apiv1.ChildCounts{}) {
			p := problem.Conflict("domain_not_empty", "Delete the Domain's children first.")
			p.ChildCounts = &c
			return p
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM label_assignments WHERE object_kind = 'domain' AND object_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE id = $1`, id); err != nil {
			return err
		}
		if err := s.tuples.RemoveObject(ctx, tx, authz.ObjectRef{Type: authz.TypeDomain, ID: id}); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(s.synced(ctx, err))
}
