package enroll_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

var tokenFormat = regexp.MustCompile(`^psb_[a-z]+_[a-z2-7]+_(node|bridge)_[a-z2-7]{20,}$`)

// TestRegistration plays the existing agent's registration (node-protocol
// §13 C1, C2) and the contract form as raw HTTP, then every error code of
// §4.3 and api.md §3.5, on both databases.
func TestRegistration(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			t.Run("agent form", func(t *testing.T) { testAgentForm(t, e) })
			t.Run("errors", func(t *testing.T) { testRegisterErrors(t, e) })
			t.Run("contract form", func(t *testing.T) { testContractForm(t, e) })
			t.Run("allocation", func(t *testing.T) { testAllocation(t, e) })
		})
	}
}

func testAgentForm(t *testing.T, e *env) {
	f := e.fixture(t, "agent", "100.64.0.0/16", "")
	for _, key := range []string{"env", "role"} {
		if st, raw := e.Do(t, "POST", "/v1/label-definitions", apiv1.CreateLabelDefinition{Scope: "project:" + f.project.ID,
			LocalKey: key, ValueSchema: apiv1.ValueSchema{Kind: "string"}, ApplicableKinds: []string{"node"}}, nil); st != 201 {
			t.Fatalf("label definition: %d %s", st, raw)
		}
	}
	envKey, roleKey := "agent.agent/env", "agent.agent/role"
	st, raw := e.Do(t, "POST", "/v1/projects/"+f.project.ID+"/bootstrap-tokens", apiv1.IssueBootstrapToken{Kind: "node",
		EnvPrefix: "prod", Labels: map[string]string{"undefined/key": "x"}}, nil)
	wantProblem(t, st, raw, 422, "label_not_defined")
	issued := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod",
		Labels: map[string]string{envKey: "prod", roleKey: "db"}})
	if !tokenFormat.MatchString(issued.Token) || !nodeproto.ValidBootstrapToken(issued.Token) {
		t.Fatalf("token format: %q", issued.Token)
	}
	if d := issued.ExpiresAt.Sub(issued.IssuedAt); d != time.Hour {
		t.Fatalf("default ttl %s", d)
	}
	var meta apiv1.BootstrapToken
	if st, raw := e.Do(t, "GET", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+issued.TokenID, nil, &meta); st != 200 ||
		strings.Contains(string(raw), issued.Token) || meta.MaxUses != 1 || meta.Uses != 0 || meta.Kind != "node" {
		t.Fatalf("metadata: %d %s", st, raw)
	}

	key := newKey()
	body := `{"token":` + quote(issued.Token) + `,"public_key":"` + key +
		`","hostname":"web-1","metadata":{"role":"web","zone":"a"}}`
	resp, raw := e.raw(t, "POST", "/v1/register", agentHeaders(issued.Token), []byte(body))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("C1 register: %d %v %s", resp.StatusCode, resp.Header, raw)
	}
	var audited int
	e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'node.register'
		AND outcome = 'succeeded' AND object_type = 'node' AND object_id = $2 AND identity_id_ref = $3`,
		f.domain.ID, decodeRegistered(t, raw).NodeID, "node:"+decodeRegistered(t, raw).NodeID).Scan(&audited)
	if audited != 1 {
		t.Fatalf("registration audit entries on the Domain chain: %d, want 1", audited)
	}
	var assigned apiv1.LabelAssignmentList
	if st, out := e.Do(t, "GET", "/v1/objects/node/"+decodeRegistered(t, raw).NodeID+"/labels", nil, &assigned); st != 200 ||
		len(assigned.Items) != 2 || assigned.Items[0].QualifiedKey != envKey || assigned.Items[0].Value != "prod" ||
		!strings.HasPrefix(assigned.Items[0].AssignedBy, "bootstrap_token:") {
		t.Fatalf("token labels on the node: %d %s", st, out)
	}
	var members map[string]json.RawMessage
	json.Unmarshal(raw, &members)
	for _, m := range []string{"node_id", "mesh_ip", "signing_public_key", "node_secret_key", "peers"} {
		if _, ok := members[m]; !ok {
			t.Fatalf("C1: member %s missing: %s", m, raw)
		}
	}
	if string(members["peers"]) != "[]" {
		t.Fatalf("C1: peers must be [] for the first node: %s", members["peers"])
	}
	r := decodeRegistered(t, raw)
	if !nodeproto.ValidID(r.NodeID) || r.MeshIP != "100.64.0.1" || !nodeproto.ValidKey32(r.SigningPublicKey) ||
		!nodeproto.ValidNSK(r.NodeSecretKey) || r.NSK != r.NodeSecretKey || r.DomainMeshCIDR != "100.64.0.0/16" {
		t.Fatalf("C1 members: %+v", r)
	}
	var keys apiv1.List[apiv1.SigningKey]
	if st, raw := e.Do(t, "GET", "/v1/domains/"+f.domain.ID+"/signing-keys", nil, &keys); st != 200 || len(keys.Items) != 1 ||
		keys.Items[0].PublicKey != r.SigningPublicKey || keys.Items[0].KID != r.SigningKeyID || keys.Items[0].Status != "active" {
		t.Fatalf("register must return the Domain's active key: %d %s vs %+v", st, raw, r)
	}

	// Replay (§4.3, docs/enrolment.md): the same token and key within 10
	// minutes, before the NSK was used, answer the same node with a fresh
	// NSK (TestRegistrationReplay covers the rule).
	resp, raw = e.raw(t, "POST", "/v1/register", agentHeaders(issued.Token), []byte(body))
	if again := decodeRegistered(t, raw); resp.StatusCode != 200 || again.NodeID != r.NodeID ||
		again.MeshIP != r.MeshIP || !nodeproto.ValidNSK(again.NodeSecretKey) || again.NodeSecretKey == r.NodeSecretKey ||
		again.SigningPublicKey != r.SigningPublicKey {
		t.Fatalf("replay: %d %s", resp.StatusCode, raw)
	}
	// Any other reuse of the consumed one-shot token is 401 token_consumed.
	resp, raw = e.registerAgent(t, issued.Token, newKey(), "web-2")
	wantProblem(t, resp.StatusCode, raw, 401, "token_consumed")
	e.Do(t, "GET", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+issued.TokenID, nil, &meta)
	if meta.ConsumedAt == nil || meta.Uses != 1 {
		t.Fatalf("token not consumed: %+v", meta)
	}
	st, raw = e.Do(t, "DELETE", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+issued.TokenID, nil, nil)
	wantProblem(t, st, raw, 409, "illegal_transition")

	// The node carries the token's kind and labels over the agent's metadata.
	var node apiv1.Node
	if st, raw := e.Do(t, "GET", "/v1/nodes/"+r.NodeID, nil, &node); st != 200 || node.Kind != "node" ||
		node.Name != "web-1" || node.MeshIP != r.MeshIP || node.PublicKey != key || node.ProjectID != f.project.ID ||
		node.Labels[roleKey] != "db" || node.Labels[envKey] != "prod" || node.Labels["zone"] != "a" ||
		node.Reachability.State != "unreachable" {
		t.Fatalf("node: %d %s", st, raw)
	}
	var res apiv1.Resource
	if st, raw := e.Do(t, "GET", "/v1/resources/"+node.ResourceID, nil, &res); st != 200 || res.Kind != "node" {
		t.Fatalf("node's Resource: %d %s", st, raw)
	}

	// Duplicate hostnames succeed (C1); a later node sees the earlier as a
	// peer; a bridge token makes a bridge, addressed from the reserved
	// block at the top of the pool; X-Plexd-Protocol is answered.
	multi := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "bridge", EnvPrefix: "dev", MaxUses: 3, TTLSeconds: 300})
	h := agentHeaders(multi.Token)
	h["X-Plexd-Protocol"] = "7"
	resp, raw = e.raw(t, "POST", "/v1/register", h, []byte(`{"token":`+quote(multi.Token)+`,"public_key":"`+newKey()+`","hostname":"web-1"}`))
	second := decodeRegistered(t, raw)
	if resp.StatusCode != 200 || second.MeshIP != "100.64.255.241" || len(second.Peers) != 1 ||
		resp.Header.Get("X-Plexsphere-Protocol") != "2" {
		t.Fatalf("second node: %d %v %s", resp.StatusCode, resp.Header, raw)
	}
	var peer nodeproto.Peer
	json.Unmarshal(second.Peers[0], &peer)
	if peer.ID != r.NodeID || peer.MeshIP != r.MeshIP || peer.PublicKey != key || len(peer.AllowedIPs) != 1 {
		t.Fatalf("peer: %s", second.Peers[0])
	}
	if st, _ := e.Do(t, "GET", "/v1/nodes/"+second.NodeID, nil, &node); st != 200 || node.Kind != "bridge" {
		t.Fatalf("bridge kind: %+v", node)
	}

	// Gzip bodies are accepted (C15).
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(`{"token":` + quote(multi.Token) + `,"public_key":"` + newKey() + `","hostname":"` +
		strings.Repeat("h", 200) + `","metadata":{"pad":"` + strings.Repeat("x", 2000) + `"}}`))
	zw.Close()
	h = agentHeaders(multi.Token)
	h["Content-Encoding"] = "gzip"
	if resp, raw = e.raw(t, "POST", "/v1/register", h, zb.Bytes()); resp.StatusCode != 200 {
		t.Fatalf("gzip register: %d %s", resp.StatusCode, raw)
	}
}

