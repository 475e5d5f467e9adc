package secrets_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

// world is a control plane with one Domain and Project, a role label and
// nodes labelled with it.
type world struct {
	e      *apptest.Env
	enr    apptest.Enrolment
	roleID string
	role   string // the qualified key
	nodes  map[string]apptest.Node
}

func newWorld(t *testing.T, b apptest.Backend, level int, names ...string) *world {
	t.Helper()
	e := apptest.Start(t, b)
	w := &world{e: e, enr: e.NewEnrolment(t, "sec", "100.70.0.0/16", len(names)+1), nodes: map[string]apptest.Node{}}
	w.roleID, w.role = e.DefineNodeLabel(t, w.enr.Domain.ID, "role")
	for _, name := range names {
		n := e.RegisterNode(t, w.enr.Token.Token, name, level)
		w.nodes[name] = n
		e.LabelNode(t, w.roleID, n.ID, name[:len(name)-1]) // db1 → role=db
	}
	return w
}

func (w *world) path(name string) string {
	return "/v1/projects/" + w.enr.Project.ID + "/secrets/" + name
}

func (w *world) put(t *testing.T, name, value string, expected *int64) (int, []byte) {
	t.Helper()
	body := apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString([]byte(value)), ExpectedVersion: expected}
	return w.e.Do(t, "PUT", w.path(name), body, nil)
}

func (w *world) bind(t *testing.T, name string, req apiv1.SecretBindingRequest) apiv1.SecretBinding {
	t.Helper()
	var b apiv1.SecretBinding
	if st, raw := w.e.Do(t, "POST", w.path(name)+"/bindings", req, &b); st != 201 {
		t.Fatalf("bind %s: %d %s", name, st, raw)
	}
	return b
}

// fetch is a node's fetch; it returns the status, the decoded answer and
// the problem code.
func (w *world) fetch(t *testing.T, n apptest.Node, name string, version int64) (int, nodeproto.SecretResponse, string) {
	t.Helper()
	path := "/v1/nodes/" + n.ID + "/secrets/" + name
	if version > 0 {
		path += "?version=" + strconv.FormatInt(version, 10)
	}
	resp, raw := w.e.NodeSend(t, n, "GET", path, nil, http.Header{"Accept": {"application/json"}})
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("fetch %s: Cache-Control %q", name, resp.Header.Get("Cache-Control"))
	}
	var sr nodeproto.SecretResponse
	var pr struct{ Code string }
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, &sr); err != nil {
			t.Fatalf("fetch %s: %s", name, raw)
		}
	} else {
		json.Unmarshal(raw, &pr)
	}
	return resp.StatusCode, sr, pr.Code
}

