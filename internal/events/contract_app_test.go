package events_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// enrolTwo creates a Domain and Project and registers two nodes the way the
// existing agent does.
func enrolTwo(t *testing.T, e *apptest.Env) (agentNode, agentNode) {
	t.Helper()
	fx := e.NewEnrolment(t, "c", "10.101.0.0/16", 2)
	tok := fx.Token
	return register(t, e, tok.Token), register(t, e, tok.Token)
}

// contractCall sends a node request as a client generated from the
// contract would: its own Content-Type, no agent headers.
func contractCall(t *testing.T, e *apptest.Env, nsk, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+nsk)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// Issue 8: the node operations answer what a client generated from the
// contract decodes, on the whole control plane: heartbeat has accepted_at;
// capabilities answers 200 CapabilityManifestResponse (fields_changed
// sorted, host_key_changed) for the contract's and the agent's manifests;
// metrics, logs and audit answer 202 IngestReceipt, logs and audit also as
// NDJSON; state carries reachability and peers' node_id. Before the fix,
// heartbeat lacked accepted_at and the others answered 204 without a body.
func TestNodeOperationsContractForms(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, apptest.Backend(b))
			a, peer := enrolTwo(t, e)
			base := "/v1/nodes/" + a.NodeID

			st, raw := contractCall(t, e, a.NodeSecretKey, "POST", base+"/heartbeat", "application/json",
				[]byte(`{"client_now":"2026-03-01T12:00:00Z","binary_checksum":"x","binary_version":"v1","nat_summary":{}}`))
			var hb struct {
				AcceptedAt *time.Time `json:"accepted_at"`
				Reconcile  *bool      `json:"reconcile"`
				RotateKeys *bool      `json:"rotate_keys"`
			}
			if json.Unmarshal(raw, &hb); st != 200 || hb.AcceptedAt == nil || hb.Reconcile == nil || hb.RotateKeys == nil {
				t.Fatalf("heartbeat: %d %s", st, raw)
			}

			sum := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
			fp := "SHA256:" + strings.TrimRight(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), "=")
			manifest := `{"binary_version":"v1","binary_checksum":"` + sum + `","ssh_host_key_fingerprint":"` + fp + `"}`
			type capResp struct {
				AcceptedAt     *time.Time `json:"accepted_at"`
				FieldsChanged  []string   `json:"fields_changed"`
				HostKeyChanged *bool      `json:"host_key_changed"`
			}
			putCaps := func(body string) capResp {
				t.Helper()
				st, raw := contractCall(t, e, a.NodeSecretKey, "PUT", base+"/capabilities", "application/json", []byte(body))
				var r capResp
				if json.Unmarshal(raw, &r); st != 200 || r.AcceptedAt == nil || r.FieldsChanged == nil || r.HostKeyChanged == nil {
					t.Fatalf("capabilities %s: %d %s", body, st, raw)
				}
				return r
			}
			if r := putCaps(manifest); !slices.Equal(r.FieldsChanged, []string{"binary_checksum", "binary_version", "ssh_host_key_fingerprint"}) || !*r.HostKeyChanged {
				t.Errorf("first manifest: %+v", r)
			}
			if r := putCaps(manifest); len(r.FieldsChanged) != 0 || *r.HostKeyChanged {
				t.Errorf("same manifest again: %+v", r)
			}
			if r := putCaps(`{"builtin_actions":null,"hooks":null,"binary":{"version":"v1","checksum":"` + sum + `"}}`); !slices.Equal(r.FieldsChanged, []string{"ssh_host_key_fingerprint"}) || !*r.HostKeyChanged {
				t.Errorf("the agent's manifest: %+v", r)
			}

			for _, tc := range []struct {
				kind, contentType, body string
				records                 int
			}{
				{"metrics", "application/json", `[{"group":"node_resources","name":"cpu","value":1,"timestamp":"2026-03-01T12:00:00Z"}]`, 1},
				{"logs", "application/x-ndjson", "{\"severity\":\"info\",\"message\":\"a\",\"timestamp\":\"2026-03-01T12:00:00Z\"}\n\n{\"severity\":\"info\",\"message\":\"b\",\"timestamp\":\"2026-03-01T12:00:01Z\"}\n", 2},
				{"audit", "application/x-ndjson", `{"source":"auditd","action":"x","outcome":"ok","timestamp":"2026-03-01T12:00:00Z"}`, 1},
				{"logs", "application/json", `[]`, 0},
			} {
				st, raw := contractCall(t, e, a.NodeSecretKey, "POST", base+"/"+tc.kind, tc.contentType, []byte(tc.body))
				var r struct {
					AcceptedAt *time.Time `json:"accepted_at"`
					Records    *int       `json:"records"`
				}
				if json.Unmarshal(raw, &r); st != 202 || r.AcceptedAt == nil || r.Records == nil || *r.Records != tc.records {
					t.Errorf("%s %s: %d %s, want 202 with %d records", tc.kind, tc.contentType, st, raw, tc.records)
				}
			}
			if st, raw := contractCall(t, e, a.NodeSecretKey, "POST", base+"/logs", "application/x-ndjson", []byte("{}\n[1]")); st != 400 {
				t.Errorf("NDJSON with a non-object line: %d %s", st, raw)
			}

			st, raw = contractCall(t, e, a.NodeSecretKey, "GET", base+"/state", "", nil)
			var snap contractSnapshot
			if json.Unmarshal(raw, &snap); st != 200 || snap.Reachability.State != "healthy" || snap.Reachability.LastHeartbeatAt == nil ||
				len(snap.Peers) != 1 || snap.Peers[0].NodeID != peer.NodeID {
				t.Errorf("state: %d %s", st, raw)
			}
		})
	}
}

