package nodeproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

var stateNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func validState(t *testing.T) *StateResponse {
	t.Helper()
	var s StateResponse
	if err := json.Unmarshal([]byte(fullStateJSON), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestStateValidateAcceptsSpecDocument(t *testing.T) {
	if err := validState(t).Validate(stateNow); err != nil {
		t.Fatalf("the full spec document is rejected: %v", err)
	}
	var empty StateResponse
	if err := empty.Validate(stateNow); err != nil {
		t.Fatalf("the smallest state is rejected: %v", err)
	}
}

// TestStateValidateRejects breaks one rule at a time and expects the path of
// the offending member.
func TestStateValidateRejects(t *testing.T) {
	cases := []struct {
		field  string
		mutate func(s *StateResponse)
	}{
		{"peers[0].id", func(s *StateResponse) { s.Peers[0].ID = "a/b" }},
		{"peers[0].public_key", func(s *StateResponse) { s.Peers[0].PublicKey = "" }},
		{"peers[0].mesh_ip", func(s *StateResponse) { s.Peers[0].MeshIP = "10.100.0.8/32" }},
		{"peers[0].endpoint", func(s *StateResponse) { s.Peers[0].Endpoint = "198.51.100.2" }},
		{"peers[0].psk", func(s *StateResponse) { s.Peers[0].PSK = "short" }},
		{"peers[0].allowed_ips[1]", func(s *StateResponse) { s.Peers[0].AllowedIPs[1] = "nope" }},
		{"peers[0].allowed_ips", func(s *StateResponse) { s.Peers[0].AllowedIPs = []string{"192.168.10.0/24"} }},
		{"policies[0].id", func(s *StateResponse) { s.Policies[0].ID = "" }},
		{"policies[0].rules[0].src", func(s *StateResponse) { s.Policies[0].Rules[0].Src = "10.0.0.0/8" }},
		{"policies[0].rules[1].protocol", func(s *StateResponse) { s.Policies[0].Rules[1].Port = 22 }},
		{"policies[0].rules[0].protocol", func(s *StateResponse) { s.Policies[0].Rules[0].Protocol = "icmp" }},
		{"policies[0].rules[0].action", func(s *StateResponse) { s.Policies[0].Rules[0].Action = "drop" }},
		{"policies[0].rules[0].port", func(s *StateResponse) { s.Policies[0].Rules[0].Port = 70000 }},
		{"signing_keys.current", func(s *StateResponse) { s.SigningKeys.Current = "" }},
		{"signing_keys.previous", func(s *StateResponse) { s.SigningKeys.Previous = "abc" }},
		{"signing_keys.transition_expires", func(s *StateResponse) { s.SigningKeys.TransitionExpires = time.Time{} }},
		{"signing_keys.transition_expires", func(s *StateResponse) { s.SigningKeys.TransitionExpires = stateNow }},
		{"signing_keys.transition_expires", func(s *StateResponse) { s.SigningKeys.Previous = "" }},
		{"bridge_config.access_subnets[0]", func(s *StateResponse) { s.BridgeConfig.AccessSubnets[0] = "x" }},
		{"relay_config.sessions[0].peer_b_endpoint", func(s *StateResponse) { s.RelayConfig.Sessions[0].PeerBEndpoint = "h.example:1" }},
		{"relay_config.sessions[0].expires_at", func(s *StateResponse) { s.RelayConfig.Sessions[0].ExpiresAt = time.Time{} }},
		{"user_access_config.peers[0].public_key", func(s *StateResponse) { s.UserAccessConfig.Peers[0].PublicKey = "x" }},
		{"user_access_config.interface_name", func(s *StateResponse) { s.UserAccessConfig.InterfaceName = "way-too-long-name" }},
		{"ingress_config.rules[0].mode", func(s *StateResponse) { s.IngressConfig.Rules[0].Mode = "tls" }},
		{"ingress_config.rules[0].mode", func(s *StateResponse) { s.IngressConfig.Rules[0].KeyPEM = "" }},
		{"ingress_config.rules[0].target_addr", func(s *StateResponse) { s.IngressConfig.Rules[0].TargetAddr = "x" }},
		{"site_to_site_config.tunnels[0].interface_name", func(s *StateResponse) { s.SiteToSiteConfig.Tunnels[0].InterfaceName = "" }},
		{"site_to_site_config.tunnels[1].interface_name", func(s *StateResponse) {
			s.SiteToSiteConfig.Tunnels = append(s.SiteToSiteConfig.Tunnels, s.SiteToSiteConfig.Tunnels[0])
			s.SiteToSiteConfig.Tunnels[1].TunnelID = "t2"
		}},
		{"data[0].key", func(s *StateResponse) { s.Data[0].Key = "a..b" }},
		{"data[0].updated_at", func(s *StateResponse) { s.Data[0].UpdatedAt = stateNow.In(time.FixedZone("", 7200)) }},
		{"data[0].payload", func(s *StateResponse) { s.Data[0].Payload = json.RawMessage(`{`) }},
		{"data[1].key", func(s *StateResponse) { s.Data = append(s.Data, s.Data[0]) }},
		{"secret_refs[0].key", func(s *StateResponse) { s.SecretRefs[0].Key = ".." }},
	}
	for _, c := range cases {
		s := validState(t)
		c.mutate(s)
		err := s.Validate(stateNow)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: want a FieldError, got %v", c.field, err)
			continue
		}
		if fe.Field != c.field {
			t.Errorf("want field %s, got %v", c.field, err)
		}
	}
}

func TestSSHSessionSetupValidate(t *testing.T) {
	ok := SSHSessionSetup{SessionID: "s1", TargetHost: "127.0.0.1", TargetPort: 22, ExpiresAt: stateNow.Add(10 * time.Minute)}
	if err := ok.Validate(stateNow); err != nil {
		t.Fatal(err)
	}
	for name, exp := range map[string]time.Time{
		"past":            stateNow.Add(-time.Second),
		"now":             stateNow,
		"over 30 minutes": stateNow.Add(30*time.Minute + time.Second),
		"not UTC":         stateNow.Add(time.Minute).In(time.FixedZone("", 3600)),
		"zero":            {},
	} {
		s := ok
		s.ExpiresAt = exp
		if err := s.Validate(stateNow); err == nil {
			t.Errorf("%s expires_at accepted", name)
		}
	}
}

func TestActionRequest(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": MaxActionTimeout, "nope": MaxActionTimeout, "30s": 30 * time.Second,
		"11m": MaxActionTimeout, "-1s": MaxActionTimeout, "0s": MaxActionTimeout,
	} {
		r := ActionRequest{Timeout: in}
		if got := r.EffectiveTimeout(); got != want {
			t.Errorf("EffectiveTimeout(%q) = %v, want %v", in, got, want)
		}
	}
	r := ActionRequest{ExecutionID: "e1", Action: "x", Checksum: "ABC"}
	if err := r.Validate(); err == nil {
		t.Error("upper-case checksum accepted (AC2)")
	}
	// AC1: parameter values are strings; a number fails to decode.
	if err := json.Unmarshal([]byte(`{"execution_id":"e1","parameters":{"n":1}}`), &r); err == nil {
		t.Error("numeric parameter decoded")
	}
}

