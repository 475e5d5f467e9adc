package policy

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type listRevisionsInput struct {
	PolicyPath
	page.Params
}
type revisionInput struct {
	PolicyPath
	RevisionID string `path:"revision_id" doc:"Revision id (UUID); one of another Policy is 404 revision_not_visible."`
}
type diffInput struct {
	PolicyPath
	FromRevision string `query:"from_revision" required:"true" doc:"The source revision."`
	ToRevision   string `query:"to_revision" required:"true" doc:"The target revision."`
}
type dryRunInput struct {
	PolicyPath
	RawBody []byte
}

// revisionPos is a position in a revision list.
type revisionPos struct {
	At int64  `json:"t"`
	ID string `json:"i"`
}

type revisionOutput struct{ Body apiv1.PolicyRevision }
type revisionsOutput struct {
	Body apiv1.List[apiv1.PolicyRevision]
}
type diffOutput struct{ Body apiv1.PolicyDiff }
type dryRunOutput struct{ Body apiv1.PolicyDryRunResponse }

func (s *Service) registerRevisions(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, policyPath+"/revisions", "ListPolicyRevisions", "policy.revisions.list",
		route.Operator, "List a Policy's revisions (newest first)", tag), s.listRevisions)
	huma.Register(api, route.Op(http.MethodGet, policyPath+"/revisions/{revision_id}", "GetPolicyRevision",
		"policy.revisions.read", route.Operator, "Read one revision of a Policy", tag), s.getRevision)
	huma.Register(api, route.Op(http.MethodGet, policyPath+"/diff", "DiffPolicyRevisions", "policy.diff",
		route.Operator, "Diff two revisions of a Policy (canonical: reordering is no change)", tag), s.diff)
	op := route.Op(http.MethodPost, policyPath+"/dry-run", "DryRunPolicy", "policy.dry_run", route.Operator,
		"Evaluate a candidate revision without saving it", tag)
	bodyOp(api, &op, reflect.TypeFor[apiv1.PolicyDryRunRequest]())
	huma.Register(api, op, s.dryRunPolicy)
}

// readable checks policy#read and loads the Policy of the path.
func (s *Service) readable(ctx context.Context, in PolicyPath, permission string) (row, error) {
	pid, id, err := in.ids()
	if err != nil {
		return row{}, err
	}
	if err := s.cfg.Authz.Check(ctx, permission, "policy:"+id); err != nil {
		return row{}, err
	}
	return loadPolicy(ctx, s.cfg.DB, pid, id)
}

func (s *Service) listRevisions(ctx context.Context, in *listRevisionsInput) (*revisionsOutput, error) {
	r, err := s.readable(ctx, in.PolicyPath, "read")
	if err != nil {
		return nil, err
	}
	scope := "policy.revisions?policy_id=" + r.ID
	var pos revisionPos
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	// Newest first: by creation time, then id (UUIDv7), both descending.
	q := `SELECT ` + revisionColumns + ` FROM policy_revisions WHERE policy_id = $1`
	args := []any{r.ID}
	if pos.ID != "" {
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4`
		args = append(args, pos.At, pos.ID, limit+1)
	} else {
		q += ` ORDER BY created_at DESC, id DESC LIMIT $2`
		args = append(args, limit+1)
	}
	rows, err := s.cfg.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	list := apiv1.List[apiv1.PolicyRevision]{Items: []apiv1.PolicyRevision{}}
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		list.Items = append(list.Items, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(list.Items) > limit {
		list.Items = list.Items[:limit]
		last := list.Items[limit-1]
		if list.NextCursor, err = s.cfg.Pages.Next(ctx, scope, revisionPos{store.Micros(last.CreatedAt), last.ID}); err != nil {
			return nil, err
		}
	}
	return &revisionsOutput{Body: list}, nil
}

func (s *Service) getRevision(ctx context.Context, in *revisionInput) (*revisionOutput, error) {
	r, err := s.readable(ctx, in.PolicyPath, "read")
	if err != nil {
		return nil, err
	}
	rid, err := ParseID("revision", in.RevisionID)
	if err != nil {
		return nil, err
	}
	rev, err := loadRevision(ctx, s.cfg.DB, r.ID, rid)
	if err != nil {
		return nil, err
	}
	return &revisionOutput{Body: rev}, nil
}

func (s *Service) diff(ctx context.Context, in *diffInput) (*diffOutput, error) {
	r, err := s.readable(ctx, in.PolicyPath, "read")
	if err != nil {
		return nil, err
	}
	fromID, err := ParseID("revision", in.FromRevision)
	if err != nil {
		return nil, err
	}
	toID, err := ParseID("revision", in.ToRevision)
	if err != nil {
		return nil, err
	}
	from, err := loadRevision(ctx, s.cfg.DB, r.ID, fromID)
	if err != nil {
		return nil, err
	}
	to, err := loadRevision(ctx, s.cfg.DB, r.ID, toID)
	if err != nil {
		return nil, err
	}
	return &diffOutput{Body: Diff(from, to)}, nil
}

// dryRunPolicy evaluates a candidate against the Domain as it is now:
// nothing is written, no event is emitted (the request's own audit entry
// is the middleware's, as for every read).
func (s *Service) dryRunPolicy(ctx context.Context, in *dryRunInput) (*dryRunOutput, error) {
	r, err := s.readable(ctx, in.PolicyPath, "edit")
	if err != nil {
		return nil, err
	}
	d, err := DecodeDryRun(in.RawBody)
	if err != nil {
		return nil, err
	}
	head, err := loadRevision(ctx, s.cfg.DB, r.ID, r.HeadRevisionID)
	if err != nil {
		return nil, problem.From(err)
	}
	out, err := s.dryRun(ctx, r.DomainID, r.ProjectID, r.ID, head, d)
	if err != nil {
		return nil, err
	}
	return &dryRunOutput{Body: out}, nil
}