// events returns the node_secrets_updated payloads a node was sent.
func (w *world) events(t *testing.T, n apptest.Node) []nodeproto.NodeSecretsUpdated {
	t.Helper()
	rows, err := w.e.Server.DB.Query(`SELECT payload FROM event_log WHERE node_id = $1 AND event_type = $2 ORDER BY seq`,
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

func refsOf(u nodeproto.NodeSecretsUpdated) string {
	var b bytes.Buffer
	for _, r := range u.SecretRefs {
		b.WriteString(r.Key + ":" + strconv.FormatInt(r.Version, 10) + " ")
	}
	return b.String()
}

func code(raw []byte) string {
	var pr struct{ Code string }
	json.Unmarshal(raw, &pr)
	return pr.Code
}

// TestSecretLifecycle: write, list, read metadata, check-and-set, history,
// reveal, delete, on both databases; no answer but reveal carries a value.
func TestSecretLifecycle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newWorld(t, b, 1)
			var res apiv1.SecretWriteResult
			body := apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString([]byte("hunter2-first"))}
			if st, raw := w.e.Do(t, "PUT", w.path("db-password"), body, &res); st != 200 || res.CurrentVersion != 1 ||
				res.Name != "db-password" || bytes.Contains(raw, []byte("hunter2")) {
				t.Fatalf("first write: %d %s", st, raw)
			}
			zero, one := int64(0), int64(1)
			if st, raw := w.put(t, "db-password", "other", &zero); st != 409 || code(raw) != "secret_version_conflict" {
				t.Errorf("create over an existing secret: %d %s", st, raw)
			}
			if st, raw := w.put(t, "db-password", "hunter2-second", &one); st != 200 {
				t.Fatalf("cas write: %d %s", st, raw)
			}
			if st, raw := w.put(t, "api-key", "k", nil); st != 200 {
				t.Fatalf("second secret: %d %s", st, raw)
			}
			var list apiv1.List[apiv1.SecretSummary]
			if st, raw := w.e.Do(t, "GET", "/v1/projects/"+w.enr.Project.ID+"/secrets", nil, &list); st != 200 ||
				len(list.Items) != 2 || list.Items[0].Name != "api-key" || list.Items[1].CurrentVersion != 2 {
				t.Fatalf("list: %d %s", st, raw)
			}
			var page apiv1.List[apiv1.SecretSummary]
			w.e.Do(t, "GET", "/v1/projects/"+w.enr.Project.ID+"/secrets?limit=1", nil, &page)
			if len(page.Items) != 1 || page.NextCursor == "" {
				t.Fatalf("first page: %+v", page)
			}
			cursor := page.NextCursor
			page = apiv1.List[apiv1.SecretSummary]{}
			w.e.Do(t, "GET", "/v1/projects/"+w.enr.Project.ID+"/secrets?limit=1&cursor="+cursor, nil, &page)
			if len(page.Items) != 1 || page.Items[0].Name != "db-password" || page.NextCursor != "" {
				t.Errorf("second page: %+v", page)
			}
			var meta apiv1.Secret
			if st, raw := w.e.Do(t, "GET", w.path("db-password"), nil, &meta); st != 200 || meta.CurrentVersion != 2 ||
				bytes.Contains(raw, []byte("hunter2")) {
				t.Errorf("metadata: %d %s", st, raw)
			}
			var hist apiv1.List[apiv1.SecretVersion]
			if st, raw := w.e.Do(t, "GET", w.path("db-password")+"/versions", nil, &hist); st != 200 || len(hist.Items) != 2 ||
				hist.Items[0].Version != 1 || hist.Items[1].Version != 2 {
				t.Errorf("versions: %d %s", st, raw)
			}
			var rev apiv1.SecretReveal
			if st, raw := w.e.Do(t, "POST", w.path("db-password")+"/reveal", apiv1.SecretRevealRequest{Version: 1}, &rev); st != 200 ||
				rev.Version != 1 || rev.Value != base64.StdEncoding.EncodeToString([]byte("hunter2-first")) {
				t.Errorf("reveal v1: %d %s", st, raw)
			}
			if st, _ := w.e.Do(t, "DELETE", w.path("db-password"), nil, nil); st != 204 {
				t.Fatalf("delete: %d", st)
			}
			if st, raw := w.e.Do(t, "GET", w.path("db-password"), nil, nil); st != 404 || code(raw) != "secret_not_found" {
				t.Errorf("after delete: %d %s", st, raw)
			}
			if st, raw := w.put(t, "db-password", "again", nil); st != 200 || !bytes.Contains(raw, []byte(`"current_version":1`)) {
				t.Errorf("rewrite after delete: %d %s", st, raw)
			}
		})
	}
}

// TestBadInputIsRefused: names, bodies, sizes, ids and bindings get
// problem+json codes, and nothing is written.
func TestBadInputIsRefused(t *testing.T) {
	w := newWorld(t, apptest.SQLite, 1)
	big := base64.StdEncoding.EncodeToString(make([]byte, 512<<10+1))
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"PUT", w.path("Bad_Name"), apiv1.SecretPutRequest{Value: "eA=="}, 400, "invalid_secret_name"},
		{"PUT", w.path("ok"), map[string]any{"value": "not base64!"}, 400, "invalid_secret_value"},
		{"PUT", w.path("ok"), map[string]any{"value": "eA==", "extra": 1}, 400, "invalid_secret_value"},
		{"PUT", w.path("ok"), map[string]any{"value": big}, 413, "secret_value_too_large"},
		{"PUT", "/v1/projects/not-a-uuid/secrets/ok", apiv1.SecretPutRequest{Value: "eA=="}, 400, "invalid_project_id"},
		{"GET", w.path("missing"), nil, 404, "secret_not_found"},
		{"POST", w.path("missing") + "/bindings", apiv1.SecretBindingRequest{Selector: "role=db"}, 404, "secret_not_found"},
	} {
		if st, raw := w.e.Do(t, c.method, c.path, c.body, nil); st != c.status || code(raw) != c.code {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, st, raw, c.status, c.code)
		}
	}
	w.put(t, "ok", "v", nil)
	for _, req := range []apiv1.SecretBindingRequest{{}, {NodeID: "x", Selector: "role=db"}, {Selector: "role in ("},
		{NodeID: "0190b6f2-0000-7000-8000-000000000000"}} {
		if st, raw := w.e.Do(t, "POST", w.path("ok")+"/bindings", req, nil); st/100 != 4 || code(raw) != "invalid_secret_binding" {
			t.Errorf("binding %+v: %d %s", req, st, raw)
		}
	}
	var list apiv1.List[apiv1.SecretSummary]
	w.e.Do(t, "GET", "/v1/projects/"+w.enr.Project.ID+"/secrets", nil, &list)
	if len(list.Items) != 1 {
		t.Errorf("refused writes left secrets behind: %+v", list.Items)
	}
}