func testRegisterErrors(t *testing.T, e *env) {
	f := e.fixture(t, "errs", "100.65.0.0/16", "")
	tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 10}).Token
	post := func(headers map[string]string, body string) (int, []byte) {
		resp, raw := e.raw(t, "POST", "/v1/register", headers, []byte(body))
		return resp.StatusCode, raw
	}
	key := newKey()
	cases := []struct {
		name, bearer, body string
		status             int
		code               string
	}{
		{"malformed json", tok, `{"token":`, 400, "invalid_request"},
		{"not an object", tok, `[1,2]`, 400, "invalid_request"},
		{"short key", tok, `{"token":` + quote(tok) + `,"public_key":"abc","hostname":"h"}`, 400, "invalid_request"},
		{"zero key", tok, `{"token":` + quote(tok) + `,"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hostname":"h"}`, 400, "invalid_request"},
		{"no bearer", "", `{"token":` + quote(tok) + `,"public_key":"` + key + `","hostname":"h"}`, 401, "token_mismatch"},
		{"bearer differs", tok, `{"token":` + quote(tok+"x") + `,"public_key":"` + key + `","hostname":"h"}`, 401, "token_mismatch"},
		{"bad bearer", tok + "x", `{"token":` + quote(tok) + `,"public_key":"` + key + `","hostname":"h"}`, 401, "invalid_token"},
		{"no token", "", `{"public_key":"` + key + `","hostname":"h"}`, 401, "invalid_token"},
		{"garbage token", "nope", `{"token":"nope","public_key":"` + key + `","hostname":"h"}`, 401, "invalid_token"},
	}
	wrong := tok[:len(tok)-4] + "aaaa"
	if wrong == tok {
		wrong = tok[:len(tok)-4] + "bbbb"
	}
	cases = append(cases, struct {
		name, bearer, body string
		status             int
		code               string
	}{"wrong secret", wrong, `{"token":` + quote(wrong) + `,"public_key":"` + key + `","hostname":"h"}`, 401, "invalid_token"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, raw := post(agentHeaders(c.bearer), c.body)
			wantProblem(t, st, raw, c.status, c.code)
		})
	}

	// N3: an error answer to a request announcing a level names it too.
	h := agentHeaders(tok)
	h["X-Plexd-Protocol"] = "3"
	if resp, _ := e.raw(t, "POST", "/v1/register", h, []byte(`{"token":`)); resp.StatusCode != 400 ||
		resp.Header.Get("X-Plexsphere-Protocol") != "2" {
		t.Fatalf("N3 on a register error: %d %v", resp.StatusCode, resp.Header)
	}

	// Expired and revoked tokens.
	expired := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"})
	if _, err := e.Server.DB.Exec(`UPDATE bootstrap_tokens SET expires_at = 1 WHERE id = $1`, expired.TokenID); err != nil {
		t.Fatal(err)
	}
	resp, raw := e.registerAgent(t, expired.Token, newKey(), "h")
	wantProblem(t, resp.StatusCode, raw, 401, "token_expired")
	revoked := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"})
	if st, raw := e.Do(t, "DELETE", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+revoked.TokenID, nil, nil); st != 204 {
		t.Fatalf("revoke: %d %s", st, raw)
	}
	st, raw := e.Do(t, "DELETE", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+revoked.TokenID, nil, nil)
	wantProblem(t, st, raw, 409, "illegal_transition")
	resp, raw = e.registerAgent(t, revoked.Token, newKey(), "h")
	wantProblem(t, resp.StatusCode, raw, 401, "token_revoked")

	// A key held by a live node is a conflict, and leaves the token unused.
	if resp, raw := e.registerAgent(t, tok, key, "first"); resp.StatusCode != 200 {
		t.Fatalf("register: %d %s", resp.StatusCode, raw)
	}
	other := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"})
	resp, raw = e.registerAgent(t, other.Token, key, "dup")
	wantProblem(t, resp.StatusCode, raw, 409, "public_key_conflict")
	var meta apiv1.BootstrapToken
	if e.Do(t, "GET", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+other.TokenID, nil, &meta); meta.Uses != 0 || meta.ConsumedAt != nil {
		t.Fatalf("a failed registration consumed the token: %+v", meta)
	}

	// A token whose Project was deleted is refused by policy (403).
	gone := e.fixture(t, "gone", "100.68.0.0/24", "")
	orphan := e.issue(t, gone.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"})
	if st, raw := e.Do(t, "DELETE", "/v1/projects/"+gone.project.ID, nil, nil); st != 204 {
		t.Fatalf("delete project: %d %s", st, raw)
	}
	resp, raw = e.registerAgent(t, orphan.Token, newKey(), "h")
	wantProblem(t, resp.StatusCode, raw, 403, "registration_denied")

	// Issue validation.
	for _, body := range []string{`{"kind":"vm","env_prefix":"prod"}`, `{"kind":"node","env_prefix":"Prod"}`,
		`{"kind":"node","env_prefix":"prod","ttl_seconds":60}`, `{"kind":"node","env_prefix":"prod","ttl_seconds":90000}`} {
		st, raw := e.Do(t, "POST", "/v1/projects/"+f.project.ID+"/bootstrap-tokens", body, nil)
		wantProblem(t, st, raw, 400, "invalid_body")
	}
	st, raw = e.Do(t, "POST", "/v1/projects/01900000-0000-7000-8000-00000000dead/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}, nil)
	if st != 404 && st != 403 {
		t.Fatalf("unknown project: %d %s", st, raw)
	}
	st, raw = e.DoAs(t, "", "GET", "/v1/projects/"+f.project.ID+"/bootstrap-tokens", nil, nil)
	wantProblem(t, st, raw, 401, "unauthenticated")
	var list apiv1.List[apiv1.BootstrapToken]
	if st, raw := e.Do(t, "GET", "/v1/projects/"+f.project.ID+"/bootstrap-tokens?limit=2", nil, &list); st != 200 ||
		len(list.Items) != 2 || list.NextCursor == "" || strings.Contains(string(raw), "psb_") {
		t.Fatalf("list: %d %s", st, raw)
	}
}

func testContractForm(t *testing.T, e *env) {
	f := e.fixture(t, "contract", "100.66.0.0/16", "")
	other := e.fixture(t, "contract-other", "100.67.0.0/16", "")
	tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 10}).Token
	var vm, nodeRes apiv1.Resource
	e.Do(t, "POST", "/v1/projects/"+f.project.ID+"/resources", apiv1.CreateResource{Origin: "adopted", Kind: "vm"}, &vm)
	e.Do(t, "POST", "/v1/projects/"+f.project.ID+"/resources", apiv1.CreateResource{Origin: "adopted", Kind: "node",
		ExternalRef: "rack-7"}, &nodeRes)
	contract := func(fields map[string]string) (int, []byte) {
		m := map[string]string{"bootstrap_token": tok, "public_key": newKey(), "nonce": newKey()}
		for k, v := range fields {
			m[k] = v
		}
		raw, _ := json.Marshal(m)
		resp, out := e.raw(t, "POST", "/v1/register", map[string]string{"Content-Type": "application/json"}, raw)
		return resp.StatusCode, out
	}
	st, raw := contract(map[string]string{"project_id": other.project.ID})
	wantProblem(t, st, raw, 403, "project_mismatch")
	st, raw = contract(map[string]string{"resource_id": "01900000-0000-7000-8000-00000000beef"})
	wantProblem(t, st, raw, 404, "resource_not_found")
	st, raw = contract(map[string]string{"resource_id": vm.ID})
	wantProblem(t, st, raw, 403, "kind_mismatch")

	st, raw = contract(map[string]string{"project_id": f.project.ID, "resource_id": "rack-7", "nonce": "n-1"})
	r := decodeRegistered(t, raw)
	if st != 200 || r.NSK == "" || r.NSK != r.NodeSecretKey || r.PeerSnapshot == nil || r.SigningKeyID == "" {
		t.Fatalf("contract form: %d %s", st, raw)
	}
	var node apiv1.Node
	if e.Do(t, "GET", "/v1/nodes/"+r.NodeID, nil, &node); node.ResourceID != nodeRes.ID {
		t.Fatalf("the named Resource was not bound: %+v", node)
	}
	st, raw = contract(map[string]string{"nonce": "n-1"})
	wantProblem(t, st, raw, 403, "nonce_collision")
}

