package nat_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// node is a registered node.
type node struct {
	ID     string `json:"node_id"`
	MeshIP string `json:"mesh_ip"`
	NSK    string `json:"node_secret_key"`
	level  int
}

// register enrols a node with token at protocol level (1 or 2).
func register(t *testing.T, e *apptest.Env, token string, level int) node {
	t.Helper()
	pub := make([]byte, 32)
	rand.Read(pub)
	body := `{"token":"` + token + `","public_key":"` + base64.StdEncoding.EncodeToString(pub) + `","hostname":"h"}`
	st, raw := call(t, e, token, http.MethodPost, "/v1/register", body, level)
	if st/100 != 2 {
		t.Fatalf("register: %d %s", st, raw)
	}
	var n node
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	n.level = level
	return n
}

// call sends body (a string or a value to marshal; nil for none) with
// bearer, as an agent of level does.
func call(t *testing.T, e *apptest.Env, bearer, method, path string, body any, level int) (int, []byte) {
	t.Helper()
	return send(t, e, bearer, method, path, body, level, false)
}

func send(t *testing.T, e *apptest.Env, bearer, method, path string, body any, level int, gz bool) (int, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	if gz && raw != nil {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		raw = buf.Bytes()
	}
	var rd io.Reader = http.NoBody
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if level >= 2 {
		req.Header.Set("X-Plexd-Protocol", strconv.Itoa(level))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// heartbeat makes n healthy; extra is merged into the body.
func heartbeat(t *testing.T, e *apptest.Env, n node, body any) {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if st, raw := call(t, e, n.NSK, http.MethodPost, "/v1/nodes/"+n.ID+"/heartbeat", body, n.level); st != 200 {
		t.Fatalf("heartbeat: %d %s", st, raw)
	}
}

// report PUTs an endpoint report and wants want.
func report(t *testing.T, e *apptest.Env, n node, body any, want int) []byte {
	t.Helper()
	st, raw := call(t, e, n.NSK, http.MethodPut, "/v1/nodes/"+n.ID+"/endpoint", body, n.level)
	if st != want {
		t.Fatalf("PUT endpoint of %s: %d %s, want %d", n.ID, st, raw, want)
	}
	return raw
}

// state reads n's state at its level.
func state(t *testing.T, e *apptest.Env, n node) nodeproto.StateSnapshot {
	t.Helper()
	st, raw := call(t, e, n.NSK, http.MethodGet, "/v1/nodes/"+n.ID+"/state", nil, n.level)
	if st != 200 {
		t.Fatalf("state: %d %s", st, raw)
	}
	var s nodeproto.StateSnapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("state: %v: %s", err, raw)
	}
	return s
}

// peerIn finds peer id in s.
func peerIn(t *testing.T, s nodeproto.StateSnapshot, id string) nodeproto.Peer {
	t.Helper()
	for _, p := range s.Peers {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("peer %s not in state %+v", id, s.Peers)
	return nodeproto.Peer{}
}

// event is one logged event.
type event struct {
	Type    string
	Payload json.RawMessage
}

// eventsOf reads n's event log in order.
func eventsOf(t *testing.T, e *apptest.Env, id string) []event {
	t.Helper()
	rows, err := e.Server.DB.QueryContext(context.Background(),
		`SELECT event_type, payload FROM event_log WHERE node_id = $1 ORDER BY seq`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var ev event
		var p string
		if err := rows.Scan(&ev.Type, &p); err != nil {
			t.Fatal(err)
		}
		ev.Payload = json.RawMessage(p)
		out = append(out, ev)
	}
	return out
}

// ofType filters events by type.
func ofType(evs []event, typ string) []event {
	var out []event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// bridgeToken issues a bridge bootstrap token in the enrolment's Project.
func bridgeToken(t *testing.T, e *apptest.Env, fx apptest.Enrolment, uses int) string {
	t.Helper()
	var tok apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+fx.Project.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "bridge", EnvPrefix: "test", MaxUses: uses}, &tok); st != 201 {
		t.Fatalf("bridge token: %d %s", st, raw)
	}
	return tok.Token
}

// resourceOf is the Resource a node is bound to.
func resourceOf(t *testing.T, e *apptest.Env, id string) string {
	t.Helper()
	var n apiv1.Node
	if st, raw := e.Do(t, "GET", "/v1/nodes/"+id, nil, &n); st != 200 {
		t.Fatalf("node: %d %s", st, raw)
	}
	return n.ResourceID
}
