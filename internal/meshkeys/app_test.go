package meshkeys_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// node is a registered node: its id, NSK and WireGuard public key.
type node struct {
	id, nsk, key string
}

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// call sends body as bearer, announcing level when it is not 0, and
// returns the status and the body.
func call(t *testing.T, e *apptest.Env, bearer string, level int, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if level > 0 {
		req.Header.Set(nodeproto.HeaderPlexdProtocol, string(rune('0'+level)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// register enrols a node with the agent's form at level.
func register(t *testing.T, e *apptest.Env, token string, level int) node {
	t.Helper()
	n := node{key: newKey(t)}
	st, raw := call(t, e, token, level, "POST", "/v1/register",
		map[string]any{"token": token, "public_key": n.key, "hostname": "h"})
	if st != http.StatusOK {
		t.Fatalf("register: %d %s", st, raw)
	}
	var r struct {
		NodeID string `json:"node_id"`
		NSK    string `json:"node_secret_key"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	n.id, n.nsk = r.NodeID, r.NSK
	return n
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// wantProblem checks a status and problem code.
func wantProblem(t *testing.T, what string, st int, raw []byte, status int, code string) {
	t.Helper()
	var p apiv1.Problem
	_ = json.Unmarshal(raw, &p)
	if st != status || p.Code != code {
		t.Errorf("%s: %d %s, want %d %s", what, st, raw, status, code)
	}
}

// loggedEvent is one entry of a node's durable event log.
type loggedEvent struct {
	Type    string
	Payload string
}

func eventsOf(t *testing.T, e *apptest.Env, nodeID, eventType string) []loggedEvent {
	t.Helper()
	rows, err := e.Server.DB.Query(`SELECT event_type, payload FROM event_log WHERE node_id = $1 AND event_type = $2
		ORDER BY seq`, nodeID, eventType)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []loggedEvent
	for rows.Next() {
		var ev loggedEvent
		if err := rows.Scan(&ev.Type, &ev.Payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// heartbeat sends a heartbeat at level and returns its rotate_keys flag.
func heartbeat(t *testing.T, e *apptest.Env, n node, level int) bool {
	t.Helper()
	st, raw := call(t, e, n.nsk, level, "POST", "/v1/nodes/"+n.id+"/heartbeat", map[string]any{})
	if st != http.StatusOK {
		t.Fatalf("heartbeat: %d %s", st, raw)
	}
	return decode[nodeproto.HeartbeatResponse](t, raw).RotateKeys
}

// peerOf returns the peer id as n's state shows it.
func peerOf(t *testing.T, e *apptest.Env, n node, id string) nodeproto.Peer {
	t.Helper()
	st, raw := call(t, e, n.nsk, 2, "GET", "/v1/nodes/"+n.id+"/state", nil)
	if st != http.StatusOK {
		t.Fatalf("state: %d %s", st, raw)
	}
	for _, p := range decode[nodeproto.StateResponse](t, raw).Peers {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("%s is not a peer of %s: %s", id, n.id, raw)
	return nodeproto.Peer{}
}

func auditCount(t *testing.T, e *apptest.Env, action, nodeID string) int {
	t.Helper()
	var n int
	if err := e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE action = $1 AND object_id = $2
		AND outcome = 'succeeded'`, action, nodeID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRotation walks a rotation through the real control plane on both
// databases: preview, the idempotent trigger and what it tells a level-2
// and a level-1 node, every refusal of the node's report, the completion
// (key swap, new PSKs identical on both sides, peer_key_rotated to every
// peer, audit) and the idempotent repeat of the report.
func TestRotation(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "keys", "10.77.0.0/24", 3)
			a := register(t, e, f.Token.Token, 2)
			old := register(t, e, f.Token.Token, 0) // the existing agent: level 1
			c := register(t, e, f.Token.Token, 2)
			base := "/v1/nodes/" + a.id + "/keys/rotate"

			st, raw := e.Do(t, "GET", base+"/preview", nil, nil)
			pv := decode[apiv1.RotationPreview](t, raw)
			if st != http.StatusOK || pv.AffectedPeerCount != 2 || len(pv.AffectedEdges) != 2 || pv.AlreadyPending ||
				pv.NodeID != a.id || pv.AffectedEdges[0].CurrentKID != "enrolment" {
				t.Fatalf("preview: %d %s", st, raw)
			}
			pskBefore := peerOf(t, e, old, a.id).PSK

			var first, again apiv1.RotationTrigger
			if st, raw := e.Do(t, "POST", base, nil, &first); st != http.StatusOK || first.AlreadyPending ||
				first.RotationID == "" || first.PeerID != a.id {
				t.Fatalf("trigger: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "POST", base, nil, &again); st != http.StatusOK || !again.AlreadyPending ||
				again.RotationID != first.RotationID {
				t.Fatalf("repeat: %d %s, want %s already pending", st, raw, first.RotationID)
			}
			if n := len(eventsOf(t, e, a.id, nodeproto.EventRotateKeys)); n != 1 {
				t.Errorf("level-2 node got %d rotate_keys events, want 1", n)
			}
			if !heartbeat(t, e, a, 2) || heartbeat(t, e, a, 0) {
				t.Error("heartbeat rotate_keys: want true at level 2 and false at level 1 while pending")
			}
			if st, _ := e.Do(t, "POST", "/v1/nodes/"+old.id+"/keys/rotate", nil, nil); st != http.StatusOK {
				t.Fatalf("trigger level-1 node: %d", st)
			}
			if n := len(eventsOf(t, e, old.id, nodeproto.EventRotateKeys)); n != 0 || heartbeat(t, e, old, 0) {
				t.Errorf("level-1 node was asked to rotate (%d events)", n)
			}
			if n := auditCount(t, e, "node.keys.rotate", a.id); n != 2 {
				t.Errorf("%d trigger audit entries, want 2", n)
			}

			// Refusals, none of which changes anything.
			complete := "/v1/keys/rotate"
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"node_id": c.id, "new_public_key": newKey(t)})
			wantProblem(t, "another node's id", st, raw, http.StatusForbidden, "node_id_mismatch")
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"new_public_key": "AAAA"})
			wantProblem(t, "short key", st, raw, http.StatusBadRequest, "keys_rotate_public_key_invalid")
			zero := base64.StdEncoding.EncodeToString(make([]byte, 32))
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"new_public_key": zero})
			wantProblem(t, "zero key", st, raw, http.StatusBadRequest, "keys_rotate_public_key_invalid")
			st, raw = call(t, e, a.nsk, 2, "POST", complete, []byte(`{"new_public_key":`))
			wantProblem(t, "broken JSON", st, raw, http.StatusBadRequest, "invalid_request")
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"new_public_key": a.key})
			wantProblem(t, "current key", st, raw, http.StatusUnprocessableEntity, "keys_rotate_public_key_unchanged")
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"new_public_key": c.key})
			wantProblem(t, "another node's key", st, raw, http.StatusConflict, "public_key_conflict")
			big := []byte(`{"new_public_key":"` + newKey(t) + `","pad":"` + strings.Repeat("x", 5000) + `"}`)
			if st, raw = call(t, e, a.nsk, 2, "POST", complete, big); st != http.StatusRequestEntityTooLarge {
				t.Errorf("5 KB body: %d %s, want 413", st, raw)
			}
			st, raw = call(t, e, c.nsk, 2, "POST", complete, map[string]any{"new_public_key": newKey(t)})
			wantProblem(t, "nothing pending", st, raw, http.StatusConflict, "keys_rotate_no_pending_rotation")

			// The completion.
			key := newKey(t)
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"node_id": a.id, "new_public_key": key})
			if st != http.StatusOK {
				t.Fatalf("complete: %d %s", st, raw)
			}
			got := decode[nodeproto.KeyRotateResponse](t, raw)
			if got.RotationID != first.RotationID || got.Kid == "" || got.WrapKeyVersion != 1 || len(got.UpdatedPeers) != 2 {
				t.Fatalf("receipt %s", raw)
			}
			var n apiv1.Node
			if e.Do(t, "GET", "/v1/nodes/"+a.id, nil, &n); n.PublicKey != key {
				t.Errorf("node key %q, want the new one", n.PublicKey)
			}
			for _, peer := range []node{old, c} {
				evs := eventsOf(t, e, peer.id, nodeproto.EventPeerKeyRotated)
				if len(evs) != 1 {
					t.Fatalf("%s got %d peer_key_rotated, want 1", peer.id, len(evs))
				}
				p := decode[nodeproto.Peer](t, []byte(evs[0].Payload))
				var mine nodeproto.Peer
				for _, q := range got.UpdatedPeers {
					if q.ID == peer.id {
						mine = q
					}
				}
				if p.ID != a.id || p.PublicKey != key || p.PSK == "" || p.PSK != mine.PSK || p.Validate() != nil {
					t.Errorf("peer %s: event %s, the rotated node's view %+v: want the new key and one PSK", peer.id,
						evs[0].Payload, mine)
				}
				if s := peerOf(t, e, peer, a.id); s.PublicKey != key || s.PSK != p.PSK {
					t.Errorf("peer %s state shows %+v, want the event's key and PSK", peer.id, s)
				}
			}
			if pskBefore == "" || pskBefore == peerOf(t, e, old, a.id).PSK {
				t.Errorf("the pair's PSK did not change (%q)", pskBefore)
			}
			if n := auditCount(t, e, "node.keys.rotate.complete", a.id); n != 1 {
				t.Errorf("%d completion audit entries, want 1", n)
			}

			// The same report again: the earlier receipt, nothing new.
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"new_public_key": key})
			if again := decode[nodeproto.KeyRotateResponse](t, raw); st != http.StatusOK || again.RotationID != got.RotationID ||
				again.Kid != got.Kid {
				t.Errorf("repeat report: %d %s, want receipt %s", st, raw, got.RotationID)
			}
			if n := len(eventsOf(t, e, c.id, nodeproto.EventPeerKeyRotated)); n != 1 {
				t.Errorf("the repeat sent peer_key_rotated again (%d)", n)
			}
			st, raw = call(t, e, a.nsk, 2, "POST", complete, map[string]any{"new_public_key": newKey(t)})
			wantProblem(t, "after completion", st, raw, http.StatusConflict, "keys_rotate_no_pending_rotation")
			if heartbeat(t, e, a, 2) {
				t.Error("heartbeat still asks for a rotation after completion")
			}
			st, raw = e.Do(t, "GET", base+"/preview", nil, nil)
			pv = decode[apiv1.RotationPreview](t, raw)
			if pv.AlreadyPending || pv.AffectedEdges[0].CurrentKID != got.Kid {
				t.Errorf("preview after: %s", raw)
			}
		})
	}
}