func testAllocation(t *testing.T, e *env) {
	// A /30 pool holds two nodes; the third gets 503 pool_exhausted with
	// Retry-After, and its token stays unconsumed.
	f := e.fixture(t, "tiny", "100.70.0.0/30", "")
	issued := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5})
	var ips []string
	for range 2 {
		resp, raw := e.registerAgent(t, issued.Token, newKey(), "n")
		if resp.StatusCode != 200 {
			t.Fatalf("register: %d %s", resp.StatusCode, raw)
		}
		ips = append(ips, decodeRegistered(t, raw).MeshIP)
	}
	if ips[0] != "100.70.0.1" || ips[1] != "100.70.0.2" {
		t.Fatalf("allocation order: %v", ips)
	}
	resp, raw := e.registerAgent(t, issued.Token, newKey(), "n")
	wantProblem(t, resp.StatusCode, raw, 503, "pool_exhausted")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	var meta apiv1.BootstrapToken
	if e.Do(t, "GET", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+issued.TokenID, nil, &meta); meta.Uses != 2 {
		t.Fatalf("failed allocation consumed a use: %+v", meta)
	}

	// A Project sub-range is used for its nodes and skipped by the others.
	g := e.fixture(t, "subs", "100.71.0.0/16", "100.71.0.0/24")
	var plain apiv1.Project
	e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: g.domain.ID, Name: "plain", Slug: "plain"}, &plain)
	resp, raw = e.registerAgent(t, e.issue(t, g.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token, newKey(), "s")
	if r := decodeRegistered(t, raw); resp.StatusCode != 200 || r.MeshIP != "100.71.0.1" {
		t.Fatalf("sub-range: %d %s", resp.StatusCode, raw)
	}
	resp, raw = e.registerAgent(t, e.issue(t, plain.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token, newKey(), "p")
	if r := decodeRegistered(t, raw); resp.StatusCode != 200 || r.MeshIP != "100.71.1.0" {
		t.Fatalf("pool outside the sibling sub-range: %d %s", resp.StatusCode, raw)
	}

	// An IPv6 pool cannot give the bare IPv4 mesh_ip level 1 needs.
	v6 := e.fixture(t, "six", "fd00:9::/48", "")
	resp, raw = e.registerAgent(t, e.issue(t, v6.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token, newKey(), "6")
	wantProblem(t, resp.StatusCode, raw, 422, "mesh_pool_not_ipv4")
}
