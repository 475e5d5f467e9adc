package labels

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/selector"
)

func TestSelectorPreview(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		preview := func(token, expr string) (int, apiv1.SelectorPreview, string) {
			t.Helper()
			r := h.callAs(t, token, "POST", "/v1/labels/selectors/preview", apiv1.SelectorPreviewRequest{Expression: expr})
			var p apiv1.SelectorPreview
			if r.status == 200 {
				if err := jsonUnmarshal(r.body, &p); err != nil {
					t.Fatal(err)
				}
			}
			return r.status, p, string(r.body)
		}

		status, p, raw := preview(h.token, "platform/env=prod, tier in (web, api), !legacy, zone")
		if status != 200 || p.AST == nil || len(p.Errors) != 0 {
			t.Fatalf("preview: %d %s", status, raw)
		}
		want := apiv1.SelectorNode{Op: "and", Children: []apiv1.SelectorNode{
			{Op: "eq", Key: "platform/env", Value: ptr("prod")},
			{Op: "in", Key: "tier", Values: []string{"api", "web"}},
			{Op: "absent", Key: "legacy"},
			{Op: "exists", Key: "zone"},
		}}
		if !sameNode(*p.AST, want) {
			t.Errorf("ast %s", raw)
		}
		if strings.Contains(raw, `"errors"`) {
			t.Errorf("a valid selector answered errors: %s", raw)
		}

		// One clause is the clause itself; the empty selector is an empty and.
		if _, p, raw := preview(h.token, "a!=b"); p.AST == nil || !sameNode(*p.AST, apiv1.SelectorNode{Op: "neq", Key: "a", Value: ptr("b")}) {
			t.Errorf("single clause: %s", raw)
		}
		if _, p, raw := preview(h.token, "  "); p.AST == nil || p.AST.Op != "and" || len(p.AST.Children) != 0 {
			t.Errorf("empty selector: %s", raw)
		}

		for expr, pos := range map[string]int{"env=": 4, "env in (a": 9, "=x": 0, "a=b,,c": 4, "a b": 2} {
			status, p, raw := preview(h.token, expr)
			if status != 200 || p.AST != nil || len(p.Errors) == 0 {
				t.Errorf("%q: %d %s, want 200 with errors only", expr, status, raw)
				continue
			}
			if p.Errors[0].Position != pos || p.Errors[0].Message == "" {
				t.Errorf("%q: first error %+v, want position %d", expr, p.Errors[0], pos)
			}
		}

		// Any authenticated operator may preview; nobody else.
		if status, p, raw := preview(h.outsider, "a=b"); status != 200 || p.AST == nil {
			t.Errorf("outsider: %d %s", status, raw)
		}
		if status, _, raw := preview("", "a=b"); status != 401 || !strings.Contains(raw, "unauthenticated") {
			t.Errorf("anonymous: %d %s", status, raw)
		}
	})
}

func sameNode(a, b apiv1.SelectorNode) bool {
	if a.Op != b.Op || a.Key != b.Key || !slices.Equal(a.Values, b.Values) || (a.Value == nil) != (b.Value == nil) ||
		a.Value != nil && *a.Value != *b.Value || len(a.Children) != len(b.Children) {
		return false
	}
	for i := range a.Children {
		if !sameNode(a.Children[i], b.Children[i]) {
			return false
		}
	}
	return true
}

func TestLabelsOfAndMatching(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		tr := h.tree(t)
		env := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "env",
			ValueSchema: apiv1.ValueSchema{Kind: KindEnum, Values: []string{"dev", "stage", "prod"}}})
		roles := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "roles",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(3)})
		team := h.define(t, stringDef("domain:"+tr.acme, "team"))
		tier := h.define(t, stringDef("project:"+tr.web, "tier"))

		h.assign(t, "resource", tr.vm, env.ID, "prod")
		h.assign(t, "resource", tr.vm, roles.ID, "web")
		h.assign(t, "resource", tr.vm, roles.ID, "db")
		h.assign(t, "resource", tr.vm, team.ID, "core")
		h.assign(t, "resource", tr.vm, tier.ID, "front")
		h.assign(t, "resource", tr.dbvm, env.ID, "dev")
		h.assign(t, "resource", tr.dbvm, team.ID, "core")
		h.assign(t, "resource", tr.gvm, env.ID, "prod")
		h.assign(t, "project", tr.web, team.ID, "core") // another kind, same id space: not the resource's

		got, err := h.labels.LabelsOf(ctx, h.db, "resource", tr.vm)
		want := map[string]string{"platform/env": "prod", "platform/roles": "db,web", "acme/team": "core", "acme.web/tier": "front"}
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("LabelsOf = %v, %v; want %v", got, err, want)
		}
		var inTx map[string]string
		err = h.db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			inTx, err = h.labels.LabelsOf(ctx, tx, "resource", tr.vm)
			return err
		})
		if err != nil || !maps.Equal(inTx, want) {
			t.Errorf("LabelsOf in a transaction = %v, %v", inTx, err)
		}
		none, err := h.labels.LabelsOf(ctx, h.db, "project", tr.gx)
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("LabelsOf an unlabelled object = %#v, %v; want an empty map", none, err)
		}

		objects := map[string]string{tr.vm: "vm", tr.dbvm: "dbvm", tr.gvm: "gvm"}
		sets := map[string]map[string]string{}
		for id, name := range objects {
			if sets[name], err = h.labels.LabelsOf(ctx, h.db, "resource", id); err != nil {
				t.Fatal(err)
			}
		}
		checkMatches(t, sets)

		if r := h.call(t, "DELETE", unassignPath("resource", tr.vm, "platform/roles"), nil); r.status != 204 {
			t.Fatal(r.status)
		}
		after, _ := h.labels.LabelsOf(ctx, h.db, "resource", tr.vm)
		if _, still := after["platform/roles"]; still || after["platform/env"] != "prod" {
			t.Errorf("after unassign: %v", after)
		}
	})
}

// checkMatches runs selectors over the label sets of the resources vm,
// dbvm and gvm.
func checkMatches(t *testing.T, sets map[string]map[string]string) {
	t.Helper()
	for expr, want := range map[string][]string{
		"platform/env=prod":                     {"gvm", "vm"},
		"platform/env=prod, acme/team":          {"vm"},
		"platform/env in (dev, stage)":          {"dbvm"},
		"!acme/team":                            {"gvm"},
		"acme/team=core, acme.web/tier!=front":  {"dbvm"},
		"platform/env notin (prod)":             {"dbvm"},
		"platform/roles":                        {"vm"},
		"platform/roles=web":                    {}, // multi-valued keys match on the joined value
		"platform/roles=db,web":                 {}, // a comma is AND: db,web is two clauses
		"platform/env=prod, acme.web/tier=back": {},
	} {
		sel := selector.MustParse(expr)
		matched := []string{}
		for name, labels := range sets {
			if sel.Matches(labels) {
				matched = append(matched, name)
			}
		}
		slices.Sort(matched)
		if !slices.Equal(matched, want) {
			t.Errorf("%q matches %v, want %v", expr, matched, want)
		}
	}

}
