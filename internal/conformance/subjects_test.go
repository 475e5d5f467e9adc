package conformance

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestSubjectsAndDefinitionsConformance drives the issue 16 items 7 to 9 operations the
// way a client generated from the contract does, on both databases:
// PostAuthzLookupSubjects and PatchRelationTuple (RebacLookupResponse,
// RelationTuple), UpdateLabelDefinition and DeleteLabelDefinition
// (LabelDefinition, 204, the Problem of a refused narrowing or a blocked
// delete), GetDocs (text/html) and GetDocsAsset (the bundle, a Problem for
// an unknown asset). Every JSON answer decodes strictly against the
// mirrored schemas.
func TestSubjectsAndDefinitionsConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			c := &client{env: apptest.Start(t, b)}
			c.subjectsAndDefinitions(t)
		})
	}
}

func (c *client) subjectsAndDefinitions(t *testing.T) {
	d := c.ok(t, "POST", "/v1/domains", map[string]any{"name": "Sixteen", "slug": "sixteen", "mesh_cidr": "100.97.0.0/16"},
		domainResponse)
	domainID := str0(d, "id")
	p := c.ok(t, "POST", "/v1/projects", map[string]any{"domain_id": domainID, "name": "Web", "slug": "web"}, projectResponse)
	projectID := str0(p, "id")
	viewer := "user:" + uuid.NewString()
	tuples := "/v1/authz/relation-tuples?project_id=" + projectID
	tuple := c.ok(t, "POST", tuples, map[string]any{"subject": viewer, "relation": "viewer", "resource": "project:" + projectID},
		relationTuple)
	tupleID := str0(tuple, "id")

	t.Run("PostAuthzLookupSubjects", func(t *testing.T) {
		l := c.ok(t, "POST", "/v1/authz/lookup-subjects", map[string]any{"subject_type": "user", "relation": "read",
			"resource": "project:" + projectID}, rebacLookup)
		if items, _ := l["items"].([]any); !slices.Contains(items, any(viewer)) {
			t.Errorf("lookup-subjects misses the viewer %s: %v", viewer, l)
		}
		c.problem(t, c.env.Token, "POST", "/v1/authz/lookup-subjects", map[string]any{"subject_type": "user",
			"relation": "nope", "resource": "project:" + projectID}, 400, "unknown_relation")
	})
	t.Run("PatchRelationTuple", func(t *testing.T) {
		next := "user:" + uuid.NewString()
		r := c.ok(t, "PATCH", "/v1/authz/relation-tuples/"+tupleID, map[string]any{"subject": next, "relation": "operator",
			"resource": "project:" + projectID}, relationTuple)
		if str0(r, "id") != tupleID || str0(r, "subject") != next || str0(r, "relation") != "operator" {
			t.Errorf("PatchRelationTuple answered %v", r)
		}
		c.problem(t, c.env.Token, "PATCH", "/v1/authz/relation-tuples/"+uuid.NewString(), map[string]any{"subject": next,
			"relation": "viewer", "resource": "project:" + projectID}, 404, "relation_tuple_not_found")
	})

	def := c.ok(t, "POST", "/v1/label-definitions", map[string]any{"scope": "domain", "scope_id": domainID,
		"local_key": "tier", "value_schema": map[string]any{"kind": "enum", "values": []string{"gold", "silver"}},
		"applicable_kinds": []string{"project"}}, labelDefinition)
	defID := str0(def, "id")
	c.ok(t, "PUT", "/v1/objects/project/"+projectID+"/labels", map[string]any{"definition_id": defID, "value": "silver"},
		labelAssignment)
	t.Run("UpdateLabelDefinition", func(t *testing.T) {
		u := c.ok(t, "PATCH", "/v1/label-definitions/"+defID, map[string]any{"description": "Service tier",
			"value_schema": map[string]any{"kind": "enum", "values": []string{"gold", "silver", "bronze"}}}, labelDefinition)
		if str0(u, "description") != "Service tier" {
			t.Errorf("UpdateLabelDefinition answered %v", u)
		}
		c.problem(t, c.env.Token, "PATCH", "/v1/label-definitions/"+defID, map[string]any{
			"value_schema": map[string]any{"kind": "enum", "values": []string{"gold"}}}, 409, "label_definition_narrowing")
		c.problem(t, c.env.Token, "PATCH", "/v1/label-definitions/"+uuid.NewString(), map[string]any{"description": "x"},
			404, "label_definition_not_found")
	})
	t.Run("DeleteLabelDefinition", func(t *testing.T) {
		c.problem(t, c.env.Token, "DELETE", "/v1/label-definitions/"+defID, nil, 409, "assignments_exist")
		c.ok(t, "PATCH", "/v1/label-definitions/"+defID, map[string]any{"on_delete": "cascade"}, labelDefinition)
		c.ok(t, "DELETE", "/v1/label-definitions/"+defID, nil, nil)
		c.problem(t, c.env.Token, "DELETE", "/v1/label-definitions/"+defID, nil, 404, "label_definition_not_found")
	})

	t.Run("GetDocs", func(t *testing.T) {
		resp, body := c.env.Send(t, "", "GET", "/v1/docs")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(body), "docs/assets/") {
			t.Errorf("GetDocs: %d %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})
	t.Run("GetDocsAsset", func(t *testing.T) {
		resp, body := c.env.Send(t, "", "GET", "/v1/docs/assets/rapidoc-min.js")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/javascript") || len(body) == 0 {
			t.Errorf("GetDocsAsset: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		c.problem(t, "", http.MethodGet, "/v1/docs/assets/redoc.unknown.js", nil, 404, "docs_asset_not_found")
	})
}
