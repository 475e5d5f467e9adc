package events_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// stateKeys serves the test key as the only signing key.
type stateKeys struct{}

func (stateKeys) WireKeys(context.Context, string) (*nodeproto.SigningKeys, error) {
	return &nodeproto.SigningKeys{Current: base64.StdEncoding.EncodeToString(testKey.Public().(ed25519.PublicKey))}, nil
}

// call sends a node request with node's test NSK.
func (p *plane) call(t *testing.T, node, method, path string, body []byte, gz bool) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
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
	req, _ := http.NewRequest(method, p.hs.URL+path, rd)
	req.Header.Set("Authorization", "Bearer node:"+node)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// addNode inserts an enrolled node as the enrollment context would.
func (p *plane) addNode(t *testing.T, id, domain, meshIP, labels string, revoked bool) {
	t.Helper()
	var rev any
	if revoked {
		rev = int64(1)
	}
	pub := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(len(id) + int(id[len(id)-1]))}, 32))
	if _, err := p.db.Exec(`INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, public_key, mesh_ip,
		nsk_digest, nsk_sealed, labels, created_at, updated_at, revoked_at) VALUES ($1,$2,'p','r','t','node',$3,$4,$5,'',$6,1,1,$7)`,
		id, domain, pub, meshIP, "digest-"+id, labels, rev); err != nil {
		t.Fatal(err)
	}
}

// TestHeartbeat: the existing agent's zero body, an empty body, a gzip
// body and any other JSON value get 200 JSON with both flags (C8, C15);
// reconcile is true exactly once after an unusable Last-Event-ID (C7).
func TestHeartbeat(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			for _, tc := range []struct {
				body string
				gz   bool
			}{{nodeproto.ZeroHeartbeatJSON, false}, {"", false}, {nodeproto.ZeroHeartbeatJSON, true}, {`[]`, false}, {`{"status":"ok","mesh":{"peer_count":"x"}}`, true}} {
				resp, raw := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/heartbeat", []byte(tc.body), tc.gz)
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("body %q gzip %v: %d %s %s", tc.body, tc.gz, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
				}
				if got := withoutAcceptedAt(t, raw); got != `{"reconcile":false,"rotate_keys":false}` {
					t.Fatalf("body %q: answer %s", tc.body, got)
				}
			}
			var at int64
			if err := p.db.QueryRow(`SELECT last_heartbeat_at FROM node_agents WHERE node_id = 'n1'`).Scan(&at); err != nil ||
				time.Since(store.Time(at)) > time.Minute {
				t.Errorf("liveness not recorded: %d, %v", at, err)
			}
			c := connect(t, p.hs.URL, "n1", "garbage", nil)
			c.close()
			want := []string{`{"reconcile":true,"rotate_keys":false}`, `{"reconcile":false,"rotate_keys":false}`}
			for _, w := range want {
				_, raw := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/heartbeat", []byte(nodeproto.ZeroHeartbeatJSON), false)
				if got := withoutAcceptedAt(t, raw); got != w {
					t.Errorf("heartbeat after bad Last-Event-ID: %s, want %s", got, w)
				}
			}
			for _, bad := range []string{"not json", "{"} {
				if resp, _ := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/heartbeat", []byte(bad), false); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("body %q: %d, want 400", bad, resp.StatusCode)
				}
			}
			req, _ := http.NewRequest(http.MethodPost, p.hs.URL+"/v1/nodes/n1/heartbeat", strings.NewReader("not gzip"))
			req.Header.Set("Authorization", "Bearer node:n1")
			req.Header.Set("Content-Encoding", "gzip")
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("corrupt gzip: %v %v", resp.StatusCode, err)
			}
			if resp, _ := p.call(t, "n2", http.MethodPost, "/v1/nodes/n1/heartbeat", []byte("{}"), false); resp.StatusCode != http.StatusForbidden {
				t.Errorf("foreign NSK: %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestStateSnapshot: state has the four arrays always, the other active
// nodes of the Domain as complete peers (not revoked ones, not other
// Domains), string metadata under safe keys, and signing_keys (C9, C10).
func TestStateSnapshot(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			p.addNode(t, "n1", "d1", "10.100.0.1", `{"team":"a<b","n":3,"bad/key":"x"}`, false)
			p.addNode(t, "n2", "d1", "10.100.0.2", `{}`, false)
			p.addNode(t, "n3", "d1", "10.100.0.3", `{}`, true)
			p.addNode(t, "n4", "d2", "10.100.0.4", `{}`, false)
			resp, raw := p.call(t, "n1", http.MethodGet, "/v1/nodes/n1/state", nil, false)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"peers", "policies", "data", "secret_refs"} {
				if v := doc[k]; len(v) == 0 || v[0] != '[' {
					t.Errorf("%s = %s, want an array", k, v)
				}
			}
			var st nodeproto.StateResponse
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if err := st.Validate(time.Now()); err != nil {
				t.Errorf("served state is invalid: %v", err)
			}
			if len(st.Peers) != 1 || st.Peers[0].ID != "n2" || !slices.Equal(st.Peers[0].AllowedIPs, []string{"10.100.0.2/32"}) {
				t.Errorf("peers %+v", st.Peers)
			}
			if len(st.Metadata) != 1 || st.Metadata["team"] != "a<b" {
				t.Errorf("metadata %v", st.Metadata)
			}
			if st.SigningKeys == nil || st.SigningKeys.Current == "" {
				t.Errorf("signing_keys %+v", st.SigningKeys)
			}
		})
	}
}

