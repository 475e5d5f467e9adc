package labels

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
)

func defPath(id string) string { return "/v1/label-definitions/" + id }

func counts(t *testing.T, r reply) apiv1.LabelAssignmentCounts {
	t.Helper()
	var p apiv1.Problem
	if err := jsonUnmarshal(r.body, &p); err != nil || p.AssignmentCounts == nil {
		t.Fatalf("no assignment_counts in %s", r.body)
	}
	return *p.AssignmentCounts
}

// TestDefinitionPatch widens a Definition, refuses narrowing that would
// invalidate assignments (409 with counts), keeps immutable schemas, and
// hides other tenants' Definitions.
func TestDefinitionPatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		body := apiv1.CreateLabelDefinition{Scope: "domain:" + tr.acme, LocalKey: "tier",
			ValueSchema: apiv1.ValueSchema{Kind: KindEnum, Values: []string{"gold", "silver"}}, ApplicableKinds: []string{"resource"}}
		d := h.define(t, body)
		h.assign(t, "resource", tr.vm, d.ID, "gold")
		h.assign(t, "resource", tr.dbvm, d.ID, "silver")

		desc := "Service tier"
		wide := apiv1.ValueSchema{Kind: KindEnum, Values: []string{"gold", "silver", "bronze"}}
		got := ok[apiv1.LabelDefinition](t, h, 200, "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{Description: &desc,
			ValueSchema: &wide, ApplicableKinds: []string{"resource", "project"}, OnDelete: ptr("cascade")})
		if got.Description != desc || !slices.Equal(got.ValueSchema.Values, wide.Values) || got.OnDelete != "cascade" ||
			!slices.Equal(got.ApplicableKinds, []string{"project", "resource"}) || got.QualifiedKey != d.QualifiedKey ||
			got.UpdatedAt.Before(d.UpdatedAt) || !got.CreatedAt.Equal(d.CreatedAt) {
			t.Fatalf("widened: %+v", got)
		}
		if read := ok[apiv1.LabelDefinition](t, h, 200, "GET", defPath(d.ID), nil); read.Description != desc || len(read.ValueSchema.Values) != 3 {
			t.Fatalf("read after patch: %+v", read)
		}
		// The widened value is assignable at once.
		h.assign(t, "resource", tr.vm, d.ID, "bronze")

		// Dropping gold and silver would invalidate dbvm's silver: refused with counts.
		narrow := apiv1.ValueSchema{Kind: KindEnum, Values: []string{"gold", "bronze"}}
		r := h.fails(t, 409, "label_definition_narrowing", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{ValueSchema: &narrow})
		if c := counts(t, r); c.Assignments != 1 || c.Objects != 1 {
			t.Errorf("narrowing counts %+v, want 1 assignment on 1 object", c)
		}
		r = h.fails(t, 409, "label_definition_narrowing", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{ApplicableKinds: []string{"project"}})
		if c := counts(t, r); c.Assignments != 2 || c.Objects != 2 {
			t.Errorf("kind narrowing counts %+v, want 2 on 2", c)
		}
		if read := ok[apiv1.LabelDefinition](t, h, 200, "GET", defPath(d.ID), nil); len(read.ValueSchema.Values) != 3 ||
			len(read.ApplicableKinds) != 2 {
			t.Fatalf("a refused patch changed the Definition: %+v", read)
		}
		// Once the value is gone, the same narrowing passes.
		h.assign(t, "resource", tr.dbvm, d.ID, "gold")
		ok[apiv1.LabelDefinition](t, h, 200, "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{ValueSchema: &narrow})

		imm := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "region",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Immutable: true})
		h.fails(t, 409, "immutable_violation", "PATCH", defPath(imm.ID),
			apiv1.UpdateLabelDefinition{ValueSchema: &apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(8)}})
		ok[apiv1.LabelDefinition](t, h, 200, "PATCH", defPath(imm.ID), apiv1.UpdateLabelDefinition{Description: &desc})
		h.fails(t, 422, "invalid_value_schema", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{DefaultValue: ptr("platinum")})
		h.fails(t, 422, "invalid_value_schema", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{ValueSchema: &apiv1.ValueSchema{Kind: KindEnum}})
		h.fails(t, 400, "invalid_object_kind", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{ApplicableKinds: []string{"planet"}})
		h.fails(t, 404, "label_definition_not_found", "PATCH", defPath(uuid.NewString()), apiv1.UpdateLabelDefinition{Description: &desc})
		h.fails(t, 400, "invalid_label_definition_id", "PATCH", defPath("nope"), apiv1.UpdateLabelDefinition{Description: &desc})

		// A reader who may not manage is refused; one who may not read the
		// scope learns nothing.
		h.refuse("manage", "domain:"+tr.acme)
		h.fails(t, 403, "permission_denied", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{Description: &desc})
		h.fails(t, 403, "permission_denied", "DELETE", defPath(d.ID), nil)
		h.refuse("read", "domain:"+tr.acme)
		h.fails(t, 404, "label_definition_not_found", "PATCH", defPath(d.ID), apiv1.UpdateLabelDefinition{Description: &desc})
		h.fails(t, 404, "label_definition_not_found", "DELETE", defPath(d.ID), nil)
		h.allowAll()

		var succeeded, denied int
		for _, r := range h.auditRows(t, "label_definition.update") {
			if r.objID == d.ID && r.chain == tr.acme {
				switch r.outcome {
				case audit.Succeeded:
					succeeded++
				case audit.Denied:
					denied++
				}
			}
		}
		if succeeded != 2 || denied == 0 {
			t.Errorf("update audit on acme's chain: %d succeeded, %d denied; want 2 and some", succeeded, denied)
		}
	})
}

