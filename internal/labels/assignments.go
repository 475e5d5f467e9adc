package labels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type objectLabelsInput struct {
	Kind string `path:"kind" doc:"Object kind: domain, project, resource or node."`
	ID   string `path:"id" doc:"Object id (UUID)."`
}
type assignInput struct {
	Kind string `path:"kind" doc:"Object kind: domain, project, resource or node."`
	ID   string `path:"id" doc:"Object id (UUID)."`
	Body apiv1.AssignLabel
}
type unassignInput struct {
	Kind         string `path:"kind" doc:"Object kind: domain, project or resource."`
	ID           string `path:"id" doc:"Object id (UUID)."`
	QualifiedKey string `query:"qualified_key" required:"true" maxLength:"256" doc:"The label whose values to remove."`
}
type assignmentsOutput struct{ Body apiv1.LabelAssignmentList }
type assignmentOutput struct{ Body apiv1.LabelAssignment }

func (s *Service) registerAssignments(api huma.API) {
	const path = "/v1/objects/{kind}/{id}/labels"
	huma.Register(api, route.Op(http.MethodGet, path, "listObjectLabels", "label.list", route.Operator,
		"List the label assignments of an object", "Labels"), s.listObjectLabels)
	huma.Register(api, route.Op(http.MethodPut, path, "assignLabel", "label.assign", route.Operator,
		"Set a label on an object (cardinality 1 replaces, more adds)", "Labels"), s.assignLabel)
	op := route.Op(http.MethodDelete, path, "unassignLabel", "label.unassign", route.Operator,
		"Remove every value of one label from an object (always 204)", "Labels")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.unassignLabel)
}

const assignmentQuery = `SELECT a.definition_id, d.qualified_key, a.object_kind, a.object_id, a.value, a.assigned_by, a.assigned_at
	FROM label_assignments a JOIN label_definitions d ON d.id = a.definition_id
	WHERE a.object_kind = $1 AND a.object_id = $2`

