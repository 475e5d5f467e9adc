package labels

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type listDefinitionsInput struct {
	page.Params
	Scope string `query:"scope" required:"true" maxLength:"128" doc:"The scope to list: platform, domain:<uuid> or project:<uuid>."`
}
type createDefinitionInput struct{ Body apiv1.CreateLabelDefinition }
type definitionIDInput struct {
	ID string `path:"id" doc:"Label Definition id (UUID)."`
}
type definitionOutput struct {
	Location string `header:"Location"`
	Body     apiv1.LabelDefinition
}
type definitionsOutput struct {
	Body apiv1.List[apiv1.LabelDefinition]
}

func (s *Service) registerDefinitions(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/label-definitions", "listLabelDefinitions", "label_definition.list",
		route.Operator, "List the label Definitions of one scope (local_key order)", "Labels"), s.listDefinitions)
	op := route.Op(http.MethodPost, "/v1/label-definitions", "createLabelDefinition", "label_definition.create",
		route.Operator, "Create a label Definition", "Labels")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.createDefinition)
	huma.Register(api, route.Op(http.MethodGet, "/v1/label-definitions/{id}", "getLabelDefinition", "label_definition.read",
		route.Operator, "Read a label Definition (invisible ones are not found)", "Labels"), s.getDefinition)
}

// Definition defaults and choices (api.md §3.4).
var (
	localKeyRE      = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)
	onDeleteChoices = []string{"block", "cascade", "orphan"}
	// objectKinds are the kinds a Definition may apply to. Labels can be
	// assigned to the first three today; node Definitions may be declared
	// ahead of node assignments.
	objectKinds = []string{"domain", "project", "resource", "node"}
)

const defaultOnDelete = "block"

const definitionColumns = `id, scope, scope_id, local_key, qualified_key, value_schema, applicable_kinds, on_delete,
	cardinality, immutable, required, default_value, cloud_tag_propagation, description, created_by, created_at, updated_at`

