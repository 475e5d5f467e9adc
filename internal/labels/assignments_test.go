package labels

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
)

const missingID = "0190a0a0-0000-7000-8000-000000000001"

func unassignPath(kind, id, key string) string {
	return labelsPath(kind, id) + "?qualified_key=" + url.QueryEscape(key)
}

func TestAssignReplaceAddRemove(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		env := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "env",
			ValueSchema: apiv1.ValueSchema{Kind: KindEnum, Values: []string{"dev", "prod"}}})
		roles := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "role",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(3)})

		empty := h.call(t, "GET", labelsPath("resource", tr.vm), nil)
		if empty.status != 200 || strings.TrimSpace(string(empty.body)) != `{"items":[]}` {
			t.Errorf("no labels: %d %q, want {\"items\":[]} without next_cursor", empty.status, empty.body)
		}

		first := h.assign(t, "resource", tr.vm, env.ID, "dev")
		if first.AssignedBy != "user:"+h.adminID || first.QualifiedKey != "platform/env" || first.ObjectKind != "resource" ||
			first.ObjectID != tr.vm || first.DefinitionID != env.ID || first.AssignedAt.IsZero() {
			t.Errorf("assignment %+v", first)
		}
		second := h.assign(t, "resource", tr.vm, env.ID, "prod")
		if got := h.labelsOn(t, "resource", tr.vm); !slices.Equal(got, []string{"platform/env=prod"}) {
			t.Errorf("after replacing: %v", got)
		}
		again := h.assign(t, "resource", tr.vm, env.ID, "prod")
		if !again.AssignedAt.Equal(second.AssignedAt) {
			t.Errorf("repeating a value re-stamped it: %v then %v", second.AssignedAt, again.AssignedAt)
		}

		for _, v := range []string{"web", "db", "cache"} {
			h.assign(t, "resource", tr.vm, roles.ID, v)
		}
		r := h.fails(t, 409, "label_cardinality_exceeded", "PUT", labelsPath("resource", tr.vm),
			apiv1.AssignLabel{DefinitionID: roles.ID, Value: "queue"})
		if !strings.Contains(r.detail(), "3") {
			t.Errorf("detail %q does not name the limit", r.detail())
		}
		h.assign(t, "resource", tr.vm, roles.ID, "db") // present already: not a fourth value
		want := []string{"platform/env=prod", "platform/role=cache", "platform/role=db", "platform/role=web"}
		if got := h.labelsOn(t, "resource", tr.vm); !slices.Equal(got, want) {
			t.Errorf("labels %v, want %v", got, want)
		}

		for _, p := range []string{
			unassignPath("resource", tr.vm, "platform/role"),
			unassignPath("resource", tr.vm, "platform/role"), // again: still 204
			unassignPath("resource", tr.vm, "platform/nothing"),
			unassignPath("resource", missingID, "platform/env"),
		} {
			if r := h.call(t, "DELETE", p, nil); r.status != 204 {
				t.Errorf("DELETE %s: %d %s", p, r.status, r.body)
			}
		}
		if got := h.labelsOn(t, "resource", tr.vm); !slices.Equal(got, []string{"platform/env=prod"}) {
			t.Errorf("after removing role: %v", got)
		}
		h.fails(t, 400, "invalid_body", "DELETE", labelsPath("resource", tr.vm), nil)
	})
}

func TestImmutable(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		owner := h.define(t, apiv1.CreateLabelDefinition{Scope: "domain:" + tr.acme, LocalKey: "owner",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Immutable: true})
		tags := h.define(t, apiv1.CreateLabelDefinition{Scope: "domain:" + tr.acme, LocalKey: "tag",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Immutable: true, Cardinality: ptr(2)})
		if !owner.Immutable {
			t.Fatal("immutable was not kept")
		}
		h.assign(t, "project", tr.web, owner.ID, "alice")
		h.assign(t, "project", tr.web, owner.ID, "alice") // the same value is no replacement
		h.fails(t, 409, "immutable_violation", "PUT", labelsPath("project", tr.web),
			apiv1.AssignLabel{DefinitionID: owner.ID, Value: "bob"})
		h.assign(t, "project", tr.web, tags.ID, "x")
		h.assign(t, "project", tr.web, tags.ID, "y") // adding is not replacing
		h.fails(t, 409, "label_cardinality_exceeded", "PUT", labelsPath("project", tr.web),
			apiv1.AssignLabel{DefinitionID: tags.ID, Value: "z"})
		want := []string{"acme/owner=alice", "acme/tag=x", "acme/tag=y"}
		if got := h.labelsOn(t, "project", tr.web); !slices.Equal(got, want) {
			t.Errorf("labels %v, want %v", got, want)
		}
		// Removal is allowed; a later value is a new assignment.
		if r := h.call(t, "DELETE", unassignPath("project", tr.web, "acme/owner"), nil); r.status != 204 {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		h.assign(t, "project", tr.web, owner.ID, "bob")
	})
}

