package events_test

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// agentNode is a node registered the way the existing agent does it.
type agentNode struct {
	NodeID           string `json:"node_id"`
	MeshIP           string `json:"mesh_ip"`
	SigningPublicKey string `json:"signing_public_key"`
	NodeSecretKey    string `json:"node_secret_key"`
}

func register(t *testing.T, e *apptest.Env, token string) agentNode {
	t.Helper()
	pub := make([]byte, 32)
	rand.Read(pub)
	body := `{"token":"` + token + `","public_key":"` + base64.StdEncoding.EncodeToString(pub) + `","hostname":"h"}`
	resp, raw := agentCall(t, e.URL, token, http.MethodPost, "/v1/register", []byte(body), false)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("register: %d %s", resp.StatusCode, raw)
	}
	var n agentNode
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// agentCall sends a request with the existing agent's headers (§2.2).
func agentCall(t *testing.T, base, bearer, method, path string, body []byte, gz bool) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
			body = buf.Bytes()
		}
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", "plexd/dev")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := io.Reader(resp.Body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	raw, _ := io.ReadAll(r)
	return resp, raw
}

func keySetOf(t *testing.T, b64 string) *envelope.KeySet {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != ed25519.PublicKeySize {
		t.Fatalf("signing_public_key %q", b64)
	}
	return &envelope.KeySet{Current: envelope.Key{Public: ed25519.PublicKey(k)}}
}

// TestAgentSequenceOnTheControlPlane plays the existing agent's core
// sequence against the whole control plane (§13): register, open the
// stream with the NSK, heartbeat with the zero body, state, drift and
// report (gzip), while enrolment emits peer events signed with the
// Domain's key; a key rotation during the live stream loses no event and
// shows in state no later than its event (C10); deregistration revokes
// the NSK and tells the peers.
func TestAgentSequenceOnTheControlPlane(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, apptest.Backend(b))
			fx := e.NewEnrolment(t, "d", "10.100.0.0/16", 10)
			dom, tok := fx.Domain, fx.Token
			a := register(t, e, tok.Token)
			c, st := tryConnect(t, e.URL, a.NodeID, a.NodeSecretKey, "", keySetOf(t, a.SigningPublicKey))
			if st != http.StatusOK {
				t.Fatalf("stream: %d", st)
			}
			bNode := register(t, e, tok.Token)
			g := c.next()
			var peer nodeproto.Peer
			json.Unmarshal(g.env.Payload, &peer)
			if g.env.EventType != nodeproto.EventPeerAdded || peer.ID != bNode.NodeID || peer.Validate() != nil {
				t.Fatalf("first event %s %s", g.env.EventType, g.env.Payload)
			}

			resp, raw := agentCall(t, e.URL, a.NodeSecretKey, "POST", "/v1/nodes/"+a.NodeID+"/heartbeat", []byte(nodeproto.ZeroHeartbeatJSON), false)
			if resp.StatusCode != 200 || !strings.Contains(string(raw), `"reconcile":false`) || !strings.Contains(string(raw), `"rotate_keys":false`) {
				t.Fatalf("heartbeat: %d %s", resp.StatusCode, raw)
			}
			var st1 nodeproto.StateResponse
			resp, raw = agentCall(t, e.URL, a.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/state", nil, false)
			if resp.StatusCode != 200 || json.Unmarshal(raw, &st1) != nil || len(st1.Peers) != 1 || st1.Peers[0].ID != bNode.NodeID ||
				st1.SigningKeys == nil || st1.SigningKeys.Current != a.SigningPublicKey {
				t.Fatalf("state: %d %s", resp.StatusCode, raw)
			}
			drift := `{"timestamp":"2026-01-01T00:00:00Z","corrections":[{"type":"peer_added","detail":"peer ` + bNode.NodeID + `"}]}`
			if resp, raw := agentCall(t, e.URL, a.NodeSecretKey, "POST", "/v1/nodes/"+a.NodeID+"/drift", []byte(drift), true); resp.StatusCode/100 != 2 {
				t.Fatalf("drift: %d %s", resp.StatusCode, raw)
			}
			if resp, raw := agentCall(t, e.URL, a.NodeSecretKey, "POST", "/v1/nodes/"+a.NodeID+"/report", []byte(`{"entries":null,"deleted":null}`), false); resp.StatusCode/100 != 2 {
				t.Fatalf("report: %d %s", resp.StatusCode, raw)
			}
			if resp, _ := agentCall(t, e.URL, bNode.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/state", nil, false); resp.StatusCode != 403 {
				t.Fatalf("foreign NSK on state: %d", resp.StatusCode)
			}

			// Rotate during the live stream: the rotation event is signed
			// with the old key, the next event with the new one.
			var keys json.RawMessage
			if st, raw := e.Do(t, "POST", "/v1/domains/"+dom.ID+"/signing-keys:rotate", apiv1.RotateSigningKey{GraceSeconds: 3600}, &keys); st/100 != 2 {
				t.Fatalf("rotate: %d %s", st, raw)
			}
			resp, raw = agentCall(t, e.URL, a.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/state", nil, false)
			var st2 nodeproto.StateResponse
			if json.Unmarshal(raw, &st2) != nil || st2.SigningKeys == nil || st2.SigningKeys.Previous != a.SigningPublicKey ||
				st2.SigningKeys.Current == a.SigningPublicKey || st2.SigningKeys.TransitionExpires.IsZero() {
				t.Fatalf("state after rotation: %s", raw)
			}
			rot := c.next()
			if rot.env.EventType != nodeproto.EventSigningKeyRotated {
				t.Fatalf("after rotation got %s", rot.env.EventType)
			}
			cNode := register(t, e, tok.Token)
			if g := c.next(); g.env.EventType != nodeproto.EventPeerAdded || !strings.Contains(string(g.env.Payload), cNode.NodeID) {
				t.Fatalf("after rotation: %s %s", g.env.EventType, g.env.Payload)
			}

			// Deregistration revokes C's NSK and tells A.
			if resp, raw := agentCall(t, e.URL, cNode.NodeSecretKey, "POST", "/v1/nodes/"+cNode.NodeID+"/deregister", nil, false); resp.StatusCode/100 != 2 {
				t.Fatalf("deregister: %d %s", resp.StatusCode, raw)
			}
			if g := c.next(); g.env.EventType != nodeproto.EventPeerRemoved || !strings.Contains(string(g.env.Payload), cNode.NodeID) {
				t.Fatalf("after deregister: %s %s", g.env.EventType, g.env.Payload)
			}
			if resp, _ := agentCall(t, e.URL, cNode.NodeSecretKey, "POST", "/v1/nodes/"+cNode.NodeID+"/heartbeat", []byte("{}"), false); resp.StatusCode != 401 {
				t.Fatalf("heartbeat after deregister: %d", resp.StatusCode)
			}

			// A reconnect with Last-Event-ID replays exactly what followed,
			// each entry signed with the key K5 picks.
			c.close()
			firstID := g.seq // peer_added of B
			c2, st := tryConnect(t, e.URL, a.NodeID, a.NodeSecretKey, firstID, keySetOf(t, a.SigningPublicKey))
			if st != 200 {
				t.Fatalf("reconnect: %d", st)
			}
			for _, want := range []string{nodeproto.EventSigningKeyRotated, nodeproto.EventPeerAdded, nodeproto.EventPeerRemoved} {
				if n := c2.next(); n.env.EventType != want {
					t.Fatalf("replay: id %s is %s, want %s", n.seq, n.env.EventType, want)
				}
			}
			c2.expectQuiet(100 * time.Millisecond)
		})
	}
}

