package baotest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends one raw request and returns the status and the decoded body.
func call(t *testing.T, s *Server, method, path, token, ns, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+"/v1/"+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if ns != "" {
		req.Header.Set("X-Vault-Namespace", ns)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func errorsOf(m map[string]any) []any { e, _ := m["errors"].([]any); return e }

func TestKVWireShapes(t *testing.T) {
	s := New(t)
	root := s.RootToken()
	st, body := call(t, s, "GET", "secret/data/a/b", root, "", "")
	if st != 404 || len(body) != 1 || body["errors"] == nil || len(errorsOf(body)) != 0 {
		t.Fatalf("missing path: %d %v, want 404 {\"errors\":[]}", st, body)
	}
	st, body = call(t, s, "PUT", "secret/data/a/b", root, "", `{"data":{"k":"v1"},"options":{"cas":0}}`)
	d, _ := body["data"].(map[string]any)
	if st != 200 || d["version"] != 1.0 || d["destroyed"] != false || d["deletion_time"] != "" {
		t.Fatalf("write: %d %v", st, body)
	}
	for _, k := range []string{"request_id", "lease_id", "renewable", "lease_duration", "wrap_info", "warnings", "auth", "mount_type"} {
		if _, ok := body[k]; !ok {
			t.Errorf("response lacks %s", k)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, d["created_time"].(string)); err != nil {
		t.Errorf("created_time: %v", err)
	}
	st, body = call(t, s, "POST", "secret/data/a/b", root, "", `{"data":{"k":"v2"},"options":{"cas":0}}`)
	if st != 400 || errorsOf(body)[0] != "check-and-set parameter did not match the current version" {
		t.Fatalf("cas mismatch: %d %v", st, body)
	}
	call(t, s, "POST", "secret/data/a/b", root, "", `{"data":{"k":"v2"},"options":{"cas":"1"}}`)
	s.DeleteVersion("", "secret/a/b", 1)
	st, body = call(t, s, "GET", "secret/data/a/b?version=1", root, "", "")
	d, _ = body["data"].(map[string]any)
	md, _ := d["metadata"].(map[string]any)
	if st != 404 || d == nil || d["data"] != nil || md["version"] != 1.0 || md["deletion_time"] == "" {
		t.Fatalf("deleted version: %d %v", st, body)
	}
	st, body = call(t, s, "GET", "secret/data/a/b?version=5", root, "", "")
	if st != 404 || len(errorsOf(body)) != 0 {
		t.Fatalf("version 5 of 2: %d %v", st, body)
	}
	st, body = call(t, s, "GET", "secret/data/a/b", root, "", "")
	if d, _ := body["data"].(map[string]any); st != 200 || d["data"].(map[string]any)["k"] != "v2" {
		t.Fatalf("current: %d %v", st, body)
	}
	st, body = call(t, s, "GET", "secret/metadata/a/b", root, "", "")
	d, _ = body["data"].(map[string]any)
	vs, _ := d["versions"].(map[string]any)
	if st != 200 || d["current_version"] != 2.0 || len(vs) != 2 || vs["1"].(map[string]any)["deletion_time"] == "" {
		t.Fatalf("metadata: %d %v", st, body)
	}
	if st, _ = call(t, s, "DELETE", "secret/metadata/a/b", root, "", ""); st != 204 {
		t.Fatalf("delete metadata: %d", st)
	}
	if st, _ = call(t, s, "DELETE", "secret/metadata/a/b", root, "", ""); st != 204 {
		t.Fatalf("delete of a missing path: %d", st)
	}
	if st, _ = call(t, s, "GET", "secret/metadata/a/b", root, "", ""); st != 404 {
		t.Fatalf("metadata after delete: %d", st)
	}
	if st, _ = call(t, s, "GET", "nomount/data/a", root, "", ""); st != 404 {
		t.Fatalf("unmounted path: %d", st)
	}
}

func TestAuthSealAndHealth(t *testing.T) {
	s := New(t)
	for _, tok := range []string{"", "s.unknown"} {
		st, body := call(t, s, "GET", "secret/data/a", tok, "", "")
		if st != 403 || errorsOf(body)[0] != "permission denied" {
			t.Fatalf("token %q: %d %v", tok, st, body)
		}
	}
	roleID, secretID := s.AppRoleIn("ns1")
	st, body := call(t, s, "POST", "auth/approle/login", "", "ns1", `{"role_id":"`+roleID+`","secret_id":"nope"}`)
	if st != 400 || errorsOf(body)[0] != "invalid role or secret ID" {
		t.Fatalf("bad secret id: %d %v", st, body)
	}
	if st, _ = call(t, s, "POST", "auth/approle/login", "", "", `{"role_id":"`+roleID+`","secret_id":"`+secretID+`"}`); st != 400 {
		t.Fatalf("ns1's role in the root namespace: %d", st)
	}
	st, body = call(t, s, "POST", "auth/approle/login", "", "ns1", `{"role_id":"`+roleID+`","secret_id":"`+secretID+`"}`)
	auth, _ := body["auth"].(map[string]any)
	tok, _ := auth["client_token"].(string)
	if st != 200 || !strings.HasPrefix(tok, "s.") || auth["lease_duration"] != 3600.0 || body["data"] != nil {
		t.Fatalf("login: %d %v", st, body)
	}
	if st, _ = call(t, s, "GET", "secret/data/a", tok, "ns1", ""); st != 404 {
		t.Errorf("ns1 token in ns1: %d", st)
	}
	if st, _ = call(t, s, "GET", "secret/data/a", tok, "ns1/child", ""); st != 404 {
		t.Errorf("ns1 token in a child namespace: %d", st)
	}
	if st, _ = call(t, s, "GET", "secret/data/a", tok, "", ""); st != 403 {
		t.Errorf("ns1 token in the root namespace: %d", st)
	}
	s.ExpireTokens()
	if st, _ = call(t, s, "GET", "secret/data/a", tok, "ns1", ""); st != 403 {
		t.Errorf("expired token: %d", st)
	}

	s.Seal()
	st, body = call(t, s, "GET", "secret/data/a", s.RootToken(), "", "")
	if st != 503 || errorsOf(body)[0] != "Vault is sealed" {
		t.Fatalf("sealed: %d %v", st, body)
	}
	st, body = call(t, s, "GET", "sys/health", "", "", "")
	if st != 503 || body["sealed"] != true || body["initialized"] != true {
		t.Fatalf("health sealed: %d %v", st, body)
	}
	if st, _ = call(t, s, "GET", "sys/health?sealedcode=299", "", "", ""); st != 299 {
		t.Errorf("sealedcode: %d", st)
	}
	s.Unseal()
	s.SetStandby(true)
	if st, _ = call(t, s, "GET", "sys/health", "", "", ""); st != 429 {
		t.Errorf("standby: %d", st)
	}
	if st, _ = call(t, s, "GET", "sys/health?standbyok=true", "", "", ""); st != 200 {
		t.Errorf("standbyok: %d", st)
	}
	s.SetStandby(false)
	s.SetUninitialised(true)
	if st, body = call(t, s, "GET", "sys/health", "", "", ""); st != 501 || body["initialized"] != false {
		t.Errorf("uninitialised: %d %v", st, body)
	}
}

func TestTransitWire(t *testing.T) {
	s := New(t)
	root := s.RootToken()
	st, body := call(t, s, "POST", "transit/encrypt/k", root, "", `{"plaintext":"aGVsbG8="}`)
	d, _ := body["data"].(map[string]any)
	ct, _ := d["ciphertext"].(string)
	if st != 200 || !strings.HasPrefix(ct, "vault:v1:") || d["key_version"] != 1.0 {
		t.Fatalf("encrypt: %d %v", st, body)
	}
	st, body = call(t, s, "POST", "transit/decrypt/k", root, "", `{"ciphertext":"`+ct+`"}`)
	if d, _ := body["data"].(map[string]any); st != 200 || d["plaintext"] != "aGVsbG8=" {
		t.Fatalf("decrypt: %d %v", st, body)
	}
	for in, want := range map[string]string{
		`{"ciphertext":"` + ct + `"}|other`:                           "encryption key not found",
		`{"ciphertext":"abc"}|k`:                                      "invalid ciphertext: no prefix",
		`{"ciphertext":"vault:v1:@@"}|k`:                              "invalid ciphertext: could not decode base64",
		`{"ciphertext":"vault:v1:` + strings.Repeat("A", 64) + `"}|k`: "cipher: message authentication failed",
	} {
		b, key, _ := strings.Cut(in, "|")
		st, body := call(t, s, "POST", "transit/decrypt/"+key, root, "", b)
		if st != 400 || errorsOf(body)[0] != want {
			t.Errorf("%s: %d %v, want 400 %q", in, st, body, want)
		}
	}
	if st, _ = call(t, s, "POST", "transit/decrypt/k", root, "other-ns", `{"ciphertext":"`+ct+`"}`); st != 400 {
		t.Errorf("the key leaks across namespaces: %d", st)
	}
}
