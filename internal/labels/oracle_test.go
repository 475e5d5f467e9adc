package labels_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestUnassignIsNoExistenceOracle: Issue 7 row 17: a Domain admin removing
// a label from its own object learned whether another Domain's label
// Definition existed (403 for globex/team, 204 for globex/nosuch). Whatever
// the key names (another Domain's existing or missing key, a Domain that
// does not exist), the answer is the same when the label is not set on the
// object; removing a label that is set still needs assign on its
// Definition's scope.
func TestUnassignIsNoExistenceOracle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testUnassignIsNoExistenceOracle(t, apptest.Start(t, b))
		})
	}
}

func testUnassignIsNoExistenceOracle(t *testing.T, e *apptest.Env) {
	var acme, globex apiv1.Domain
	var web apiv1.Project
	var vm apiv1.Resource
	mustDo(t, e, e.Token, "POST", "/v1/domains", apiv1.CreateDomain{Name: "acme", Slug: "acme", MeshCIDR: "10.10.0.0/16"}, 201, &acme)
	mustDo(t, e, e.Token, "POST", "/v1/domains", apiv1.CreateDomain{Name: "globex", Slug: "globex", MeshCIDR: "10.20.0.0/16"}, 201, &globex)
	mustDo(t, e, e.Token, "POST", "/v1/projects", apiv1.CreateProject{DomainID: acme.ID, Name: "web", Slug: "web"}, 201, &web)
	mustDo(t, e, e.Token, "POST", "/v1/projects/"+web.ID+"/resources", apiv1.CreateResource{Origin: "adopted", Kind: "vm"}, 201, &vm)
	admin, tok := e.NewUser(t, "acme-admin")
	mustDo(t, e, e.Token, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + admin,
		Relation: "admin", Resource: "domain:" + acme.ID}, 201, nil)
	str := apiv1.ValueSchema{Kind: "string"}
	var team, env, own apiv1.LabelDefinition
	mustDo(t, e, e.Token, "POST", "/v1/label-definitions", apiv1.CreateLabelDefinition{Scope: "domain:" + globex.ID,
		LocalKey: "team", ValueSchema: str}, 201, &team)
	mustDo(t, e, e.Token, "POST", "/v1/label-definitions", apiv1.CreateLabelDefinition{Scope: "platform",
		LocalKey: "env", ValueSchema: str}, 201, &env)
	mustDo(t, e, e.Token, "POST", "/v1/label-definitions", apiv1.CreateLabelDefinition{Scope: "domain:" + acme.ID,
		LocalKey: "owner", ValueSchema: str}, 201, &own)
	path := "/v1/objects/resource/" + vm.ID + "/labels"
	unassign := func(tok, key string) (int, string) {
		st, raw := e.DoAs(t, tok, "DELETE", path+"?qualified_key="+url.QueryEscape(key), nil, nil)
		var p map[string]any
		if json.Unmarshal(raw, &p) == nil {
			delete(p, "correlation_id")
			norm, _ := json.Marshal(p)
			return st, string(norm)
		}
		return st, string(raw)
	}
	st0, body0 := unassign(tok, "globex/nosuch")
	for _, key := range []string{team.QualifiedKey, "nosuchdomain/team", env.QualifiedKey, own.QualifiedKey} {
		if st, body := unassign(tok, key); st != st0 || body != body0 {
			t.Errorf("unassign %s: %d %s; unassign globex/nosuch: %d %s: the answers differ", key, st, body, st0, body0)
		}
	}
	if st0 != 204 {
		t.Errorf("unassign of a label that is not set: %d %s, want 204", st0, body0)
	}
	// A label that is set: the Domain admin removes its own Domain's, and
	// is refused the platform's (which it sees on the object anyway).
	mustDo(t, e, e.Token, "PUT", path, apiv1.AssignLabel{DefinitionID: env.ID, Value: "prod"}, 200, nil)
	mustDo(t, e, e.Token, "PUT", path, apiv1.AssignLabel{DefinitionID: own.ID, Value: "ops"}, 200, nil)
	if st, body := unassign(tok, env.QualifiedKey); st != 403 {
		t.Errorf("unassign of a set platform label by a Domain admin: %d %s, want 403", st, body)
	}
	if st, body := unassign(tok, own.QualifiedKey); st != 204 {
		t.Errorf("unassign of a set Domain label by its admin: %d %s, want 204", st, body)
	}
	var got apiv1.LabelAssignmentList
	mustDo(t, e, e.Token, "GET", path, nil, 200, &got)
	if len(got.Items) != 1 || got.Items[0].QualifiedKey != env.QualifiedKey {
		t.Errorf("labels after unassign: %+v, want only %s", got.Items, env.QualifiedKey)
	}
}

func mustDo(t *testing.T, e *apptest.Env, tok, method, path string, body any, status int, out any) {
	t.Helper()
	if st, raw := e.DoAs(t, tok, method, path, body, out); st != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, st, raw, status)
	}
}