func TestAssignmentCap(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		many := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "many",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(0)})
		more := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "more",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(0)})
		single := h.define(t, stringDef("platform", "single"))

		// Cardinality 0 means up to 64 values.
		for i := range MaxCardinality {
			h.assign(t, "resource", tr.dbvm, many.ID, fmt.Sprintf("v%02d", i))
		}
		h.fails(t, 409, "label_cardinality_exceeded", "PUT", labelsPath("resource", tr.dbvm),
			apiv1.AssignLabel{DefinitionID: many.ID, Value: "v64"})

		// 64 assignments per object, across keys.
		for i := range MaxAssignments - 1 {
			h.assign(t, "resource", tr.vm, many.ID, fmt.Sprintf("v%02d", i))
		}
		h.assign(t, "resource", tr.vm, single.ID, "a")
		h.fails(t, 409, "label_cap_exceeded", "PUT", labelsPath("resource", tr.vm),
			apiv1.AssignLabel{DefinitionID: more.ID, Value: "x"})
		h.fails(t, 409, "label_cap_exceeded", "PUT", labelsPath("resource", tr.vm),
			apiv1.AssignLabel{DefinitionID: many.ID, Value: "v63"})
		h.assign(t, "resource", tr.vm, single.ID, "b") // replacing keeps the count
		h.assign(t, "resource", tr.vm, many.ID, "v05") // present already
		got := h.labelsOn(t, "resource", tr.vm)
		if len(got) != MaxAssignments || !slices.Contains(got, "platform/single=b") || slices.Contains(got, "platform/single=a") {
			t.Errorf("%d labels (single=b present: %v), want %d", len(got), slices.Contains(got, "platform/single=b"), MaxAssignments)
		}
	})
}

func TestAssignmentErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		plat := h.define(t, stringDef("platform", "env"))
		resOnly := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "size",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, ApplicableKinds: []string{"resource"}})
		acme := h.define(t, stringDef("domain:"+tr.acme, "team"))
		globex := h.define(t, stringDef("domain:"+tr.globex, "team"))
		web := h.define(t, stringDef("project:"+tr.web, "tier"))
		multi := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "roles",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(4)})

		put := func(kind, id, def, value string) (string, apiv1.AssignLabel) {
			return labelsPath(kind, id), apiv1.AssignLabel{DefinitionID: def, Value: value}
		}
		cases := []struct {
			name, kind, id, def, value string
			status                     int
			code                       string
		}{
			{"node", "node", tr.vm, plat.ID, "x", 404, "object_not_found"},
			{"unknown kind", "vm", tr.vm, plat.ID, "x", 400, "invalid_object_kind"},
			{"object id", "resource", "42", plat.ID, "x", 400, "invalid_object_id"},
			{"definition id", "resource", tr.vm, "env", "x", 400, "invalid_label_definition_id"},
			{"no definition", "resource", tr.vm, missingID, "x", 404, "label_definition_not_found"},
			{"no object", "resource", missingID, plat.ID, "x", 404, "object_not_found"},
			{"no domain", "domain", missingID, plat.ID, "x", 404, "object_not_found"},
			{"kind", "project", tr.web, resOnly.ID, "x", 422, "label_not_applicable"},
			{"other domain", "resource", tr.vm, globex.ID, "x", 422, "label_out_of_scope"},
			{"other domain itself", "domain", tr.globex, acme.ID, "x", 422, "label_out_of_scope"},
			{"sibling project", "resource", tr.dbvm, web.ID, "x", 422, "label_out_of_scope"},
			{"project def on domain", "domain", tr.acme, web.ID, "x", 422, "label_out_of_scope"},
			{"empty value", "resource", tr.vm, plat.ID, "", 422, "label_value_invalid"},
			{"control character", "resource", tr.vm, plat.ID, "a\tb", 422, "label_value_invalid"},
			{"comma in multi", "resource", tr.vm, multi.ID, "a,b", 422, "label_value_invalid"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, b := put(c.kind, c.id, c.def, c.value)
				h.fails(t, c.status, c.code, "PUT", p, b)
			})
		}
		for _, c := range []struct {
			kind, id string
		}{{"domain", tr.acme}, {"project", tr.web}, {"resource", tr.vm}, {"domain", tr.globex}} {
			if got := h.labelsOn(t, c.kind, c.id); len(got) != 0 {
				t.Errorf("%s %s holds %v after refused writes", c.kind, c.id, got)
			}
		}

		// What is in scope works.
		h.assign(t, "domain", tr.acme, acme.ID, "core")
		h.assign(t, "project", tr.data, acme.ID, "core")
		h.assign(t, "resource", tr.vm, acme.ID, "core")
		h.assign(t, "project", tr.web, web.ID, "front")
		h.assign(t, "resource", tr.vm, web.ID, "front")
		h.assign(t, "domain", tr.globex, plat.ID, "prod")
		h.assign(t, "resource", tr.gvm, resOnly.ID, "xl")
		h.assign(t, "resource", tr.vm, multi.ID, "a b")

		h.fails(t, 404, "object_not_found", "GET", labelsPath("node", tr.vm), nil)
		h.fails(t, 400, "invalid_object_id", "GET", labelsPath("resource", "x"), nil)
		h.fails(t, 404, "object_not_found", "GET", labelsPath("project", missingID), nil)
		h.fails(t, 400, "invalid_object_kind", "DELETE", unassignPath("vm", tr.vm, "platform/env"), nil)
	})
}

func TestAssignmentAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		plat := h.define(t, stringDef("platform", "env"))
		acme := h.define(t, stringDef("domain:"+tr.acme, "team"))
		h.assign(t, "resource", tr.vm, acme.ID, "core")

		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", labelsPath("resource", tr.vm), nil},
			{"PUT", labelsPath("resource", tr.vm), apiv1.AssignLabel{DefinitionID: plat.ID, Value: "x"}},
			{"DELETE", unassignPath("resource", tr.vm, "acme/team"), nil},
			{"GET", labelsPath("resource", missingID), nil}, // 403 before the object is looked up
		} {
			if r := h.callAs(t, h.outsider, c.method, c.path, c.body); r.status != 403 || r.code() != "permission_denied" {
				t.Errorf("outsider %s %s: %d %s", c.method, c.path, r.status, r.body)
			}
		}

		h.takeChecks()
		h.refuse("maintainer", "resource:"+tr.vm)
		h.fails(t, 403, "permission_denied", "PUT", labelsPath("resource", tr.vm), apiv1.AssignLabel{DefinitionID: missingID, Value: "x"})
		if c := h.takeChecks(); !slices.Equal(c, []string{"maintainer resource:" + tr.vm}) {
			t.Errorf("checks %v: maintainer must be checked before the Definition is read", c)
		}
		h.fails(t, 403, "permission_denied", "GET", labelsPath("resource", tr.vm), nil)
		h.fails(t, 403, "permission_denied", "DELETE", unassignPath("resource", tr.vm, "acme/team"), nil)
		h.allowAll()

		h.refuse("assign", "domain:"+tr.acme)
		h.takeChecks()
		h.fails(t, 403, "permission_denied", "PUT", labelsPath("resource", tr.vm), apiv1.AssignLabel{DefinitionID: acme.ID, Value: "ops"})
		if c := h.takeChecks(); !slices.Equal(c, []string{"maintainer resource:" + tr.vm, "assign domain:" + tr.acme}) {
			t.Errorf("checks %v, want maintainer on the object then assign on the scope", c)
		}
		h.fails(t, 403, "permission_denied", "DELETE", unassignPath("resource", tr.vm, "acme/team"), nil)
		h.takeChecks()
		h.assign(t, "resource", tr.vm, plat.ID, "prod")
		if c := h.takeChecks(); !slices.Equal(c, []string{"maintainer resource:" + tr.vm, "assign platform:platform"}) {
			t.Errorf("checks %v, want assign on the platform", c)
		}
		if got := h.labelsOn(t, "resource", tr.vm); !slices.Equal(got, []string{"acme/team=core", "platform/env=prod"}) {
			t.Errorf("labels %v: a refused write changed something", got)
		}
	})
}