// Issue 8: the node secret fetch is GET /v1/nodes/{id}/secrets/{name} with
// an optional integer version query, as in the contract (it was {key}
// without version). Until a secret backend exists every name is 404
// secret_not_found; a version that is not a positive integer is 400.
func TestNodeSecretContractParameters(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	a, _ := enrolTwo(t, e)
	for _, q := range []string{"", "?version=3"} {
		st, raw := contractCall(t, e, a.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/secrets/db"+q, "", nil)
		if st != 404 || !strings.Contains(string(raw), `"code":"secret_not_found"`) {
			t.Errorf("secret%s: %d %s", q, st, raw)
		}
	}
	for _, q := range []string{"?version=abc", "?version=0"} {
		if st, raw := contractCall(t, e, a.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/secrets/db"+q, "", nil); st != 400 {
			t.Errorf("secret%s: %d %s, want 400", q, st, raw)
		}
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				In     string `json:"in"`
				Schema struct {
					Type string `json:"type"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if st, raw := e.Do(t, "GET", "/v1/openapi.json", nil, &doc); st != 200 {
		t.Fatalf("openapi: %d %s", st, raw)
	}
	got := map[string]string{}
	for _, p := range doc.Paths["/v1/nodes/{id}/secrets/{name}"]["get"].Parameters {
		got[p.In+":"+p.Name] = p.Schema.Type
	}
	if got["path:name"] != "string" || got["query:version"] != "integer" {
		t.Errorf("secret fetch parameters %v, want path name and integer query version", got)
	}
}

// Issue 8: GET /v1/nodes/{id}/reachability, a contract operation that was
// not served, answers the contract's Reachability for the calling node:
// unreachable since its creation before a heartbeat, healthy after one.
func TestNodeReachabilityServed(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	a, _ := enrolTwo(t, e)
	read := func() (string, *time.Time, time.Time) {
		t.Helper()
		st, raw := contractCall(t, e, a.NodeSecretKey, "GET", "/v1/nodes/"+a.NodeID+"/reachability", "", nil)
		var r struct {
			State           string     `json:"state"`
			LastHeartbeatAt *time.Time `json:"last_heartbeat_at"`
			ChangedAt       *time.Time `json:"changed_at"`
		}
		if json.Unmarshal(raw, &r); st != 200 || r.ChangedAt == nil {
			t.Fatalf("reachability: %d %s", st, raw)
		}
		return r.State, r.LastHeartbeatAt, *r.ChangedAt
	}
	if state, last, _ := read(); state != "unreachable" || last != nil {
		t.Errorf("before a heartbeat: %s %v", state, last)
	}
	contractCall(t, e, a.NodeSecretKey, "POST", "/v1/nodes/"+a.NodeID+"/heartbeat", "application/json", []byte(`{}`))
	if state, last, changed := read(); state != "healthy" || last == nil || !changed.Equal(*last) {
		t.Errorf("after the first heartbeat: %s %v %v", state, last, changed)
	}
}

// Issue 8: the contract's error codes on node inputs it checks: a
// capability manifest with a binary_checksum that is not a base64 SHA-256
// is 400 binary_checksum_invalid, a malformed host-key fingerprint 400
// ssh_host_key_fingerprint_invalid, and a batch stamped with an unparsable
// X-Plexsphere-Sent-At 400 ingest_sent_at_invalid. The existing agent,
// which sends none of them, is unaffected.
func TestNodeInputContractCodes(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	a, _ := enrolTwo(t, e)
	base := "/v1/nodes/" + a.NodeID
	for body, code := range map[string]string{
		`{"binary_version":"v1","binary_checksum":"abc"}`: "binary_checksum_invalid",
		`{"binary_version":"v1","binary_checksum":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `","ssh_host_key_fingerprint":"MD5:aa"}`: "ssh_host_key_fingerprint_invalid",
	} {
		st, raw := contractCall(t, e, a.NodeSecretKey, "PUT", base+"/capabilities", "application/json", []byte(body))
		if st != 400 || !strings.Contains(string(raw), `"code":"`+code+`"`) {
			t.Errorf("%s: %d %s, want 400 %s", body, st, raw, code)
		}
	}
	fp := "SHA256:" + strings.TrimRight(base64.StdEncoding.EncodeToString(make([]byte, 32)), "=")
	if st, raw := contractCall(t, e, a.NodeSecretKey, "PUT", base+"/capabilities", "application/json",
		[]byte(`{"binary_version":"v1","ssh_host_key_fingerprint":"`+fp+`"}`)); st != 200 {
		t.Errorf("valid fingerprint: %d %s", st, raw)
	}
	send := func(sentAt string) (int, []byte) {
		req, _ := http.NewRequest("POST", e.URL+base+"/metrics", strings.NewReader(`[]`))
		req.Header.Set("Authorization", "Bearer "+a.NodeSecretKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Plexsphere-Sent-At", sentAt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	if st, raw := send("yesterday"); st != 400 || !strings.Contains(string(raw), `"code":"ingest_sent_at_invalid"`) {
		t.Errorf("bad sent-at: %d %s", st, raw)
	}
	if st, raw := send("2026-03-01T12:00:00Z"); st != 202 {
		t.Errorf("good sent-at: %d %s", st, raw)
	}
}
