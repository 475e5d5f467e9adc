package deliver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

type node struct {
	ID  string `json:"node_id"`
	NSK string `json:"nsk"`
}

type world struct {
	e       *apptest.Env
	enr     apptest.Enrolment
	roleDef string
	roleKey string
	nodes   map[string]node
}

func call(t *testing.T, e *apptest.Env, bearer, method, path string, body any) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	if body == nil {
		raw = nil
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, e.URL+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "plexd/test")
	req.Header.Set(nodeproto.HeaderPlexdProtocol, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// newWorld: a Domain set back to deny, a role label, and nodes named by
// role (web1 → role=web).
func newWorld(t *testing.T, b apptest.Backend, names ...string) *world {
	e := apptest.Start(t, b)
	w := &world{e: e, enr: e.NewEnrolment(t, "pd", "100.90.0.0/16", 10), nodes: map[string]node{}}
	var got struct {
		PolicyDefault string `json:"policy_default"`
	}
	path := "/v1/domains/" + w.enr.Domain.ID + "/policy-default"
	if st, raw := e.Do(t, "PUT", path, map[string]string{"policy_default": "bogus"}, nil); st != 400 || !bytes.Contains(raw, []byte("invalid_body")) {
		t.Fatalf("bogus default: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "PUT", path, map[string]string{"policy_default": "deny"}, &got); st != 200 || got.PolicyDefault != "deny" {
		t.Fatalf("deny default: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "GET", path, nil, &got); st != 200 || got.PolicyDefault != "deny" {
		t.Fatalf("read default: %d %s", st, raw)
	}
	var def apiv1.LabelDefinition
	if st, raw := e.Do(t, "POST", "/v1/label-definitions", map[string]any{"scope": "domain",
		"scope_id": w.enr.Domain.ID, "local_key": "role", "value_schema": map[string]any{"kind": "string"},
		"applicable_kinds": []string{"node"}}, &def); st != 201 {
		t.Fatalf("label definition: %d %s", st, raw)
	}
	w.roleDef, w.roleKey = def.ID, def.QualifiedKey
	for _, name := range names {
		pub := make([]byte, 32)
		rand.Read(pub)
		var n node
		st, raw := call(t, e, w.enr.Token.Token, "POST", "/v1/register", map[string]string{"token": w.enr.Token.Token,
			"public_key": base64.StdEncoding.EncodeToString(pub), "hostname": name})
		if st != 200 || json.Unmarshal(raw, &n) != nil || n.ID == "" {
			t.Fatalf("register %s: %d %s", name, st, raw)
		}
		w.nodes[name] = n
		w.label(t, name, name[:len(name)-1])
	}
	return w
}

func (w *world) label(t *testing.T, name, role string) {
	t.Helper()
	if st, raw := w.e.Do(t, "PUT", "/v1/objects/node/"+w.nodes[name].ID+"/labels",
		map[string]any{"definition_id": w.roleDef, "value": role}, nil); st/100 != 2 {
		t.Fatalf("label %s: %d %s", name, st, raw)
	}
}

func (w *world) state(t *testing.T, name string) nodeproto.StateSnapshot {
	t.Helper()
	n := w.nodes[name]
	st, raw := call(t, w.e, n.NSK, "GET", "/v1/nodes/"+n.ID+"/state", nil)
	var doc nodeproto.StateSnapshot
	if st != 200 || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("state of %s: %d %s", name, st, raw)
	}
	if err := doc.StateResponse.Validate(time.Now()); err != nil {
		t.Fatalf("state of %s does not validate: %v", name, err)
	}
	return doc
}

// events returns the number of events of type typ in the node's log.
func (w *world) events(t *testing.T, name, typ string) int {
	t.Helper()
	var n int
	if err := w.e.Server.DB.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM event_log WHERE node_id = $1 AND event_type = $2`, w.nodes[name].ID, typ).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *world) peers(t *testing.T, name string) []string {
	var out []string
	byID := map[string]string{}
	for k, n := range w.nodes {
		byID[n.ID] = k
	}
	for _, p := range w.state(t, name).Peers {
		out = append(out, byID[p.ID])
	}
	slices.Sort(out)
	return out
}

// TestDeliveryOnTheControlPlane: the real control plane, policies through
// the operator API, labels through the label API, state and events as
// the nodes see them.
func TestDeliveryOnTheControlPlane(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newWorld(t, b, "web1", "db1", "other1")
			// Deny default, no policy: nobody sees anybody.
			if got := w.peers(t, "web1"); len(got) != 0 {
				t.Fatalf("deny default: web1 sees %v", got)
			}
			st, raw := w.e.Do(t, "POST", "/v1/projects/"+w.enr.Project.ID+"/policies", map[string]any{
				"slug": "web-db", "selector": map[string]string{"source": w.roleKey + "=web", "destination": w.roleKey + "=db"},
				"rules": []map[string]any{{"action": "allow", "protocol": "tcp", "source_cidr": "0.0.0.0/0",
					"destination_cidr": "0.0.0.0/0", "ports": map[string]int{"from": 5432, "to": 5432}}}}, nil)
			if st != 201 {
				t.Fatalf("create policy: %d %s", st, raw)
			}
			db := w.state(t, "db1")
			if db.Policy == nil || len(db.Policy.Rules) != 1 || db.Policy.Rules[0].Ports.From != 5432 {
				t.Fatalf("db1 policy: %+v", db.Policy)
			}
			if got := w.peers(t, "db1"); !slices.Equal(got, []string{"web1"}) {
				t.Fatalf("db1 peers %v", got)
			}
			if w.events(t, "db1", nodeproto.EventPolicyUpdated) != 1 || w.events(t, "other1", nodeproto.EventPolicyUpdated) != 0 {
				t.Fatalf("policy_updated: db1 %d, other1 %d", w.events(t, "db1", nodeproto.EventPolicyUpdated),
					w.events(t, "other1", nodeproto.EventPolicyUpdated))
			}
			// Relabel other1 to web: db1 gains a source and a peer; web1 is
			// not told anything.
			web1Before := w.events(t, "web1", nodeproto.EventPolicyUpdated)
			w.label(t, "other1", "web")
			if got := w.peers(t, "db1"); !slices.Equal(got, []string{"other1", "web1"}) {
				t.Fatalf("db1 peers after relabel %v", got)
			}
			if w.events(t, "db1", nodeproto.EventPolicyUpdated) != 2 || w.events(t, "web1", nodeproto.EventPolicyUpdated) != web1Before {
				t.Fatal("relabel told the wrong nodes")
			}
			if w.events(t, "other1", nodeproto.EventPeerAdded) == 0 {
				t.Fatal("other1 not told of db1")
			}
		})
	}
}