// TestAgentBodies: report, drift, capabilities and the ingest endpoints
// accept every well-formed body, gzip and null members included (C11, C14,
// C15, R6); report keeps the last writer per key and drops invalid entries.
// Capabilities answers 200 and the ingests 202 with the contract's bodies
// (issue 8; any 2xx is success for the existing agent, R1).
func TestAgentBodies(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	cases := []struct {
		method, path, body string
		gz                 bool
		want               int
	}{
		{"POST", "report", `{"entries":null,"deleted":null}`, false, 204},
		{"POST", "report", `{"entries":[{"key":"k1","content_type":"application/json","payload":{"a":1},"version":2,"updated_at":"2026-01-01T00:00:00Z"},{"key":"../x","version":1}],"deleted":[]}`, true, 204},
		{"POST", "report", `{"entries":[{"key":"k1","content_type":"text/plain","payload":"old","version":1,"updated_at":"2026-01-01T00:00:00Z"}]}`, false, 204},
		{"POST", "report", `[1]`, false, 400},
		{"POST", "drift", `{"timestamp":"2026-01-01T00:00:00Z","corrections":[{"type":"peer_added","detail":"peer n2"}]}`, true, 204},
		{"POST", "drift", `{}`, false, 204},
		{"PUT", "capabilities", `{"builtin_actions":null,"hooks":null}`, true, 200},
		{"POST", "metrics", `[]`, true, 202},
		{"POST", "logs", `null`, false, 202},
		{"POST", "audit", `[{"x":1}]`, false, 202},
		{"POST", "metrics", `{}`, false, 400},
	}
	for _, tc := range cases {
		resp, raw := p.call(t, "n1", tc.method, "/v1/nodes/n1/"+tc.path, []byte(tc.body), tc.gz)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, resp.StatusCode, raw, tc.want)
		}
	}
	var n int
	var ct string
	p.db.QueryRow(`SELECT COUNT(*) FROM node_reports WHERE node_id = 'n1'`).Scan(&n)
	p.db.QueryRow(`SELECT content_type FROM node_reports WHERE node_id = 'n1' AND report_key = 'k1'`).Scan(&ct)
	if n != 1 || ct != "text/plain" {
		t.Errorf("reports: %d rows, k1 %q (last writer must win)", n, ct)
	}
	var drift, caps string
	p.db.QueryRow(`SELECT drift, capabilities FROM node_agents WHERE node_id = 'n1'`).Scan(&drift, &caps)
	if drift != `{"timestamp":"0001-01-01T00:00:00Z","corrections":[]}` || !strings.Contains(caps, `"builtin_actions":null`) {
		t.Errorf("drift %s, capabilities %s", drift, caps)
	}
}

// TestDeregisterAndSecrets: deregister answers 204 through the enrollment
// context; the secrets placeholder answers 404 secret_not_found, no-store.
func TestDeregisterAndSecrets(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	req, _ := http.NewRequest(http.MethodPost, p.hs.URL+"/v1/nodes/n1/deregister", nil)
	req.Header.Set("Authorization", "Bearer node:n1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deregister: %v %v", resp.StatusCode, err)
	}
	if !slices.Equal(p.dereg.ids, []string{"n1"}) {
		t.Errorf("deregistered %v", p.dereg.ids)
	}
	resp, raw := p.call(t, "n1", http.MethodGet, "/v1/nodes/n1/secrets/db", nil, false)
	var pr struct{ Code string }
	json.Unmarshal(raw, &pr)
	if resp.StatusCode != http.StatusNotFound || pr.Code != nodeproto.CodeSecretNotFound || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("secret: %d %s %q", resp.StatusCode, raw, resp.Header.Get("Cache-Control"))
	}
}

// TestOpenAPIListsNodeOperations: every node-facing operation, the event
// stream included, is in the generated document.
func TestOpenAPIListsNodeOperations(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	resp, err := http.Get(p.hs.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Responses   map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for path, method := range map[string]string{
		"/v1/nodes/{id}/events": "get", "/v1/nodes/{id}/state": "get", "/v1/nodes/{id}/heartbeat": "post",
		"/v1/nodes/{id}/drift": "post", "/v1/nodes/{id}/capabilities": "put", "/v1/nodes/{id}/report": "post",
		"/v1/nodes/{id}/deregister": "post", "/v1/nodes/{id}/secrets/{name}": "get", "/v1/nodes/{id}/metrics": "post",
		"/v1/nodes/{id}/logs": "post", "/v1/nodes/{id}/audit": "post",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("%s %s missing", method, path)
		}
	}
	if _, ok := doc.Paths["/v1/nodes/{id}/events"]["get"].Responses["200"].Content["text/event-stream"]; !ok {
		t.Error("the event stream is not documented as text/event-stream")
	}
}

// withoutAcceptedAt checks that a heartbeat answer carries the contract's
// accepted_at as an RFC 3339 time (issue 8) and returns the answer without
// it, re-encoded in the level-1 member order.
func withoutAcceptedAt(t *testing.T, raw []byte) string {
	t.Helper()
	var r struct {
		AcceptedAt *time.Time `json:"accepted_at"`
		nodeproto.HeartbeatResponse
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.AcceptedAt == nil || r.AcceptedAt.IsZero() {
		t.Fatalf("heartbeat answer %s: no accepted_at (%v)", raw, err)
	}
	r.HeartbeatResponse.AcceptedAt = time.Time{}
	b, _ := json.Marshal(r.HeartbeatResponse)
	return string(b)
}
