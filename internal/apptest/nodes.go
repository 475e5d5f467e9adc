package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// Node is a node registered through the real register endpoint.
type Node struct {
	ID     string `json:"node_id"`
	MeshIP string `json:"mesh_ip"`
	NSK    string `json:"node_secret_key"`
	// Level is the protocol level the node speaks (X-Plexd-Protocol).
	Level int `json:"-"`
}

// RegisterNode enrols a node with a bootstrap token at protocol level (1
// or 2), with a random WireGuard public key and hostname.
func (e *Env) RegisterNode(t testing.TB, token, hostname string, level int) Node {
	t.Helper()
	pub := make([]byte, 32)
	rand.Read(pub)
	body := map[string]string{"token": token, "public_key": base64.StdEncoding.EncodeToString(pub), "hostname": hostname}
	resp, raw := e.NodeSend(t, Node{NSK: token, Level: level}, http.MethodPost, "/v1/register", body, nil)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("register: %d %s", resp.StatusCode, raw)
	}
	var n Node
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	n.Level = level
	return n
}

// NodeSend sends a request as node n (its NSK as bearer, its level in
// X-Plexd-Protocol when 2 or more), with body marshalled to JSON unless
// nil, and the extra headers; it returns the answer with its body read.
func (e *Env) NodeSend(t testing.TB, n Node, method, path string, body any, header http.Header) (*http.Response, []byte) {
	t.Helper()
	if body == nil {
		return e.NodeSendRaw(t, n, method, path, nil, header)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, vs := range header {
		h[k] = vs
	}
	return e.NodeSendRaw(t, n, method, path, raw, h)
}

// NodeSendRaw is NodeSend with the body as bytes (nil: none), sent as is.
func (e *Env) NodeSendRaw(t testing.TB, n Node, method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.NSK)
	if n.Level >= 2 {
		req.Header.Set("X-Plexd-Protocol", strconv.Itoa(n.Level))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// DefineNodeLabel creates a Domain-scoped string label for nodes and
// returns its definition id and qualified key (what selectors name).
func (e *Env) DefineNodeLabel(t testing.TB, domainID, key string) (id, qualifiedKey string) {
	t.Helper()
	var def struct {
		ID           string `json:"id"`
		QualifiedKey string `json:"qualified_key"`
	}
	if st, raw := e.Do(t, "POST", "/v1/label-definitions", map[string]any{"scope": "domain", "scope_id": domainID,
		"local_key": key, "value_schema": map[string]any{"kind": "string"}, "applicable_kinds": []string{"node"}}, &def); st != 201 {
		t.Fatalf("label definition %s: %d %s", key, st, raw)
	}
	return def.ID, def.QualifiedKey
}

// LabelNode sets the label definitionID of a node to value.
func (e *Env) LabelNode(t testing.TB, definitionID, nodeID, value string) {
	t.Helper()
	if st, raw := e.Do(t, "PUT", "/v1/objects/node/"+nodeID+"/labels",
		map[string]any{"definition_id": definitionID, "value": value}, nil); st/100 != 2 {
		t.Fatalf("label node %s: %d %s", nodeID, st, raw)
	}
}
