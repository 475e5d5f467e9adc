package labels_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// TestDefinitionDeleteReachesNodes deletes a node label's Definition in the
// whole control plane, on both databases: with cascade (and with orphan)
// the labelled node loses what a selector on that label gave it at once —
// here a secret bound by selector vanishes from its desired state and its
// fetch — because the real node watchers (policy and secrets) are told in
// the delete's transaction and the node gets its event.
func TestDefinitionDeleteReachesNodes(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			enr := e.NewEnrolment(t, "lbl", "100.71.0.0/16", 2)
			n := e.RegisterNode(t, enr.Token.Token, "db1", 1)
			for _, onDelete := range []string{"cascade", "orphan"} {
				defID, key := e.DefineNodeLabel(t, enr.Domain.ID, "role-"+onDelete)
				if st, raw := e.Do(t, "PATCH", "/v1/label-definitions/"+defID, apiv1.UpdateLabelDefinition{OnDelete: &onDelete}, nil); st != 200 {
					t.Fatalf("patch on_delete: %d %s", st, raw)
				}
				e.LabelNode(t, defID, n.ID, "db")
				secret := "/v1/projects/" + enr.Project.ID + "/secrets/pw-" + onDelete
				if st, raw := e.Do(t, "PUT", secret, apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString([]byte("s3cret"))}, nil); st/100 != 2 {
					t.Fatalf("put secret: %d %s", st, raw)
				}
				if st, raw := e.Do(t, "POST", secret+"/bindings", apiv1.SecretBindingRequest{Selector: key + "=db"}, nil); st != 201 {
					t.Fatalf("bind: %d %s", st, raw)
				}
				if refs := secretRefs(t, e, n); len(refs) != 1 {
					t.Fatalf("%s: before the delete the node has %v, want the secret", onDelete, refs)
				}
				told := secretEvents(t, e, n)
				if st, raw := e.Do(t, "DELETE", "/v1/label-definitions/"+defID, nil, nil); st != 204 {
					t.Fatalf("%s delete: %d %s", onDelete, st, raw)
				}
				if refs := secretRefs(t, e, n); len(refs) != 0 {
					t.Errorf("%s: after the delete the node still has %v", onDelete, refs)
				}
				// The node is told at once: one more secrets event, with an
				// empty index.
				evs := secretEvents(t, e, n)
				if len(evs) != len(told)+1 || len(evs[len(evs)-1].SecretRefs) != 0 {
					t.Errorf("%s: the node was not told: %d events before, %+v after", onDelete, len(told), evs)
				}
				resp, raw := e.NodeSend(t, n, "GET", "/v1/nodes/"+n.ID+"/secrets/pw-"+onDelete, nil, nil)
				if resp.StatusCode != 404 {
					t.Errorf("%s: the node still fetches the secret: %d %s", onDelete, resp.StatusCode, raw)
				}
			}
		})
	}
}

func secretRefs(t *testing.T, e *apptest.Env, n apptest.Node) []nodeproto.SecretRef {
	t.Helper()
	var state nodeproto.StateSnapshot
	resp, raw := e.NodeSend(t, n, "GET", "/v1/nodes/"+n.ID+"/state", nil, nil)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &state) != nil {
		t.Fatalf("node state: %d %s", resp.StatusCode, raw)
	}
	return state.SecretRefs
}

// secretEvents reads the node.secrets_updated events queued for n.
func secretEvents(t *testing.T, e *apptest.Env, n apptest.Node) []nodeproto.NodeSecretsUpdated {
	t.Helper()
	rows, err := e.Server.DB.Query(`SELECT payload FROM event_log WHERE node_id = $1 AND event_type = $2 ORDER BY seq`,
		n.ID, nodeproto.EventNodeSecretsUpdated)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []nodeproto.NodeSecretsUpdated
	for rows.Next() {
		var raw string
		var u nodeproto.NodeSecretsUpdated
		if err := rows.Scan(&raw); err != nil || json.Unmarshal([]byte(raw), &u) != nil {
			t.Fatalf("event payload %q: %v", raw, err)
		}
		out = append(out, u)
	}
	return out
}
