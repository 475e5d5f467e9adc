package labels

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type updateDefinitionInput struct {
	ID   string `path:"id" doc:"Label Definition id (UUID)."`
	Body apiv1.UpdateLabelDefinition
}

func (s *Service) registerDefinitionChanges(api huma.API) {
	huma.Register(api, route.Op(http.MethodPatch, "/v1/label-definitions/{id}", "updateLabelDefinition",
		"label_definition.update", route.Operator,
		"Change a label Definition (a change that would invalidate assignments is refused)", "Labels"), s.updateDefinition)
	op := route.Op(http.MethodDelete, "/v1/label-definitions/{id}", "deleteLabelDefinition", "label_definition.delete",
		route.Operator, "Delete a label Definition as its on_delete says (block, cascade or orphan)", "Labels")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteDefinition)
}

// manageable reads Definition id for a change: invisible to a caller who
// cannot read its scope (404), refused (403) to one who cannot manage it.
func (s *Service) manageable(ctx context.Context, raw string) (apiv1.LabelDefinition, error) {
	id, err := pathid.Parse("label_definition", raw)
	if err != nil {
		return apiv1.LabelDefinition{}, err
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(audit.PlatformChain, "label_definition", id)
	d, err := definition(ctx, s.db, "id", id)
	if err != nil {
		return d, err
	}
	ar.Target(scopeChain(scopeOf(d)), "label_definition", id)
	if r, err := resolveScope(ctx, s.db, scopeOf(d)); err == nil {
		ar.Target(r.chain, "label_definition", id)
	}
	if err := s.authz.Check(ctx, "read", scopeOf(d).object()); err != nil {
		return d, hideDenial(err)
	}
	return d, s.authz.Check(ctx, "manage", scopeOf(d).object())
}

// lockDefinition re-reads Definition id inside tx, holding its row.
func (s *Service) lockDefinition(ctx context.Context, tx *sql.Tx, id string) (apiv1.LabelDefinition, error) {
	d, err := scanDefinition(tx.QueryRowContext(ctx, `SELECT `+definitionColumns+` FROM label_definitions WHERE id = $1`+
		s.db.ForUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, problem.NotFound("label_definition_not_found", "No such label Definition.")
	}
	return d, err
}

func (s *Service) updateDefinition(ctx context.Context, in *updateDefinitionInput) (*definitionOutput, error) {
	d, err := s.manageable(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	var out apiv1.LabelDefinition
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.lockDefinition(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		next, err := applyUpdate(cur, in.Body)
		if err != nil {
			return err
		}
		if err := refuseNarrowing(ctx, tx, next); err != nil {
			return err
		}
		next.UpdatedAt = s.stamp()
		if err := updateDefinitionRow(ctx, tx, next); err != nil {
			return err
		}
		out = next
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &definitionOutput{Body: out}, nil
}

// applyUpdate validates a patch against the current Definition and returns
// the changed one.
func applyUpdate(cur apiv1.LabelDefinition, b apiv1.UpdateLabelDefinition) (apiv1.LabelDefinition, error) {
	next := cur
	if b.Description != nil {
		next.Description = *b.Description
	}
	if b.ValueSchema != nil {
		vs, err := normalizeSchema(*b.ValueSchema)
		if err != nil {
			return next, err
		}
		if cur.Immutable && !reflect.DeepEqual(vs, cur.ValueSchema) {
			return next, problem.Conflict("immutable_violation",
				cur.QualifiedKey+" is immutable: its value schema cannot change.")
		}
		next.ValueSchema = vs
	}
	if b.ApplicableKinds != nil {
		kinds, err := applicableKinds(b.ApplicableKinds)
		if err != nil {
			return next, err
		}
		next.ApplicableKinds = kinds
	}
	if b.Required != nil {
		next.Required = *b.Required
	}
	if b.CloudTagPropagation != nil {
		next.CloudTagPropagation = *b.CloudTagPropagation
	}
	if b.OnDelete != nil {
		if !slices.Contains(onDeleteChoices, *b.OnDelete) {
			return next, problem.BadRequest("invalid_body", "on_delete must be block, cascade or orphan.")
		}
		next.OnDelete = *b.OnDelete
	}
	if b.DefaultValue != nil {
		next.DefaultValue = *b.DefaultValue
	}
	if next.DefaultValue != "" {
		if err := checkAssignable(next, next.DefaultValue); err != nil {
			return next, badSchema("default_value does not satisfy the schema: %s.", err.Error())
		}
	}
	return next, nil
}

// refuseNarrowing answers 409 label_definition_narrowing, with counts, when
// some assignment of d would no longer satisfy it (its value schema or its
// object kinds); widening passes.
func refuseNarrowing(ctx context.Context, tx *sql.Tx, d apiv1.LabelDefinition) error {
	rows, err := tx.QueryContext(ctx, `SELECT object_kind, object_id, value FROM label_assignments WHERE definition_id = $1`, d.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var n int
	objects := map[string]bool{}
	for rows.Next() {
		var kind, id, value string
		if err := rows.Scan(&kind, &id, &value); err != nil {
			return err
		}
		kindOK := len(d.ApplicableKinds) == 0 || slices.Contains(d.ApplicableKinds, kind)
		if !kindOK || checkAssignable(d, value) != nil {
			n++
			objects[kind+":"+id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	p := problem.Conflict("label_definition_narrowing", fmt.Sprintf(
		"The change would invalidate %d assignments of %s on %d objects; change or remove them first.",
		n, d.QualifiedKey, len(objects)))
	p.AssignmentCounts = &apiv1.LabelAssignmentCounts{Assignments: n, Objects: len(objects)}
	return p
}

func updateDefinitionRow(ctx context.Context, tx *sql.Tx, d apiv1.LabelDefinition) error {
	schema, err := json.Marshal(d.ValueSchema)
	if err != nil {
		return err
	}
	kinds, err := json.Marshal(d.ApplicableKinds)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE label_definitions SET value_schema = $1, applicable_kinds = $2, on_delete = $3,
		required = $4, default_value = $5, cloud_tag_propagation = $6, description = $7, updated_at = $8 WHERE id = $9`,
		string(schema), string(kinds), d.OnDelete, d.Required, d.DefaultValue, d.CloudTagPropagation, d.Description,
		store.Micros(d.UpdatedAt), d.ID)
	return err
}

func (s *Service) deleteDefinition(ctx context.Context, in *definitionIDInput) (*struct{}, error) {
	d, err := s.manageable(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.lockDefinition(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		if err := s.removeAssignments(ctx, tx, cur); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM label_definitions WHERE id = $1`, cur.ID); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(err)
}

// removeAssignments applies d's on_delete to its assignments: block refuses
// (409 assignments_exist with counts) while any exist, cascade deletes
// them, orphan moves them to label_assignments_orphaned, where nothing
// reads them as labels. Every node that lost a label is told.
func (s *Service) removeAssignments(ctx context.Context, tx *sql.Tx, d apiv1.LabelDefinition) error {
	var n, objects int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT object_kind || ':' || object_id)
		FROM label_assignments WHERE definition_id = $1`, d.ID).Scan(&n, &objects); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if d.OnDelete == "block" {
		p := problem.Conflict("assignments_exist", fmt.Sprintf(
			"%s is assigned %d times on %d objects and its on_delete is block; remove the assignments first.",
			d.QualifiedKey, n, objects))
		p.AssignmentCounts = &apiv1.LabelAssignmentCounts{Assignments: n, Objects: objects}
		return p
	}
	nodes, err := assignedNodes(ctx, tx, d.ID)
	if err != nil {
		return err
	}
	if d.OnDelete == "orphan" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO label_assignments_orphaned
			(object_kind, object_id, definition_id, qualified_key, value, assigned_by, assigned_at, orphaned_at)
			SELECT object_kind, object_id, definition_id, CAST($2 AS TEXT), value, assigned_by, assigned_at, CAST($3 AS BIGINT)
			FROM label_assignments WHERE definition_id = $1`, d.ID, d.QualifiedKey, store.Micros(s.stamp())); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM label_assignments WHERE definition_id = $1`, d.ID); err != nil {
		return err
	}
	for _, id := range nodes {
		if err := s.nodeChanged(ctx, tx, target{kind: "node", id: id}); err != nil {
			return err
		}
	}
	return nil
}

// assignedNodes lists the nodes that hold a value of Definition defID.
func assignedNodes(ctx context.Context, tx *sql.Tx, defID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT object_id FROM label_assignments
		WHERE definition_id = $1 AND object_kind = 'node' ORDER BY object_id`, defID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
