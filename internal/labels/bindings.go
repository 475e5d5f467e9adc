package labels

import (
	"context"
	"database/sql"
	"slices"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Bindings are labels bound now and assigned later, such as a bootstrap
// token's labels, which every node it enrols receives: qualified key → value.
// CheckBindings validates labels to be assigned later to objects of kind in
// a Project: each key names a Definition visible there and applicable to the
// kind, each value satisfies it, and the caller holds `assign` on each
// Definition's scope (the later assignment runs without a caller).
func (s *Service) CheckBindings(ctx context.Context, kind, domainID, projectID string, labels map[string]string) error {
	t := target{kind: kind, domainID: domainID, projectID: projectID}
	for _, k := range sortedKeys(labels) {
		d, err := bindingDefinition(ctx, s.db, k)
		if err != nil {
			return err
		}
		if err := s.authz.Check(ctx, "assign", scopeOf(d).object()); err != nil {
			return err
		}
		if err := applies(d, t); err != nil {
			return err
		}
		if err := checkAssignable(d, labels[k]); err != nil {
			return problem.Unprocessable("label_value_invalid", "Invalid value for "+k+": "+err.Error()+".")
		}
	}
	return nil
}

// ApplyBindings assigns labels to the object kind/id inside tx, recording
// by as the assigner. It re-validates against the Definitions as they are
// now and fails (422) rather than assign a value they no longer accept.
func (s *Service) ApplyBindings(ctx context.Context, tx *sql.Tx, kind, id string, labels map[string]string, by string) error {
	t := target{kind: kind, id: id}
	if err := s.locate(ctx, tx, &t, true); err != nil {
		return err
	}
	for _, k := range sortedKeys(labels) {
		d, err := bindingDefinition(ctx, tx, k)
		if err != nil {
			return err
		}
		if err := applies(d, t); err != nil {
			return err
		}
		if err := checkAssignable(d, labels[k]); err != nil {
			return problem.Unprocessable("label_value_invalid", "Invalid value for "+k+": "+err.Error()+".")
		}
		if _, err := s.put(ctx, tx, d, t, labels[k], by); err != nil {
			return err
		}
	}
	return nil
}

// bindingDefinition reads the Definition of a bound key; an unknown key is
// an invariant violation of the binding (422), not a missing URL (404).
func bindingDefinition(ctx context.Context, q store.Querier, key string) (apiv1.LabelDefinition, error) {
	d, err := definition(ctx, q, "qualified_key", key)
	if isNotFound(err) {
		return d, problem.Unprocessable("label_not_defined", "No label Definition has the qualified key "+key+".")
	}
	return d, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
