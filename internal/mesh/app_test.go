package mesh_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

type enrolled struct {
	NodeID string `json:"node_id"`
	MeshIP string `json:"mesh_ip"`
	NSK    string `json:"node_secret_key"`
	level  string
}

// call sends an agent request with bearer and, when level is set,
// X-Plexd-Protocol.
func call(t *testing.T, e *apptest.Env, bearer, level, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, e.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "plexd/test")
	if level != "" {
		req.Header.Set(nodeproto.HeaderPlexdProtocol, level)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func enrol(t *testing.T, e *apptest.Env, token, level string) enrolled {
	t.Helper()
	pub := make([]byte, 32)
	rand.Read(pub)
	body, _ := json.Marshal(map[string]string{"token": token, "public_key": base64.StdEncoding.EncodeToString(pub), "hostname": "h"})
	st, raw := call(t, e, token, level, http.MethodPost, "/v1/register", body)
	var n enrolled
	if st != 200 || json.Unmarshal(raw, &n) != nil {
		t.Fatalf("register: %d %s", st, raw)
	}
	n.level = level
	return n
}

// stateOf is the node's GET state peers by id, each validated.
func stateOf(t *testing.T, e *apptest.Env, n enrolled) (map[string]nodeproto.Peer, nodeproto.StateResponse) {
	t.Helper()
	st, raw := call(t, e, n.NSK, n.level, http.MethodGet, "/v1/nodes/"+n.NodeID+"/state", nil)
	var doc nodeproto.StateResponse
	if st != 200 || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("state of %s: %d %s", n.NodeID, st, raw)
	}
	out := map[string]nodeproto.Peer{}
	for _, p := range doc.Peers {
		if err := p.Validate(); err != nil || p.NodeID != p.ID {
			t.Fatalf("peer %s of %s: %v", p.ID, n.NodeID, err)
		}
		out[p.ID] = p
	}
	return out, doc
}

func idsOf(m map[string]nodeproto.Peer) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMeshOnTheControlPlane: three nodes enrol through the real control
// plane; every node's state lists exactly the other live nodes with the
// same PSK on both sides of each pair; the peers got peer_added with the
// complete record each sees in its state; a deregistered node disappears
// from the others' state and they get peer_removed; RotatePSKs changes
// exactly the rotated node's pairs.
func TestMeshOnTheControlPlane(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "mesh", "100.90.0.0/24", 3)
			nodes := []enrolled{enrol(t, e, f.Token.Token, ""), enrol(t, e, f.Token.Token, "2"), enrol(t, e, f.Token.Token, "2")}
			all := []string{nodes[0].NodeID, nodes[1].NodeID, nodes[2].NodeID}
			views := map[string]map[string]nodeproto.Peer{}
			for _, n := range nodes {
				var doc nodeproto.StateResponse
				views[n.NodeID], doc = stateOf(t, e, n)
				want := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == n.NodeID })
				slices.Sort(want)
				if got := idsOf(views[n.NodeID]); !slices.Equal(got, want) {
					t.Fatalf("peers of %s = %v, want %v", n.NodeID, got, want)
				}
				if (n.level == "2") != (doc.Mesh != nil) {
					t.Fatalf("state.mesh of a level-%q node: %+v", n.level, doc.Mesh)
				}
			}
			pairs := [][2]string{{all[0], all[1]}, {all[0], all[2]}, {all[1], all[2]}}
			before := map[[2]string]string{}
			for _, p := range pairs {
				x, y := views[p[0]][p[1]].PSK, views[p[1]][p[0]].PSK
				if x == "" || x != y {
					t.Fatalf("pair %v: PSKs %q %q", p, x, y)
				}
				before[p] = x
			}
			// peer_added: node 0 heard of 1 and 2, node 1 of 2, each with the
			// record its state shows.
			for i, n := range nodes {
				for _, later := range nodes[i+1:] {
					var payload string
					if err := e.Server.DB.QueryRow(`SELECT payload FROM event_log WHERE node_id = $1 AND event_type = 'peer_added'
						AND payload LIKE $2`, n.NodeID, `%"id":"`+later.NodeID+`"%`).Scan(&payload); err != nil {
						t.Fatalf("peer_added of %s for %s: %v", later.NodeID, n.NodeID, err)
					}
					var p nodeproto.Peer
					if err := json.Unmarshal([]byte(payload), &p); err != nil || p.Validate() != nil {
						t.Fatalf("peer_added payload %s: %v", payload, err)
					}
					if want := views[n.NodeID][later.NodeID]; p.PSK != want.PSK || p.PublicKey != want.PublicKey || p.MeshIP != want.MeshIP {
						t.Fatalf("peer_added %+v differs from state %+v", p, want)
					}
				}
			}
			// Rotate node 2's PSKs: its pairs change, (0, 1) does not.
			if err := e.Server.DB.Tx(context.Background(), func(tx *sql.Tx) error {
				return e.Server.Mesh.RotatePSKs(context.Background(), tx, all[2])
			}); err != nil {
				t.Fatal(err)
			}
			for _, n := range nodes {
				views[n.NodeID], _ = stateOf(t, e, n)
			}
			for _, p := range pairs {
				x, y := views[p[0]][p[1]].PSK, views[p[1]][p[0]].PSK
				changed := p[1] == all[2]
				if x != y || (x != before[p]) != changed {
					t.Fatalf("pair %v after rotating %s: %q %q, before %q", p, all[2], x, y, before[p])
				}
			}
			// Deregister node 1: gone from the others' state, peer_removed.
			if st, raw := call(t, e, nodes[1].NSK, "2", http.MethodPost, "/v1/nodes/"+all[1]+"/deregister", nil); st != 204 {
				t.Fatalf("deregister: %d %s", st, raw)
			}
			for _, n := range []enrolled{nodes[0], nodes[2]} {
				v, _ := stateOf(t, e, n)
				if _, ok := v[all[1]]; ok || len(v) != 1 {
					t.Fatalf("after deregistration %s sees %v", n.NodeID, idsOf(v))
				}
				var k int
				e.Server.DB.QueryRow(`SELECT COUNT(*) FROM event_log WHERE node_id = $1 AND event_type = 'peer_removed'
					AND payload = $2`, n.NodeID, `{"peer_id":"`+all[1]+`"}`).Scan(&k)
				if k != 1 {
					t.Fatalf("%s has %d peer_removed for %s", n.NodeID, k, all[1])
				}
			}
		})
	}
}