// TestDeliveryToBoundNodesOnly: a secret bound by selector reaches the
// nodes it matches, at level 1 under their NSK; another node gets 404 as
// if the secret did not exist; bindings, writes and relabels send
// node_secrets_updated with the node's whole index, and state lists it.
func TestDeliveryToBoundNodesOnly(t *testing.T) {
	w := newWorld(t, apptest.SQLite, 1, "db1", "web1")
	db, web := w.nodes["db1"], w.nodes["web1"]
	w.put(t, "db-password", "s3cret-v1", nil)
	b := w.bind(t, "db-password", apiv1.SecretBindingRequest{Selector: w.role + "=db"})
	if b.MatchedNodes != 1 {
		t.Errorf("binding matched %d nodes, want 1", b.MatchedNodes)
	}
	st, sr, _ := w.fetch(t, db, "db-password", 0)
	if st != 200 || sr.Version != 1 || sr.Sealed != "" {
		t.Fatalf("db fetch: %d %+v", st, sr)
	}
	if got, err := sr.Open(db.NSK); err != nil || string(got) != "s3cret-v1" {
		t.Fatalf("open with the NSK: %q %v", got, err)
	}
	if st, _, c := w.fetch(t, web, "db-password", 0); st != 404 || c != "secret_not_found" {
		t.Errorf("unbound web node: %d %s", st, c)
	}
	if st, _, c := w.fetch(t, db, "no-such-secret", 0); st != 404 || c != "secret_not_found" {
		t.Errorf("unknown secret: %d %s", st, c)
	}
	// Another node's NSK on db's path is refused before anything is read.
	if resp, raw := w.e.NodeSend(t, apptest.Node{NSK: web.NSK}, "GET", "/v1/nodes/"+db.ID+"/secrets/db-password", nil, nil); resp.StatusCode != 403 {
		t.Errorf("web's NSK on db's path: %d %s", resp.StatusCode, raw)
	}
	w.put(t, "db-password", "s3cret-v2", nil)
	if st, sr, _ := w.fetch(t, db, "db-password", 0); st != 200 || sr.Version != 2 {
		t.Errorf("after a write: %d %+v", st, sr)
	}
	if st, sr, _ := w.fetch(t, db, "db-password", 1); st != 200 || sr.Version != 1 {
		t.Errorf("version 1: %d %+v", st, sr)
	} else if got, _ := sr.Open(db.NSK); string(got) != "s3cret-v1" {
		t.Errorf("version 1 value %q", got)
	}
	if st, _, c := w.fetch(t, db, "db-password", 9); st != 404 || c != "secret_version_not_found" {
		t.Errorf("version 9: %d %s", st, c)
	}
	evs := w.events(t, db)
	if len(evs) != 2 || refsOf(evs[0]) != "db-password:1 " || refsOf(evs[1]) != "db-password:2 " {
		t.Errorf("db's events: %v", evs)
	}
	if len(w.events(t, web)) != 0 {
		t.Errorf("web was told of a secret it does not receive: %v", w.events(t, web))
	}
	// Relabel web to db: it is told, and its fetch now works.
	w.e.LabelNode(t, w.roleID, web.ID, "db")
	if evs := w.events(t, web); len(evs) != 1 || refsOf(evs[0]) != "db-password:2 " {
		t.Errorf("web after relabel: %v", evs)
	}
	if st, _, _ := w.fetch(t, web, "db-password", 0); st != 200 {
		t.Errorf("web after relabel: %d", st)
	}
	var state nodeproto.StateSnapshot
	resp, raw := w.e.NodeSend(t, web, "GET", "/v1/nodes/"+web.ID+"/state", nil, nil)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &state) != nil || len(state.SecretRefs) != 1 ||
		state.SecretRefs[0].Key != "db-password" || state.SecretRefs[0].Version != 2 {
		t.Errorf("state secret_refs: %d %s", resp.StatusCode, raw)
	}
	// Unbinding tells both nodes their index is empty.
	if st, _ := w.e.Do(t, "DELETE", w.path("db-password")+"/bindings/"+b.ID, nil, nil); st != 204 {
		t.Fatalf("unbind: %d", st)
	}
	if evs := w.events(t, db); refsOf(evs[len(evs)-1]) != "" {
		t.Errorf("db after unbind: %v", evs)
	}
	if st, _, _ := w.fetch(t, db, "db-password", 0); st != 404 {
		t.Errorf("db after unbind: %d", st)
	}
}