func TestEndpointReportValidate(t *testing.T) {
	good := EndpointReport{PublicEndpoint: "203.0.113.7:51820", NATType: NATFullCone}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []EndpointReport{
		{PublicEndpoint: "host.example:1", NATType: NATNone},
		{PublicEndpoint: "203.0.113.7:51820", NATType: "restricted"},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

// TestSecretVector reproduces the §11.1 test vector and checks Open.
func TestSecretVector(t *testing.T) {
	nonce := []byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab}
	r, err := SealSecret(nsk, "db", 1, []byte("s3cret-value"), bytes.NewReader(nonce))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"key":"db","ciphertext":"dxA59AHMMgkevKsheXG9u3cRNMHKEzesOX96dg==","nonce":"oKGio6Slpqeoqaqr","version":1}`
	if string(got) != want {
		t.Fatalf("\n got: %s\nwant: %s", got, want)
	}
	pt, err := r.Open(nsk)
	if err != nil || string(pt) != "s3cret-value" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	other := "BBECAwQFBgcICQoLDA0ODxAREhMUFRYX"
	if _, err := r.Open(other); !errors.Is(err, ErrSecretOpen) {
		t.Errorf("opened under another NSK: %v", err)
	}
	tampered := r
	tampered.Ciphertext = "eBA59AHMMgkevKsheXG9u3cRNMHKEzesOX96dg=="
	if _, err := tampered.Open(nsk); !errors.Is(err, ErrSecretOpen) {
		t.Errorf("tampered ciphertext opened: %v", err)
	}
	if _, err := SealSecret("short", "db", 1, nil, nil); err == nil {
		t.Error("sealed under a malformed NSK")
	}
	// Fresh nonces by default.
	a, _ := SealSecret(nsk, "db", 1, []byte("v"), nil)
	b, _ := SealSecret(nsk, "db", 1, []byte("v"), nil)
	if a.Nonce == b.Nonce || a.Ciphertext == b.Ciphertext {
		t.Error("two seals share a nonce")
	}
}

func TestNewProblem(t *testing.T) {
	p := NewProblem(403, CodeNodeIDMismatch, "wrong node")
	got, _ := json.Marshal(p)
	const want = `{"type":"https://plexsphere.com/errors/node-id-mismatch","title":"Forbidden","status":403,"detail":"wrong node","instance":"","code":"node_id_mismatch"}`
	if string(got) != want {
		t.Fatalf("\n got: %s\nwant: %s", got, want)
	}
}