// TestLevelOneAnswer: a report without X-Plexd-Protocol gets level-1 Peers
// (the six members of §5.1 only).
func TestLevelOneAnswer(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	f := e.NewEnrolment(t, "keys", "10.78.0.0/24", 2)
	a := register(t, e, f.Token.Token, 0)
	register(t, e, f.Token.Token, 2)
	if st, raw := e.Do(t, "POST", "/v1/nodes/"+a.id+"/keys/rotate", nil, nil); st != http.StatusOK {
		t.Fatalf("trigger: %d %s", st, raw)
	}
	st, raw := call(t, e, a.nsk, 0, "POST", "/v1/keys/rotate", map[string]any{"new_public_key": newKey(t)})
	if st != http.StatusOK {
		t.Fatalf("complete: %d %s", st, raw)
	}
	var doc struct {
		UpdatedPeers []map[string]any `json:"updated_peers"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.UpdatedPeers) != 1 {
		t.Fatalf("answer %s", raw)
	}
	for k := range doc.UpdatedPeers[0] {
		switch k {
		case "id", "public_key", "mesh_ip", "endpoint", "allowed_ips", "psk":
		default:
			t.Errorf("level-1 answer carries %q: %s", k, raw)
		}
	}
}

// TestOperatorChecks: node-operate is required, an unknown node is 404,
// a malformed id 400.
func TestOperatorChecks(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	f := e.NewEnrolment(t, "keys", "10.79.0.0/24", 1)
	a := register(t, e, f.Token.Token, 2)
	_, stranger := e.NewUser(t, "stranger")
	for _, path := range []string{"/v1/nodes/" + a.id + "/keys/rotate", "/v1/nodes/" + a.id + "/keys/rotate/preview"} {
		method := "POST"
		if strings.HasSuffix(path, "preview") {
			method = "GET"
		}
		if st, raw := e.DoAs(t, stranger, method, path, nil, nil); st != http.StatusForbidden {
			t.Errorf("%s %s without node-operate: %d %s", method, path, st, raw)
		}
		if st, raw := e.Do(t, method, strings.Replace(path, a.id, "0190a8b8-a0c0-7a0a-8a0a-a0a0a0a0a0a1", 1), nil, nil); st != http.StatusNotFound {
			t.Errorf("%s unknown node: %d %s", method, st, raw)
		}
		if st, _ := e.Do(t, method, strings.Replace(path, a.id, "nope", 1), nil, nil); st != http.StatusBadRequest {
			t.Errorf("%s malformed id: %d", method, st)
		}
	}
	if n := len(eventsOf(t, e, a.id, nodeproto.EventRotateKeys)); n != 0 {
		t.Errorf("a refused trigger emitted %d rotate_keys", n)
	}
}