// TestSealedDeliveryAtLevel2: a node that registered a sealing key gets
// its secrets sealed with HPKE; the level-1 members are empty; a level-1
// fetch of that node is refused; the binary form carries the same.
func TestSealedDeliveryAtLevel2(t *testing.T) {
	w := newWorld(t, apptest.SQLite, 2, "db1")
	db := w.nodes["db1"]
	w.put(t, "tls-key", "-----BEGIN KEY-----", nil)
	w.bind(t, "tls-key", apiv1.SecretBindingRequest{NodeID: db.ID})
	// Before a sealing key: level 1 under the NSK, even at level 2.
	if st, sr, _ := w.fetch(t, db, "tls-key", 0); st != 200 || sr.Ciphertext == "" || sr.Sealed != "" {
		t.Fatalf("before a sealing key: %d %+v", st, sr)
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privB64, pub := base64.StdEncoding.EncodeToString(priv.Bytes()), base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())
	level1 := apptest.Node{ID: db.ID, NSK: db.NSK, Level: 1}
	if resp, raw := w.e.NodeSend(t, level1, "PUT", "/v1/nodes/"+db.ID+"/sealing-key", nodeproto.SealingKeyRequest{PublicKey: pub}, nil); resp.StatusCode != 400 {
		t.Errorf("sealing key at level 1: %d %s", resp.StatusCode, raw)
	}
	var ack nodeproto.SealingKeyResponse
	resp, raw := w.e.NodeSend(t, db, "PUT", "/v1/nodes/"+db.ID+"/sealing-key", nodeproto.SealingKeyRequest{PublicKey: pub}, nil)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &ack) != nil || ack.KID == "" {
		t.Fatalf("sealing key: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := w.e.NodeSend(t, db, "PUT", "/v1/nodes/"+db.ID+"/sealing-key", nodeproto.SealingKeyRequest{PublicKey: "short"}, nil); resp.StatusCode != 400 {
		t.Errorf("bad sealing key: %d %s", resp.StatusCode, raw)
	}
	st, sr, _ := w.fetch(t, db, "tls-key", 0)
	if st != 200 || sr.Sealed == "" || sr.Ciphertext != "" || sr.Nonce != "" || sr.KID != ack.KID {
		t.Fatalf("sealed fetch: %d %+v", st, sr)
	}
	if got, err := sr.OpenSealed(privB64, db.ID); err != nil || string(got) != "-----BEGIN KEY-----" {
		t.Fatalf("open sealed: %q %v", got, err)
	}
	other, _ := ecdh.X25519().GenerateKey(rand.Reader)
	if _, err := sr.OpenSealed(base64.StdEncoding.EncodeToString(other.Bytes()), db.ID); err == nil {
		t.Error("another key opened the sealed value")
	}
	if _, err := sr.Open(db.NSK); err == nil {
		t.Error("the NSK opened a sealed answer")
	}
	if st, _, c := w.fetch(t, level1, "tls-key", 0); st != 403 || c != "protocol_downgrade_refused" {
		t.Errorf("level-1 fetch after a sealing key: %d %s", st, c)
	}
	resp, body := w.e.NodeSend(t, db, "GET", "/v1/nodes/"+db.ID+"/secrets/tls-key", nil, http.Header{"Accept": {"application/octet-stream"}})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("X-Plexsphere-Secret-Kid") != ack.KID || resp.Header.Get("X-Plexsphere-Secret-Version") != "1" {
		t.Fatalf("binary fetch: %d %v", resp.StatusCode, resp.Header)
	}
	if got, err := nodeproto.OpenFromNode(privB64, db.ID, "tls-key", 1, body); err != nil || string(got) != "-----BEGIN KEY-----" {
		t.Errorf("binary sealed form: %q %v", got, err)
	}
}