func TestAssignmentsAudited(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		plat := h.define(t, stringDef("platform", "env"))
		acme := h.define(t, stringDef("domain:"+tr.acme, "team"))
		web := h.define(t, stringDef("project:"+tr.web, "tier"))
		creates := h.auditRows(t, "label_definition.create")
		wantCreates := []auditRow{
			{audit.PlatformChain, "label_definition.create", audit.Succeeded, "label_definition", plat.ID, "user:" + h.adminID},
			{tr.acme, "label_definition.create", audit.Succeeded, "label_definition", acme.ID, "user:" + h.adminID},
			{tr.acme, "label_definition.create", audit.Succeeded, "label_definition", web.ID, "user:" + h.adminID},
		}
		if !slices.Equal(creates, wantCreates) {
			t.Errorf("create entries\n%+v\nwant\n%+v", creates, wantCreates)
		}

		h.assign(t, "resource", tr.vm, acme.ID, "core")
		h.assign(t, "project", tr.data, plat.ID, "dev")
		h.assign(t, "domain", tr.globex, plat.ID, "prod")
		h.fails(t, 422, "label_value_invalid", "PUT", labelsPath("resource", tr.vm), apiv1.AssignLabel{DefinitionID: web.ID, Value: ""})
		assigns := h.auditRows(t, "label.assign")
		if n := len(assigns); n > 0 && assigns[n-1].outcome == audit.Failed {
			// The failure entry is appended by the API middleware, whose
			// identity attribution is not this package's concern.
			assigns[n-1].identity = ""
		}
		wantAssigns := []auditRow{
			{tr.acme, "label.assign", audit.Succeeded, "resource", tr.vm, "user:" + h.adminID},
			{tr.acme, "label.assign", audit.Succeeded, "project", tr.data, "user:" + h.adminID},
			{tr.globex, "label.assign", audit.Succeeded, "domain", tr.globex, "user:" + h.adminID},
			{tr.acme, "label.assign", audit.Failed, "resource", tr.vm, ""},
		}
		if !slices.Equal(assigns, wantAssigns) {
			t.Errorf("assign entries\n%+v\nwant\n%+v", assigns, wantAssigns)
		}

		if r := h.call(t, "DELETE", unassignPath("resource", tr.vm, "acme/team"), nil); r.status != 204 {
			t.Fatalf("DELETE: %d", r.status)
		}
		unassigns := h.auditRows(t, "label.unassign")
		if want := []auditRow{{tr.acme, "label.unassign", audit.Succeeded, "resource", tr.vm, "user:" + h.adminID}}; !slices.Equal(unassigns, want) {
			t.Errorf("unassign entries %+v, want %+v", unassigns, want)
		}
		for _, chain := range []string{audit.PlatformChain, tr.acme, tr.globex} {
			res, err := audit.Verify(context.Background(), h.db, chain, 0, 0)
			if err != nil || !res.OK {
				t.Errorf("chain %s does not verify: %+v %v", chain, res, err)
			}
		}
	})
}

// TestConcurrentAssignments races writers on one object: the object lock
// must keep cardinality and replacement exact on both databases.
func TestConcurrentAssignments(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		three := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "three",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(3)})
		one := h.define(t, stringDef("platform", "one"))
		const writers = 8
		statuses := make(chan int, 2*writers)
		var wg sync.WaitGroup
		for i := range writers {
			for _, def := range []string{three.ID, one.ID} {
				wg.Go(func() {
					r := h.call(t, "PUT", labelsPath("resource", tr.vm), apiv1.AssignLabel{DefinitionID: def, Value: fmt.Sprintf("v%d", i)})
					statuses <- r.status
				})
			}
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for s := range statuses {
			counts[s]++
		}
		if counts[200] != writers+3 || counts[409] != writers-3 {
			t.Errorf("statuses %v, want %d × 200 and %d × 409", counts, writers+3, writers-3)
		}
		var nThree, nOne int
		for _, l := range h.labelsOn(t, "resource", tr.vm) {
			switch {
			case strings.HasPrefix(l, "platform/three="):
				nThree++
			case strings.HasPrefix(l, "platform/one="):
				nOne++
			}
		}
		if nThree != 3 || nOne != 1 {
			t.Errorf("%d values of three, %d of one; want 3 and 1", nThree, nOne)
		}
	})
}