// assignments lists the assignments on t (of one Definition when defID is
// set), ordered by qualified key and value.
func assignments(ctx context.Context, q store.Querier, t target, defID string) ([]apiv1.LabelAssignment, error) {
	query, args := assignmentQuery, []any{t.kind, t.id}
	if defID != "" {
		query, args = query+` AND a.definition_id = $3`, append(args, defID)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []apiv1.LabelAssignment{}
	for rows.Next() {
		var (
			a  apiv1.LabelAssignment
			at int64
		)
		if err := rows.Scan(&a.DefinitionID, &a.QualifiedKey, &a.ObjectKind, &a.ObjectID, &a.Value, &a.AssignedBy, &at); err != nil {
			return nil, err
		}
		a.AssignedAt = store.Time(at)
		out = append(out, a)
	}
	// Sorted here, not in SQL, so that both databases agree whatever their
	// collation.
	slices.SortFunc(out, func(a, b apiv1.LabelAssignment) int {
		return cmpPair(a.QualifiedKey, a.Value, b.QualifiedKey, b.Value)
	})
	return out, rows.Err()
}

func cmpPair(a1, a2, b1, b2 string) int {
	if c := strings.Compare(a1, b1); c != 0 {
		return c
	}
	return strings.Compare(a2, b2)
}

func (s *Service) listObjectLabels(ctx context.Context, in *objectLabelsInput) (*assignmentsOutput, error) {
	t, err := parseTarget(in.Kind, in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "maintainer", t.ref()); err != nil {
		return nil, err
	}
	if err := s.locate(ctx, s.db, &t, false); err != nil {
		return nil, err
	}
	items, err := assignments(ctx, s.db, t, "")
	if err != nil {
		return nil, problem.Internal(err)
	}
	return &assignmentsOutput{Body: apiv1.LabelAssignmentList{Items: items}}, nil
}

func (s *Service) assignLabel(ctx context.Context, in *assignInput) (*assignmentOutput, error) {
	t, err := parseTarget(in.Kind, in.ID)
	if err != nil {
		return nil, err
	}
	defID, err := pathid.Parse("label_definition", in.Body.DefinitionID)
	if err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(t.domainID, t.kind, t.id)
	if err := s.authz.Check(ctx, "maintainer", t.ref()); err != nil {
		return nil, err
	}
	d, err := definition(ctx, s.db, "id", defID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "assign", scopeOf(d).object()); err != nil {
		return nil, err
	}
	var out apiv1.LabelAssignment
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.locate(ctx, tx, &t, true); err != nil {
			return err
		}
		ar.Target(t.domainID, t.kind, t.id)
		// Read again under the object lock: the schema is what the value
		// must satisfy at commit time.
		if d, err = definition(ctx, tx, "id", defID); err != nil {
			return err
		}
		if err := applies(d, t); err != nil {
			return err
		}
		if err := checkAssignable(d, in.Body.Value); err != nil {
			return problem.Unprocessable("label_value_invalid", "Invalid value for "+d.QualifiedKey+": "+err.Error()+".")
		}
		if out, err = s.put(ctx, tx, d, t, in.Body.Value, caller(ctx)); err != nil {
			return err
		}
		if err := s.nodeChanged(ctx, tx, t); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &assignmentOutput{Body: out}, nil
}

// checkAssignable reports why v cannot be a value of d, or nil.
func checkAssignable(d apiv1.LabelDefinition, v string) error {
	if err := checkValue(d.ValueSchema, v); err != nil {
		return err
	}
	if d.Cardinality != 1 && strings.Contains(v, ",") {
		// LabelsOf joins the values of a multi-valued key with commas.
		return errors.New("the values of a multi-valued label cannot contain a comma")
	}
	return nil
}

// put stores value under d on t, with t's row locked: cardinality 1
// replaces the current value, more adds one; a value already present is
// returned as it is.
func (s *Service) put(ctx context.Context, tx *sql.Tx, d apiv1.LabelDefinition, t target, value, by string) (apiv1.LabelAssignment, error) {
	current, err := assignments(ctx, tx, t, d.ID)
	if err != nil {
		return apiv1.LabelAssignment{}, err
	}
	for _, a := range current {
		if a.Value == value {
			return a, nil
		}
	}
	limit := d.Cardinality
	if limit == 0 {
		limit = MaxCardinality
	}
	replacing := limit == 1 && len(current) > 0
	switch {
	case replacing && d.Immutable:
		return apiv1.LabelAssignment{}, problem.Conflict("immutable_violation",
			d.QualifiedKey+" is immutable: its value cannot be replaced.")
	case replacing:
		_, err = tx.ExecContext(ctx, `DELETE FROM label_assignments
			WHERE object_kind = $1 AND object_id = $2 AND definition_id = $3`, t.kind, t.id, d.ID)
	case len(current) >= limit:
		return apiv1.LabelAssignment{}, problem.Conflict("label_cardinality_exceeded",
			fmt.Sprintf("%s holds at most %d values on one object.", d.QualifiedKey, limit))
	default:
		err = checkCap(ctx, tx, t)
	}
	if err != nil {
		return apiv1.LabelAssignment{}, err
	}
	a := apiv1.LabelAssignment{DefinitionID: d.ID, QualifiedKey: d.QualifiedKey, ObjectKind: t.kind, ObjectID: t.id,
		Value: value, AssignedBy: by, AssignedAt: s.stamp()}
	_, err = tx.ExecContext(ctx, `INSERT INTO label_assignments
		(object_kind, object_id, definition_id, value, assigned_by, assigned_at) VALUES ($1,$2,$3,$4,$5,$6)`,
		a.ObjectKind, a.ObjectID, a.DefinitionID, a.Value, a.AssignedBy, store.Micros(a.AssignedAt))
	return a, err
}

// checkCap refuses one more assignment on an object that holds the maximum.
func checkCap(ctx context.Context, tx *sql.Tx, t target) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM label_assignments WHERE object_kind = $1 AND object_id = $2`,
		t.kind, t.id).Scan(&n)
	if err != nil {
		return err
	}
	if n >= MaxAssignments {
		return problem.Conflict("label_cap_exceeded",
			fmt.Sprintf("This %s already holds %d label assignments, the maximum.", t.kind, MaxAssignments))
	}
	return nil
}

// errNoObject ends an unassign whose object does not exist: nothing to do.
var errNoObject = errors.New("labels: no such object")

func (s *Service) unassignLabel(ctx context.Context, in *unassignInput) (*struct{}, error) {
	t, err := parseTarget(in.Kind, in.ID)
	if err != nil {
		return nil, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(t.domainID, t.kind, t.id)
	if err := s.authz.Check(ctx, "maintainer", t.ref()); err != nil {
		return nil, err
	}
	d, err := definition(ctx, s.db, "qualified_key", in.QualifiedKey)
	if isNotFound(err) {
		return nil, nil // no such label, so none is set: done (api.md §2.9)
	}
	if err != nil {
		return nil, err
	}
	// A label that is not set on the object is done, whoever owns its
	// Definition: asking for assign on the Definition's scope first told a
	// caller which other tenants' keys exist (issue 7 row 17). A label that
	// is set, the caller sees on its object anyway.
	set, err := assignments(ctx, s.db, t, d.ID)
	if err != nil {
		return nil, problem.Internal(err)
	}
	if len(set) == 0 {
		return nil, nil
	}
	if err := s.authz.Check(ctx, "assign", scopeOf(d).object()); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.locate(ctx, tx, &t, true); isNotFound(err) {
			return errNoObject
		} else if err != nil {
			return err
		}
		ar.Target(t.domainID, t.kind, t.id)
		if _, err := tx.ExecContext(ctx, `DELETE FROM label_assignments
			WHERE object_kind = $1 AND object_id = $2 AND definition_id = $3`, t.kind, t.id, d.ID); err != nil {
			return err
		}
		if err := s.nodeChanged(ctx, tx, t); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if errors.Is(err, errNoObject) {
		return nil, nil
	}
	return nil, problem.From(err)
}

func isNotFound(err error) bool {
	var p *problem.Problem
	return errors.As(err, &p) && p.Status == http.StatusNotFound
}

// LabelsOf returns the labels of one object as selectors see them:
// qualified key → value, with the values of a multi-valued key sorted and
// joined with ",". It does no authorization (callers have checked access to
// the object) and accepts any kind, nodes included; an object without
// labels has an empty map. q may be a transaction.
func (s *Service) LabelsOf(ctx context.Context, q store.Querier, kind, id string) (map[string]string, error) {
	all, err := assignments(ctx, q, target{kind: kind, id: id}, "")
	if err != nil {
		return nil, fmt.Errorf("labels: labels of %s:%s: %w", kind, id, err)
	}
	out := make(map[string]string, len(all))
	for _, a := range all {
		if prev, ok := out[a.QualifiedKey]; ok {
			out[a.QualifiedKey] = prev + "," + a.Value
		} else {
			out[a.QualifiedKey] = a.Value
		}
	}
	return out, nil
}