// TestStreamHoldsAfterRotation: after a rotation, a stream opened without
// Last-Event-ID by a node registered under the old key (an agent restart)
// holds events until the node fetches state (K6); a node registered under
// the current key is not held.
func TestStreamHoldsAfterRotation(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	fx := e.NewEnrolment(t, "d", "10.100.0.0/16", 10)
	dom, tok := fx.Domain, fx.Token
	a := register(t, e, tok.Token)
	var keys json.RawMessage
	if st, raw := e.Do(t, "POST", "/v1/domains/"+dom.ID+"/signing-keys:rotate", apiv1.RotateSigningKey{GraceSeconds: 3600}, &keys); st/100 != 2 {
		t.Fatalf("rotate: %d %s", st, raw)
	}
	b := register(t, e, tok.Token) // learns the new key
	if b.SigningPublicKey == a.SigningPublicKey {
		t.Fatal("registration after the rotation got the old key")
	}
	held, st := tryConnect(t, e.URL, a.NodeID, a.NodeSecretKey, "", keySetOf(t, b.SigningPublicKey))
	if st != 200 {
		t.Fatalf("stream: %d", st)
	}
	free, st := tryConnect(t, e.URL, b.NodeID, b.NodeSecretKey, "", keySetOf(t, b.SigningPublicKey))
	if st != 200 {
		t.Fatalf("stream: %d", st)
	}
	c := register(t, e, tok.Token)
	if g := free.next(); !strings.Contains(string(g.env.Payload), c.NodeID) {
		t.Fatalf("unheld stream: %s", g.env.Payload)
	}
	held.expectQuiet(300 * time.Millisecond)
	if resp, raw := agentCall(t, e.URL, a.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/state", nil, false); resp.StatusCode != 200 {
		t.Fatalf("state: %d %s", resp.StatusCode, raw)
	}
	if g := held.next(); g.env.EventType != nodeproto.EventPeerAdded || !strings.Contains(string(g.env.Payload), c.NodeID) {
		t.Fatalf("after state: %s %s", g.env.EventType, g.env.Payload)
	}
}

// TestOperationsInTheServedDocument: the control plane's /v1/openapi.json
// lists the event stream as text/event-stream and every agent endpoint.
func TestOperationsInTheServedDocument(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	resp, err := http.Get(e.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Paths["/v1/nodes/{id}/events"]["get"].Responses["200"].Content["text/event-stream"]; !ok {
		t.Error("GET /v1/nodes/{id}/events is not documented as text/event-stream")
	}
	for _, p := range []string{"state", "heartbeat", "drift", "capabilities", "report", "deregister", "secrets/{name}", "metrics", "logs", "audit"} {
		if len(doc.Paths["/v1/nodes/{id}/"+p]) == 0 {
			t.Errorf("/v1/nodes/{id}/%s missing", p)
		}
	}
}