func scanDefinition(row interface{ Scan(...any) error }) (apiv1.LabelDefinition, error) {
	var (
		d                apiv1.LabelDefinition
		schema, kinds    string
		created, updated int64
	)
	err := row.Scan(&d.ID, &d.Scope, &d.ScopeID, &d.LocalKey, &d.QualifiedKey, &schema, &kinds, &d.OnDelete,
		&d.Cardinality, &d.Immutable, &d.Required, &d.DefaultValue, &d.CloudTagPropagation, &d.Description,
		&d.CreatedBy, &created, &updated)
	if err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = store.Time(created), store.Time(updated)
	if err := json.Unmarshal([]byte(schema), &d.ValueSchema); err != nil {
		return d, fmt.Errorf("labels: definition %s: value_schema: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(kinds), &d.ApplicableKinds); err != nil {
		return d, fmt.Errorf("labels: definition %s: applicable_kinds: %w", d.ID, err)
	}
	if d.ApplicableKinds == nil {
		d.ApplicableKinds = []string{}
	}
	return d, nil
}

// definition reads a Definition without authorization.
func definition(ctx context.Context, q store.Querier, where string, arg string) (apiv1.LabelDefinition, error) {
	d, err := scanDefinition(q.QueryRowContext(ctx, `SELECT `+definitionColumns+` FROM label_definitions WHERE `+where+` = $1`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return d, problem.NotFound("label_definition_not_found", "No such label Definition.")
	}
	if err != nil {
		return d, problem.Internal(err)
	}
	return d, nil
}

// scopeOf is the scope a stored Definition lives in.
func scopeOf(d apiv1.LabelDefinition) scope { return scope{kind: d.Scope, id: d.ScopeID} }

func (s *Service) listDefinitions(ctx context.Context, in *listDefinitionsInput) (*definitionsOutput, error) {
	sc, err := parseScopeRef(in.Scope)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "read", sc.object()); err != nil {
		return nil, err
	}
	key := "label_definitions.list?scope=" + sc.String()
	var after string
	limit, err := s.pages.Start(ctx, in.Params, key, &after)
	if err != nil {
		return nil, err
	}
	if _, err := resolveScope(ctx, s.db, sc); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+definitionColumns+` FROM label_definitions
		WHERE scope = $1 AND scope_id = $2 AND local_key > $3 ORDER BY local_key LIMIT $4`, sc.kind, sc.id, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &definitionsOutput{Body: apiv1.List[apiv1.LabelDefinition]{Items: []apiv1.LabelDefinition{}}}
	for rows.Next() {
		d, err := scanDefinition(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, d)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		if out.Body.NextCursor, err = s.pages.Next(ctx, key, out.Body.Items[limit-1].LocalKey); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) createDefinition(ctx context.Context, in *createDefinitionInput) (*definitionOutput, error) {
	sc, err := parseCreateScope(in.Body.Scope, in.Body.ScopeID)
	if err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(scopeChain(sc), "label_definition", "")
	if err := s.authz.Check(ctx, "manage", sc.object()); err != nil {
		return nil, err
	}
	d, err := s.newDefinition(sc, in.Body)
	if err != nil {
		return nil, err
	}
	ar.Target(scopeChain(sc), "label_definition", d.ID)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := resolveScope(ctx, tx, sc)
		if err != nil {
			return err
		}
		ar.Target(r.chain, "label_definition", d.ID)
		d.QualifiedKey = r.prefix + "/" + d.LocalKey
		if err := insertDefinition(ctx, tx, d); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &definitionOutput{Location: "/v1/label-definitions/" + d.ID, Body: d}, nil
}

// newDefinition validates a create body and fills the defaults; the
// qualified key is set once the scope has been resolved.
func (s *Service) newDefinition(sc scope, b apiv1.CreateLabelDefinition) (apiv1.LabelDefinition, error) {
	now := s.stamp()
	d := apiv1.LabelDefinition{ID: uuid.Must(uuid.NewV7()).String(), Scope: sc.kind, ScopeID: sc.id,
		LocalKey: b.LocalKey, OnDelete: b.OnDelete, Cardinality: 1, Immutable: b.Immutable, Required: b.Required,
		DefaultValue: b.DefaultValue, CloudTagPropagation: b.CloudTagPropagation, Description: b.Description,
		CreatedBy: "user", CreatedAt: now, UpdatedAt: now}
	if !localKeyRE.MatchString(d.LocalKey) {
		return d, problem.BadRequest("invalid_local_key", "local_key is 1 to 64 of the characters a-z 0-9 . _ -.")
	}
	switch {
	case d.OnDelete == "":
		d.OnDelete = defaultOnDelete
	case !slices.Contains(onDeleteChoices, d.OnDelete):
		return d, problem.BadRequest("invalid_body", "on_delete must be block, cascade or orphan.")
	}
	if b.Cardinality != nil {
		if *b.Cardinality < 0 || *b.Cardinality > MaxCardinality {
			return d, problem.BadRequest("invalid_body", fmt.Sprintf("cardinality must be 0 (up to %d) or 1 to %d.", MaxCardinality, MaxCardinality))
		}
		d.Cardinality = *b.Cardinality
	}
	kinds, err := applicableKinds(b.ApplicableKinds)
	if err != nil {
		return d, err
	}
	d.ApplicableKinds = kinds
	if d.ValueSchema, err = normalizeSchema(b.ValueSchema); err != nil {
		return d, err
	}
	if d.DefaultValue != "" {
		if err := checkAssignable(d, d.DefaultValue); err != nil {
			return d, badSchema("default_value does not satisfy the schema: %s.", err.Error())
		}
	}
	return d, nil
}

// applicableKinds checks, sorts and deduplicates a Definition's kinds.
func applicableKinds(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, k := range in {
		if !slices.Contains(objectKinds, k) {
			return nil, problem.BadRequest("invalid_object_kind",
				fmt.Sprintf("applicable_kinds: %q is not one of domain, project, resource, node.", k))
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func insertDefinition(ctx context.Context, tx *sql.Tx, d apiv1.LabelDefinition) error {
	schema, err := json.Marshal(d.ValueSchema)
	if err != nil {
		return err
	}
	kinds, err := json.Marshal(d.ApplicableKinds)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO label_definitions (`+definitionColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16)`,
		d.ID, d.Scope, d.ScopeID, d.LocalKey, d.QualifiedKey, string(schema), string(kinds), d.OnDelete, d.Cardinality,
		d.Immutable, d.Required, d.DefaultValue, d.CloudTagPropagation, d.Description, d.CreatedBy, store.Micros(d.CreatedAt))
	if store.IsUniqueViolation(err) {
		return problem.Conflict("label_definition_conflict", "A label Definition with qualified key "+d.QualifiedKey+" already exists.")
	}
	return err
}

func (s *Service) getDefinition(ctx context.Context, in *definitionIDInput) (*definitionOutput, error) {
	id, err := pathid.Parse("label_definition", in.ID)
	if err != nil {
		return nil, err
	}
	// The scope is only known from the row, so the row is read first; a
	// caller who may not read the scope learns nothing more than from an id
	// that does not exist (api.md §2.4, deliberate 404s).
	d, err := definition(ctx, s.db, "id", id)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(scopeChain(scopeOf(d)), "label_definition", id)
	if err := s.authz.Check(ctx, "read", scopeOf(d).object()); err != nil {
		return nil, hideDenial(err)
	}
	return &definitionOutput{Body: d}, nil
}

// hideDenial turns a 403 into the not-found answer of a missing Definition;
// other failures (503 authz_unavailable) pass through.
func hideDenial(err error) error {
	var p *problem.Problem
	if errors.As(err, &p) && p.Status == http.StatusForbidden {
		return problem.NotFound("label_definition_not_found", "No such label Definition.")
	}
	return err
}
