package conformance

import "testing"

// The contract's ProjectSecretList and ProjectSecretRef (secret inventory).
var (
	projectSecretRef  = object(req("name", str), req("current_version", integer))
	projectSecretList = object(req("items", arrayOf(projectSecretRef)), opt("next_cursor", orNull(str)))
)

// secrets covers ListProjectSecrets: the inventory decodes strictly, on
// an empty and a filled Project and across pages, with the contract's
// codes for a bad cursor and an unknown Project.
func (c *client) secrets(t *testing.T, w *world) {
	base := "/v1/projects/" + w.projectID + "/secrets"
	c.ok(t, "GET", base, nil, projectSecretList)
	for _, name := range []string{"api-key", "db-password"} {
		c.ok(t, "PUT", base+"/"+name, map[string]any{"value": "dmFsdWU="}, projectSecretRef) // ours; answers {name, current_version, …}
	}
	page := c.ok(t, "GET", base+"?limit=1", nil, projectSecretList)
	next, _ := page["next_cursor"].(string)
	if next == "" {
		t.Fatal("ListProjectSecrets: no next_cursor on a partial page")
	}
	c.ok(t, "GET", base+"?limit=1&cursor="+next, nil, projectSecretList)
	c.problem(t, c.env.Token, "GET", base+"?cursor=tampered", nil, 400, "invalid_cursor")
	c.problem(t, c.env.Token, "GET", "/v1/projects/0190b6f2-0000-7000-8000-000000000000/secrets", nil, 404, "project_not_found")
}
