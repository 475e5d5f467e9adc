package labels

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
)

func ptr[T any](v T) *T { return &v }

func TestDefinitionScopesAndKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		plat := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "env",
			ValueSchema: apiv1.ValueSchema{Kind: KindEnum, Values: []string{"dev", "prod"}}, Description: "stage",
			ApplicableKinds: []string{"resource", "project", "resource"}})
		dom := h.define(t, apiv1.CreateLabelDefinition{Scope: "domain", ScopeID: tr.acme, LocalKey: "team",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}})
		compact := h.define(t, stringDef("domain:"+tr.acme, "cost.center"))
		proj := h.define(t, apiv1.CreateLabelDefinition{Scope: "project", ScopeID: tr.web, LocalKey: "tier",
			ValueSchema: apiv1.ValueSchema{Kind: KindString}, Cardinality: ptr(0)})

		for _, c := range []struct {
			d                    apiv1.LabelDefinition
			scope, scopeID, qkey string
		}{
			{plat, "platform", "00000000-0000-0000-0000-000000000000", "platform/env"},
			{dom, "domain", tr.acme, "acme/team"},
			{compact, "domain", tr.acme, "acme/cost.center"},
			{proj, "project", tr.web, "acme.web/tier"},
		} {
			if c.d.Scope != c.scope || c.d.ScopeID != c.scopeID || c.d.QualifiedKey != c.qkey {
				t.Errorf("%s: scope %s %s key %s, want %s %s %s", c.d.LocalKey, c.d.Scope, c.d.ScopeID, c.d.QualifiedKey,
					c.scope, c.scopeID, c.qkey)
			}
		}
		// Defaults and normalisation.
		if plat.Cardinality != 1 || plat.OnDelete != "block" || plat.CreatedBy != "user" || plat.Immutable {
			t.Errorf("defaults: %+v", plat)
		}
		if !slices.Equal(plat.ApplicableKinds, []string{"project", "resource"}) {
			t.Errorf("applicable_kinds = %v, want sorted and deduplicated", plat.ApplicableKinds)
		}
		if dom.ValueSchema.MaxLen == nil || *dom.ValueSchema.MaxLen != MaxValueLen {
			t.Errorf("string max_len = %v, want the default %d", dom.ValueSchema.MaxLen, MaxValueLen)
		}
		if dom.ApplicableKinds == nil || len(dom.ApplicableKinds) != 0 {
			t.Errorf("applicable_kinds = %#v, want [] (all kinds)", dom.ApplicableKinds)
		}
		if proj.Cardinality != 0 {
			t.Errorf("cardinality = %d, want 0 as sent", proj.Cardinality)
		}

		// The read matches what the create returned.
		got := ok[apiv1.LabelDefinition](t, h, 200, "GET", "/v1/label-definitions/"+plat.ID, nil)
		if got.QualifiedKey != plat.QualifiedKey || !got.CreatedAt.Equal(plat.CreatedAt) ||
			!slices.Equal(got.ValueSchema.Values, []string{"dev", "prod"}) || got.Description != "stage" {
			t.Errorf("read %+v, created %+v", got, plat)
		}
		r := h.call(t, "POST", "/v1/label-definitions", stringDef("platform", "loc"))
		if r.status != 201 || r.header.Get("Location") == "" ||
			!strings.HasPrefix(r.header.Get("Location"), "/v1/label-definitions/") {
			t.Errorf("create: %d, Location %q", r.status, r.header.Get("Location"))
		}
	})
}

func TestDefinitionList(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		for _, k := range []string{"d", "a", "c", "b", "e"} {
			h.define(t, stringDef("domain:"+tr.acme, k))
		}
		h.define(t, stringDef("domain:"+tr.globex, "zz"))
		h.define(t, stringDef("platform", "p"))
		h.define(t, stringDef("project:"+tr.web, "w"))

		var keys []string
		path := "/v1/label-definitions?limit=2&scope=" + url.QueryEscape("domain:"+tr.acme)
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("the listing does not end")
			}
			l := ok[apiv1.List[apiv1.LabelDefinition]](t, h, 200, "GET", path+cursor, nil)
			for _, d := range l.Items {
				keys = append(keys, d.LocalKey)
			}
			if l.NextCursor == "" {
				break
			}
			if len(l.Items) != 2 {
				t.Fatalf("a page with a next_cursor has %d items", len(l.Items))
			}
			cursor = "&cursor=" + l.NextCursor
		}
		if !slices.Equal(keys, []string{"a", "b", "c", "d", "e"}) {
			t.Errorf("acme Definitions %v, want a..e in order and nothing from other scopes", keys)
		}

		first := ok[apiv1.List[apiv1.LabelDefinition]](t, h, 200, "GET", path, nil)
		h.fails(t, 400, "invalid_cursor", "GET", "/v1/label-definitions?limit=2&scope=platform&cursor="+first.NextCursor, nil)

		for scope, want := range map[string]string{"platform": "p", "project:" + tr.web: "w", "domain:" + tr.globex: "zz"} {
			l := ok[apiv1.List[apiv1.LabelDefinition]](t, h, 200, "GET", "/v1/label-definitions?scope="+url.QueryEscape(scope), nil)
			if len(l.Items) != 1 || l.Items[0].LocalKey != want {
				t.Errorf("scope %s: %+v, want only %s", scope, l.Items, want)
			}
		}
		empty := h.call(t, "GET", "/v1/label-definitions?scope="+url.QueryEscape("project:"+tr.data), nil)
		if empty.status != 200 || !strings.Contains(string(empty.body), `"items":[]`) {
			t.Errorf("empty scope: %d %s, want items []", empty.status, empty.body)
		}
	})
}

func TestDefinitionErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		missing := "0190a0a0-0000-7000-8000-000000000001"
		h.define(t, stringDef("domain:"+tr.acme, "team"))
		body := func(mut func(*apiv1.CreateLabelDefinition)) apiv1.CreateLabelDefinition {
			b := stringDef("platform", "k")
			mut(&b)
			return b
		}
		schema := func(vs apiv1.ValueSchema) apiv1.CreateLabelDefinition {
			return body(func(b *apiv1.CreateLabelDefinition) { b.ValueSchema = vs })
		}
		cases := []struct {
			name   string
			status int
			code   string
			body   any
		}{
			{"scope kind", 400, "invalid_scope", body(func(b *apiv1.CreateLabelDefinition) { b.Scope = "tenant" })},
			{"domain without id", 400, "invalid_scope", body(func(b *apiv1.CreateLabelDefinition) { b.Scope = "domain" })},
			{"bad scope id", 400, "invalid_scope", body(func(b *apiv1.CreateLabelDefinition) { b.Scope, b.ScopeID = "project", "x" })},
			{"platform with id", 400, "invalid_scope", body(func(b *apiv1.CreateLabelDefinition) { b.ScopeID = tr.acme })},
			{"compact disagrees", 400, "invalid_scope", body(func(b *apiv1.CreateLabelDefinition) {
				b.Scope, b.ScopeID = "domain:"+tr.acme, tr.globex
			})},
			{"local key", 400, "invalid_body", body(func(b *apiv1.CreateLabelDefinition) { b.LocalKey = "Env" })},
			{"applicable kind", 400, "invalid_object_kind", body(func(b *apiv1.CreateLabelDefinition) { b.ApplicableKinds = []string{"vm"} })},
			{"no domain", 404, "domain_not_found", body(func(b *apiv1.CreateLabelDefinition) { b.Scope = "domain:" + missing })},
			{"no project", 404, "project_not_found", body(func(b *apiv1.CreateLabelDefinition) { b.Scope, b.ScopeID = "project", missing })},
			{"duplicate", 409, "label_definition_conflict", apiv1.CreateLabelDefinition{Scope: "domain", ScopeID: tr.acme,
				LocalKey: "team", ValueSchema: apiv1.ValueSchema{Kind: KindBoolean}}},
			{"duplicate compact", 409, "label_definition_conflict", stringDef("domain:"+tr.acme, "team")},
			{"enum without values", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindEnum})},
			{"enum twice", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindEnum, Values: []string{"a", "a"}})},
			{"regex without pattern", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindRegex})},
			{"regex not RE2", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindRegex, Pattern: `(?=a)b`})},
			{"regex too long", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindRegex, Pattern: strings.Repeat("é", 300)})},
			{"min above max", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindNumeric, Min: ptr[int64](5), Max: ptr[int64](4)})},
			{"foreign field", 422, "invalid_value_schema", schema(apiv1.ValueSchema{Kind: KindBoolean, Pattern: "x"})},
			{"max_len zero", 400, "invalid_body", schema(apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(0)})},
			{"max_len too big", 400, "invalid_body", schema(apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(257)})},
			{"default outside enum", 422, "invalid_value_schema", body(func(b *apiv1.CreateLabelDefinition) {
				b.ValueSchema, b.DefaultValue = apiv1.ValueSchema{Kind: KindEnum, Values: []string{"a"}}, "b"
			})},
			{"default not a number", 422, "invalid_value_schema", body(func(b *apiv1.CreateLabelDefinition) {
				b.ValueSchema, b.DefaultValue = apiv1.ValueSchema{Kind: KindNumeric}, "ten"
			})},
			{"cardinality", 400, "invalid_body", body(func(b *apiv1.CreateLabelDefinition) { b.Cardinality = ptr(65) })},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h.fails(t, c.status, c.code, "POST", "/v1/label-definitions", c.body)
			})
		}
		// A Domain whose slug is "platform" cannot shadow platform keys.
		odd := h.domain(t, "platform", "10.30.0.0/16")
		h.define(t, stringDef("platform", "owner"))
		h.fails(t, 409, "label_definition_conflict", "POST", "/v1/label-definitions", stringDef("domain:"+odd, "owner"))

		var n int
		if err := h.db.QueryRow(`SELECT COUNT(*) FROM label_definitions`).Scan(&n); err != nil || n != 2 {
			t.Errorf("%d Definitions stored (%v), want only team and owner", n, err)
		}
	})
}

func TestDefinitionReadErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		missing := "0190a0a0-0000-7000-8000-000000000001"
		h.fails(t, 400, "invalid_body", "GET", "/v1/label-definitions", nil)
		h.fails(t, 400, "invalid_scope", "GET", "/v1/label-definitions?scope=domain", nil)
		h.fails(t, 400, "invalid_scope", "GET", "/v1/label-definitions?scope=tenant:"+tr.acme, nil)
		h.fails(t, 400, "invalid_scope", "GET", "/v1/label-definitions?scope=domain:"+strings.ToUpper(tr.acme)+"x", nil)
		h.fails(t, 404, "domain_not_found", "GET", "/v1/label-definitions?scope=domain:"+missing, nil)
		h.fails(t, 404, "project_not_found", "GET", "/v1/label-definitions?scope=project:"+missing, nil)
		h.fails(t, 400, "invalid_label_definition_id", "GET", "/v1/label-definitions/nope", nil)
		h.fails(t, 404, "label_definition_not_found", "GET", "/v1/label-definitions/"+missing, nil)
	})
}

func TestDefinitionAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		plat := h.define(t, stringDef("platform", "env"))
		acme := h.define(t, stringDef("domain:"+tr.acme, "team"))
		web := h.define(t, stringDef("project:"+tr.web, "tier"))
		missing := "0190a0a0-0000-7000-8000-000000000001"

		// An identity without grants: 403 before any read, and an unreadable
		// Definition looks exactly like a missing one.
		out := func(method, path string, body any) reply { return h.callAs(t, h.outsider, method, path, body) }
		if r := out("GET", "/v1/label-definitions?scope=platform", nil); r.status != 403 || r.code() != "permission_denied" {
			t.Errorf("outsider list: %d %s", r.status, r.body)
		}
		if r := out("GET", "/v1/label-definitions?scope=domain:"+missing, nil); r.status != 403 {
			t.Errorf("outsider list of a missing Domain: %d, want 403 before the lookup", r.status)
		}
		if r := out("POST", "/v1/label-definitions", stringDef("domain:"+missing, "x")); r.status != 403 {
			t.Errorf("outsider create: %d %s", r.status, r.body)
		}
		hidden, absent := out("GET", "/v1/label-definitions/"+acme.ID, nil), out("GET", "/v1/label-definitions/"+missing, nil)
		if hidden.status != 404 || hidden.code() != "label_definition_not_found" || hidden.detail() != absent.detail() ||
			absent.status != 404 {
			t.Errorf("hidden %d %s vs absent %d %s", hidden.status, hidden.body, absent.status, absent.body)
		}
		if strings.Contains(string(hidden.body), "acme/team") {
			t.Errorf("a hidden Definition leaked: %s", hidden.body)
		}

		// Per-scope decisions: read is checked on the Definition's scope.
		h.refuse("read", "domain:"+tr.acme)
		h.fails(t, 404, "label_definition_not_found", "GET", "/v1/label-definitions/"+acme.ID, nil)
		h.fails(t, 403, "permission_denied", "GET", "/v1/label-definitions?scope=domain:"+tr.acme, nil)
		ok[apiv1.LabelDefinition](t, h, 200, "GET", "/v1/label-definitions/"+plat.ID, nil)
		ok[apiv1.LabelDefinition](t, h, 200, "GET", "/v1/label-definitions/"+web.ID, nil)
		h.takeChecks()
		h.refuse("manage", "project:"+tr.web)
		h.fails(t, 403, "permission_denied", "POST", "/v1/label-definitions", stringDef("project:"+tr.web, "other"))
		if c := h.takeChecks(); !slices.Equal(c, []string{"manage project:" + tr.web}) {
			t.Errorf("create checked %v, want manage on the project", c)
		}
		h.define(t, stringDef("domain:"+tr.globex, "other"))
		if c := h.takeChecks(); !slices.Equal(c, []string{"manage domain:" + tr.globex}) {
			t.Errorf("create checked %v, want manage on the domain", c)
		}
		h.define(t, stringDef("platform", "other"))
		if c := h.takeChecks(); !slices.Equal(c, []string{"manage platform:platform"}) {
			t.Errorf("create checked %v, want manage on the platform", c)
		}

		// Denials are audited; on the Domain's chain when known.
		denied := h.auditRows(t, "label_definition.create")
		var sawDenied bool
		for _, r := range denied {
			sawDenied = sawDenied || r.outcome == audit.Denied
		}
		if !sawDenied {
			t.Errorf("no denied label_definition.create entry in %+v", denied)
		}
	})
}