// nodeRecorder is a NodeWatcher that remembers the nodes it was told of.
type nodeRecorder struct {
	mu    sync.Mutex
	nodes []string
}

func (n *nodeRecorder) NodeLabelsChanged(_ context.Context, _ *sql.Tx, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nodes = append(n.nodes, id)
	return nil
}

func (n *nodeRecorder) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.nodes
	n.nodes = nil
	return out
}

// assignNode stores a node assignment directly (the harness enrols no
// nodes): what the delete must remove and tell the node watcher about.
func assignNode(t *testing.T, h *harness, defID, nodeID, value string) {
	t.Helper()
	if _, err := h.db.Exec(`INSERT INTO label_assignments (object_kind, object_id, definition_id, value, assigned_by, assigned_at)
		VALUES ('node', $1, $2, $3, 'test', 1)`, nodeID, defID, value); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDefinitionDelete deletes Definitions under each on_delete: block
// refuses while assignments exist (409 with counts), cascade removes them,
// orphan detaches them; node watchers learn of every node that lost a label.
func TestDefinitionDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		rec := &nodeRecorder{}
		h.labels.SetNodeWatcher(rec)
		tr := h.tree(t)
		def := func(key, onDelete string) apiv1.LabelDefinition {
			b := stringDef("domain:"+tr.acme, key)
			b.OnDelete, b.ApplicableKinds = onDelete, []string{"resource", "node"}
			return h.define(t, b)
		}
		node1, node2 := uuid.NewString(), uuid.NewString()

		blocked := def("owner", "block")
		h.assign(t, "resource", tr.vm, blocked.ID, "alice")
		h.assign(t, "resource", tr.dbvm, blocked.ID, "bob")
		r := h.fails(t, 409, "assignments_exist", "DELETE", defPath(blocked.ID), nil)
		if c := counts(t, r); c.Assignments != 2 || c.Objects != 2 {
			t.Errorf("block counts %+v, want 2 on 2", c)
		}
		ok[apiv1.LabelDefinition](t, h, 200, "GET", defPath(blocked.ID), nil)
		for _, id := range []string{tr.vm, tr.dbvm} {
			if r := h.call(t, "DELETE", labelsPath("resource", id)+"?qualified_key="+blocked.QualifiedKey, nil); r.status != 204 {
				t.Fatalf("unassign: %d %s", r.status, r.body)
			}
		}
		if r := h.call(t, "DELETE", defPath(blocked.ID), nil); r.status != 204 {
			t.Fatalf("delete the emptied block Definition: %d %s", r.status, r.body)
		}
		h.fails(t, 404, "label_definition_not_found", "GET", defPath(blocked.ID), nil)
		h.fails(t, 404, "label_definition_not_found", "DELETE", defPath(blocked.ID), nil)
		rec.take()

		cascade := def("team", "cascade")
		h.assign(t, "resource", tr.vm, cascade.ID, "web")
		assignNode(t, h, cascade.ID, node1, "web")
		assignNode(t, h, cascade.ID, node2, "web")
		if r := h.call(t, "DELETE", defPath(cascade.ID), nil); r.status != 204 {
			t.Fatalf("cascade delete: %d %s", r.status, r.body)
		}
		if n := countRows(t, h.db, `SELECT COUNT(*) FROM label_assignments WHERE definition_id = $1`, cascade.ID); n != 0 {
			t.Errorf("cascade left %d assignments", n)
		}
		if n := countRows(t, h.db, `SELECT COUNT(*) FROM label_assignments_orphaned WHERE definition_id = $1`, cascade.ID); n != 0 {
			t.Errorf("cascade orphaned %d assignments", n)
		}
		want := []string{node1, node2}
		slices.Sort(want)
		if got := rec.take(); !slices.Equal(got, want) {
			t.Errorf("cascade told the watcher of %v, want %v", got, want)
		}
		if l := h.labelsOn(t, "resource", tr.vm); len(l) != 0 {
			t.Errorf("labels after cascade: %v", l)
		}

		orphan := def("cost", "orphan")
		h.assign(t, "resource", tr.vm, orphan.ID, "cc-1")
		assignNode(t, h, orphan.ID, node1, "cc-2")
		if r := h.call(t, "DELETE", defPath(orphan.ID), nil); r.status != 204 {
			t.Fatalf("orphan delete: %d %s", r.status, r.body)
		}
		if got := rec.take(); !slices.Equal(got, []string{node1}) {
			t.Errorf("orphan told the watcher of %v, want [%s]", got, node1)
		}
		if l := h.labelsOn(t, "resource", tr.vm); len(l) != 0 {
			t.Errorf("orphaned assignments still listed: %v", l)
		}
		if n := countRows(t, h.db, `SELECT COUNT(*) FROM label_assignments_orphaned
			WHERE definition_id = $1 AND qualified_key = $2`, orphan.ID, orphan.QualifiedKey); n != 2 {
			t.Errorf("%d orphaned rows kept, want 2", n)
		}
		labels, err := h.labels.LabelsOf(context.Background(), h.db, "resource", tr.vm)
		if err != nil || len(labels) != 0 {
			t.Errorf("selectors still see orphaned labels: %v %v", labels, err)
		}
		// The key is free again.
		again := def("cost", "block")
		if again.QualifiedKey != orphan.QualifiedKey || again.ID == orphan.ID {
			t.Errorf("recreated %+v", again)
		}

		var deleted int
		for _, r := range h.auditRows(t, "label_definition.delete") {
			if r.outcome == audit.Succeeded && r.chain == tr.acme {
				deleted++
			}
		}
		if deleted != 3 {
			t.Errorf("%d succeeded deletes audited on acme's chain, want 3", deleted)
		}
	})
}