// TestBinaryLevel1Form: Accept: application/octet-stream gets nonce ‖
// ciphertext ‖ tag under the NSK with the version and KID headers.
func TestBinaryLevel1Form(t *testing.T) {
	w := newWorld(t, apptest.SQLite, 1, "db1")
	db := w.nodes["db1"]
	w.put(t, "token", "abc", nil)
	w.bind(t, "token", apiv1.SecretBindingRequest{NodeID: db.ID})
	resp, body := w.e.NodeSend(t, db, "GET", "/v1/nodes/"+db.ID+"/secrets/token", nil,
		http.Header{"Accept": {"application/json;q=0.5, application/octet-stream"}})
	if resp.StatusCode != 200 || resp.Header.Get("X-Plexsphere-Secret-Kid") != "nsk" || len(body) != 12+3+16 {
		t.Fatalf("binary: %d %v %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	sr := nodeproto.SecretResponse{Key: "token", Version: 1, Nonce: base64.StdEncoding.EncodeToString(body[:12]),
		Ciphertext: base64.StdEncoding.EncodeToString(body[12:])}
	if got, err := sr.Open(db.NSK); err != nil || string(got) != "abc" {
		t.Errorf("open binary: %q %v", got, err)
	}
}

// TestOpenBaoWithTransitMasterKey: the control plane on the OpenBao
// backend (the wire-level stand-in) with its master key wrapped by
// Transit: the key file holds only the wrapped form, writes land as KV
// versions, and a reveal reads them back.
func TestOpenBaoWithTransitMasterKey(t *testing.T) {
	bao := baotest.New(t)
	e := apptest.StartConfig(t, apptest.SQLite, func(c *config.Config) {
		c.SecretsBackend, c.OpenBaoAddr, c.OpenBaoCACert = "openbao", bao.URL(), bao.CACertFile()
		c.OpenBaoToken = config.Secret(bao.RootToken())
		c.OpenBaoTransitKey = "plexsphere-master"
	})
	raw, err := os.ReadFile(e.Config.MasterKeyFile)
	if err != nil || !bytes.HasPrefix(raw, []byte("vault:v1:")) {
		t.Fatalf("master key file is not Transit-wrapped: %q %v", raw, err)
	}
	w := &world{e: e, enr: e.NewEnrolment(t, "bao", "100.72.0.0/24", 1)}
	for i, v := range []string{"first", "second"} {
		if st, raw := w.put(t, "api-key", v, nil); st != 200 || !bytes.Contains(raw, []byte(`"current_version":`+strconv.Itoa(i+1))) {
			t.Fatalf("put %d: %d %s", i+1, st, raw)
		}
	}
	var rev apiv1.SecretReveal
	if st, raw := e.Do(t, "POST", w.path("api-key")+"/reveal", apiv1.SecretRevealRequest{}, &rev); st != 200 ||
		rev.Version != 2 || rev.Value != base64.StdEncoding.EncodeToString([]byte("second")) {
		t.Fatalf("reveal: %d %s", st, raw)
	}
	writes := 0
	for _, r := range bao.Requests() {
		if r.Method == "PUT" || r.Method == "POST" {
			writes++
		}
	}
	if writes < 3 { // transit encrypt or decrypt, and the two KV writes
		t.Errorf("the stand-in saw %d writes", writes)
	}
}

// audited counts the entries of action with outcome in the Domain's chain.
func (w *world) audited(t *testing.T, action, outcome string) int {
	t.Helper()
	var n int
	if err := w.e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = $2 AND outcome = $3`,
		w.enr.Domain.ID, action, outcome).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRevealIsSensitiveAndAudited: reveal is sensitive (a
// user's token without step-up is refused), a write without manage is
// denied in the Domain's chain; writes, reveals and node fetches are audited there,
// and no entry carries the value.
func TestRevealIsSensitiveAndAudited(t *testing.T) {
	w := newWorld(t, apptest.SQLite, 1, "db1")
	w.put(t, "db-password", "audit-canary-77", nil)
	w.bind(t, "db-password", apiv1.SecretBindingRequest{NodeID: w.nodes["db1"].ID})
	_, userToken := w.e.NewUser(t, "operator-without-reveal")
	// Reveal is sensitive: a user's token without a fresh step-up is
	// refused before anything is read.
	if st, raw := w.e.DoAs(t, userToken, "POST", w.path("db-password")+"/reveal", apiv1.SecretRevealRequest{}, nil); st != 401 ||
		code(raw) != "step_up_required" || bytes.Contains(raw, []byte("canary")) {
		t.Errorf("reveal by a user without step-up: %d %s", st, raw)
	}
	if st, _ := w.e.DoAs(t, userToken, "PUT", w.path("db-password"), apiv1.SecretPutRequest{Value: "eA=="}, nil); st != 403 && st != 404 {
		t.Errorf("write by a user without manage: %d", st)
	}
	if st, _ := w.e.Do(t, "POST", w.path("db-password")+"/reveal", apiv1.SecretRevealRequest{}, nil); st != 200 {
		t.Fatalf("admin reveal: %d", st)
	}
	if st, _, _ := w.fetch(t, w.nodes["db1"], "db-password", 0); st != 200 {
		t.Fatalf("node fetch: %d", st)
	}
	for action, want := range map[string]int{"secret.write": 1, "secret.bind": 1, "secret.reveal": 1, "node.secret.read": 1} {
		if got := w.audited(t, action, "succeeded"); got != want {
			t.Errorf("%s: %d succeeded entries, want %d", action, got, want)
		}
	}
	var denied int
	w.e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'secret.write' AND outcome = 'denied'`,
		w.enr.Domain.ID).Scan(&denied)
	if denied != 1 {
		t.Errorf("%d denied entries for the refused write in the Domain's chain, want 1", denied)
	}
	var leaked int
	w.e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE reason LIKE '%canary%' OR object_id LIKE '%canary%'`).Scan(&leaked)
	if leaked != 0 {
		t.Error("an audit entry carries the value")
	}
}

// specDecrypt opens a level-1 SecretResponse exactly as node-protocol.md
// §11.1 says, with nothing but the standard library: AES-256-GCM, key =
// the NSK's 32 ASCII bytes, nonce = B64 12 bytes, ciphertext = B64 of the
// encrypted bytes and the 16-byte tag, no AAD.
func specDecrypt(nsk string, body []byte) (string, error) {
	var r struct {
		Ciphertext, Nonce string
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", err
	}
	nonce, err := base64.StdEncoding.DecodeString(r.Nonce)
	if err != nil {
		return "", err
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher([]byte(nsk))
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	pt, err := gcm.Open(nil, nonce, ct, nil)
	return string(pt), err
}

// TestLevel1DecryptsFromTheSpecAlone: a real answer of the control plane
// opens with a decryptor written from the protocol text, and every fetch
// uses a fresh nonce.
func TestLevel1DecryptsFromTheSpecAlone(t *testing.T) {
	w := newWorld(t, apptest.SQLite, 1, "db1")
	db := w.nodes["db1"]
	w.put(t, "db-password", "spec-value-✓", nil)
	w.bind(t, "db-password", apiv1.SecretBindingRequest{NodeID: db.ID})
	nonces := map[string]bool{}
	var last []byte
	for range 3 {
		resp, raw := w.e.NodeSend(t, db, "GET", "/v1/nodes/"+db.ID+"/secrets/db-password", nil, http.Header{"Accept": {"application/json"}})
		if resp.StatusCode != 200 {
			t.Fatalf("fetch: %d %s", resp.StatusCode, raw)
		}
		got, err := specDecrypt(db.NSK, raw)
		if err != nil || got != "spec-value-✓" {
			t.Fatalf("spec decryptor: %q %v", got, err)
		}
		var r struct{ Nonce string }
		json.Unmarshal(raw, &r)
		nonces[r.Nonce] = true
		last = raw
	}
	if len(nonces) != 3 {
		t.Errorf("3 fetches used %d distinct nonces", len(nonces))
	}
	wrong := []byte(db.NSK)
	wrong[0] ^= 1
	if _, err := specDecrypt(string(wrong), last); err == nil {
		t.Error("another NSK opened the answer")
	}
}
