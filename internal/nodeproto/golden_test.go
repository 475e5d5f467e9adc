package nodeproto

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Keys and checksums used in the hand-written documents below.
const (
	kA   = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	kB   = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
	kPSK = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	sum  = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	nsk  = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
)

// golden is a document written by hand from the spec text. The test decodes
// it strictly (every member must be known to the type), re-encodes it, and
// requires the same members and values back (no member renamed, missing or
// added). exact additionally requires byte equality of the re-encoding.
type golden struct {
	name  string
	new   func() any
	doc   string
	exact bool
	// decodeOnly skips the re-encoding check (a union type decoding a form
	// it does not emit).
	decodeOnly bool
}

func endpointGoldens() []golden {
	return []golden{
		{name: "heartbeat zero (§5.2, byte for byte)", new: func() any { return new(Heartbeat) }, exact: true,
			doc: `{"node_id":"","timestamp":"0001-01-01T00:00:00Z","status":"","uptime":"","binary_checksum":""}`},
		{name: "heartbeat full", new: func() any { return new(Heartbeat) },
			doc: `{"node_id":"n1","timestamp":"2026-03-01T12:00:00Z","status":"ok","uptime":"1h0m0s","binary_checksum":"` + sum + `",
			"mesh":{"interface":"plexd0","peer_count":3,"listen_port":51820},
			"nat":{"public_endpoint":"203.0.113.7:51820","type":"full_cone"},
			"bridge":{"enabled":true,"access_interface":"eth1","active_routes":2,"relay_enabled":true,"active_relay_sessions":1,
			  "ingress_enabled":false,"active_ingress_rules":0,"site_to_site_enabled":true,"active_site_to_site_tunnels":1},
			"user_access":{"enabled":true,"interface_name":"wg-access","peer_count":4,"listen_port":51822},
			"ingress":{"enabled":true,"rule_count":2,"connection_count":7},
			"site_to_site":{"enabled":true,"tunnel_count":1}}`},
		{name: "heartbeat response, level-1 form", new: func() any { return new(HeartbeatResponse) }, exact: true,
			doc: `{"reconcile":true,"rotate_keys":false}`},
		// Issue 8: the control plane's answer adds the contract's accepted_at.
		{name: "heartbeat response, union", new: func() any { return new(HeartbeatResponse) }, exact: true,
			doc: `{"accepted_at":"2026-03-01T12:00:00.123456Z","reconcile":false,"rotate_keys":true}`},
		// Issue 8: the contract's answers to capabilities and ingests, and
		// its capability manifest beside the agent's.
		{name: "capabilities response", new: func() any { return new(CapabilitiesResponse) }, exact: true,
			doc: `{"accepted_at":"2026-03-01T12:00:00Z","fields_changed":["binary_version"],"host_key_changed":false}`},
		{name: "ingest receipt", new: func() any { return new(IngestReceipt) }, exact: true,
			doc: `{"accepted_at":"2026-03-01T12:00:00Z","records":3}`},
		{name: "capability manifest, contract form", new: func() any { return new(Capabilities) },
			doc: `{"builtin_actions":[],"hooks":[],"binary_version":"v1","binary_checksum":"` + kA + `","ssh_host_key_fingerprint":"SHA256:x",
			"declared_hooks":[{"name":"h","checksum":"c"}],"plexd_hooks":[]}`},
		{name: "register request, agent form", new: func() any { return new(RegisterRequest) },
			doc: `{"token":"psb_dev_abc","public_key":"` + kB + `","hostname":"web-1","metadata":{"role":"web"},
			"capabilities":{"builtin_actions":null,"hooks":null}}`},
		{name: "register request, contract form", new: func() any { return new(RegisterRequest) }, decodeOnly: true,
			doc: `{"project_id":"p1","resource_id":"r1","bootstrap_token":"psb_dev_abc","nonce":"n-1","public_key":"` + kB + `","requested_resource_id":"r2"}`},
		{name: "register response, union", new: func() any { return new(RegisterResponse) },
			doc: `{"node_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","mesh_ip":"10.100.0.7","signing_public_key":"` + kA + `",
			"node_secret_key":"` + nsk + `","peers":[],"signing_key_id":"k1","nsk":"` + nsk + `",
			"peer_snapshot":[{"node_id":"n2","mesh_ip":"10.100.0.8","public_key":"` + kB + `","fallback_endpoint":"198.51.100.9:51821"}],
			"domain_mesh_cidr":"10.100.0.0/16"}`},
		{name: "drift report (§9.4)", new: func() any { return new(DriftReport) },
			doc: `{"timestamp":"2026-03-01T12:00:00Z","corrections":[{"type":"peer_added","detail":"peer n2"},{"type":"signing_keys_updated","detail":"signing keys rotated"}]}`},
		{name: "report sync", new: func() any { return new(ReportSync) },
			doc: `{"entries":[{"key":"inventory","content_type":"application/json","payload":{"disks":[1,2]},"version":1,"updated_at":"2026-03-01T12:00:00Z"}],"deleted":["old"]}`},
		{name: "report sync, nulls", new: func() any { return new(ReportSync) }, exact: true,
			doc: `{"entries":null,"deleted":null}`},
		{name: "keys/rotate request", new: func() any { return new(KeyRotateRequest) }, exact: true,
			doc: `{"node_id":"n1","new_public_key":"` + kB + `"}`},
		{name: "keys/rotate response", new: func() any { return new(KeyRotateResponse) },
			doc: `{"updated_peers":[{"id":"n2","public_key":"` + kB + `","mesh_ip":"10.100.0.8","endpoint":"","allowed_ips":["10.100.0.8/32"],"psk":""}]}`},
		{name: "capabilities", new: func() any { return new(Capabilities) },
			doc: `{"binary":{"version":"v1.2.3","checksum":"` + sum + `"},
			"builtin_actions":[{"name":"ping","description":"ping an IP","parameters":[{"name":"target","type":"string","required":true,"description":"an IP"}]}],
			"hooks":[{"name":"backup","description":"run a backup","source":"/etc/plexd/hooks/backup","checksum":"` + sum + `","parameters":[],"timeout":"5m","sandbox":"none"}]}`},
		{name: "endpoint report (§12.2)", new: func() any { return new(EndpointReport) }, exact: true,
			doc: `{"public_endpoint":"203.0.113.7:51820","nat_type":"symmetric"}`},
		{name: "endpoint response", new: func() any { return new(EndpointResponse) }, exact: true,
			doc: `{"peer_endpoints":[{"peer_id":"n2","endpoint":"198.51.100.2:51820"}]}`},
		{name: "execution ack", new: func() any { return new(ExecutionAck) }, exact: true,
			doc: `{"execution_id":"e1","status":"rejected","reason":"max_concurrent_reached"}`},
		{name: "execution result", new: func() any { return new(ExecutionResult) },
			doc: `{"execution_id":"e1","status":"success","exit_code":0,"stdout":"ok","stderr":"","duration":"1.234s","finished_at":"2026-03-01T12:00:01.5Z",
			"triggered_by":{"type":"user","session_id":"s1","user_id":"u1","email":"ops@example.com"}}`},
		{name: "tunnel ready", new: func() any { return new(TunnelReady) }, exact: true,
			doc: `{"listen_addr":"10.100.0.7:40123","timestamp":"2026-03-01T12:00:00Z"}`},
		{name: "tunnel closed", new: func() any { return new(TunnelClosed) }, exact: true,
			doc: `{"reason":"revoked","duration":"10m","timestamp":"2026-03-01T12:10:00Z"}`},
		{name: "integrity violation", new: func() any { return new(IntegrityViolation) },
			doc: `{"type":"hook","path":"/etc/plexd/hooks/backup","expected_checksum":"` + sum + `","actual_checksum":"` + strings.Repeat("0", 64) + `","detail":"checksum mismatch","timestamp":"2026-03-01T12:00:00Z"}`},
		{name: "metric point, tunnel", new: func() any { return new(MetricPoint) },
			doc: `{"timestamp":"2026-03-01T12:00:00Z","group":"tunnel","peer_id":"n2","data":{"peer_id":"n2","last_handshake_time":"2026-03-01T11:59:00Z","rx_bytes":10,"tx_bytes":20,"handshake_succeeded":true,"handshake_stale":false}}`},
		{name: "system metrics data", new: func() any { return new(SystemMetrics) },
			doc: `{"cpu_usage_percent":12.5,"memory_used_bytes":1,"memory_total_bytes":2,"disk_used_bytes":3,"disk_total_bytes":4,"network_rx_bytes":5,"network_tx_bytes":6}`},
		{name: "tunnel metrics data", new: func() any { return new(TunnelMetrics) },
			doc: `{"peer_id":"n2","last_handshake_time":"2026-03-01T11:59:00Z","rx_bytes":10,"tx_bytes":20,"handshake_succeeded":true,"handshake_stale":false}`},
		{name: "latency metrics data", new: func() any { return new(LatencyMetrics) }, exact: true,
			doc: `{"peer_id":"n2","rtt_nano":-1}`},
		{name: "log entry", new: func() any { return new(LogEntry) }, exact: true,
			doc: `{"timestamp":"2026-03-01T12:00:00Z","source":"journald","unit":"sshd.service","message":"hello","severity":"warning","hostname":"web-1"}`},
		{name: "audit entry", new: func() any { return new(AuditEntry) },
			doc: `{"timestamp":"2026-03-01T12:00:00Z","source":"auditd","event_type":"EXECVE","subject":{"uid":0,"gid":0,"pid":42},"object":"/usr/bin/id","action":"exec","result":"success","hostname":"web-1","raw":"type=EXECVE msg=..."}`},
		{name: "gather_info stdout", new: func() any { return new(GatherInfo) },
			doc: `{"hostname":"web-1","os":"linux","arch":"amd64","go_version":"go1.26.8","mesh_ip":"10.100.0.7","peer_count":2,"node_id":"n1"}`},
		{name: "secret response (§11.1 vector)", new: func() any { return new(SecretResponse) }, exact: true,
			doc: `{"key":"db","ciphertext":"dxA59AHMMgkevKsheXG9u3cRNMHKEzesOX96dg==","nonce":"oKGio6Slpqeoqaqr","version":1}`},
		{name: "problem", new: func() any { return new(Problem) }, exact: true,
			doc: `{"type":"https://plexsphere.com/errors/node-id-mismatch","title":"Forbidden","status":403,"detail":"the NSK belongs to another node","instance":"/v1/nodes/n2/state","code":"node_id_mismatch"}`},
		{name: "state, full (§9.1)", new: func() any { return new(StateResponse) }, doc: fullStateJSON},
	}
}

const fullStateJSON = `{
 "peers":[{"id":"n2","public_key":"` + kB + `","mesh_ip":"10.100.0.8","endpoint":"198.51.100.2:51820","allowed_ips":["10.100.0.8/32","192.168.10.0/24"],"psk":"` + kPSK + `"}],
 "policies":[{"id":"pol-1.r2","rules":[{"src":"n1","dst":"*","port":443,"protocol":"tcp","action":"allow"},{"src":"*","dst":"n1","port":0,"protocol":"","action":"deny"}]}],
 "signing_keys":{"current":"` + kB + `","previous":"` + kA + `","transition_expires":"2026-03-02T12:00:00Z"},
 "metadata":{"team":"a"},
 "bridge_config":{"access_subnets":["192.168.10.0/24"],"enable_nat":true,"enable_forwarding":true},
 "relay_config":{"sessions":[{"session_id":"r1","peer_a_id":"n2","peer_a_endpoint":"198.51.100.2:40000","peer_b_id":"n3","peer_b_endpoint":"[2001:db8::3]:40001","expires_at":"2026-03-01T12:05:00Z"}]},
 "user_access_config":{"enabled":true,"interface_name":"wg-access","listen_port":51822,"peers":[{"public_key":"` + kA + `","allowed_ips":["10.200.0.2/32"],"psk":"` + kPSK + `","label":"alice"}]},
 "ingress_config":{"enabled":true,"rules":[{"rule_id":"i1","listen_port":443,"target_addr":"10.100.0.9:8443","mode":"terminate","cert_pem":"-----BEGIN CERTIFICATE-----","key_pem":"-----BEGIN PRIVATE KEY-----"}]},
 "site_to_site_config":{"enabled":true,"tunnels":[{"tunnel_id":"t1","remote_endpoint":"vpn.example.net:51820","remote_public_key":"` + kA + `","local_subnets":["10.0.0.0/24"],"remote_subnets":["172.16.0.0/16"],"psk":"` + kPSK + `","interface_name":"s2s-office","listen_port":51830}]},
 "data":[{"key":"app.conf","content_type":"application/json","payload":{"a":1.0,"a":2},"version":3,"updated_at":"2026-03-01T12:00:00Z"}],
 "secret_refs":[{"key":"db","version":2}]
}`

// eventGoldens holds one hand-written payload per §10 catalogue type.
var eventGoldens = map[string]string{
	EventSigningKeyRotated:        `{"current":"` + kB + `","previous":"` + kA + `","transition_expires":"2026-03-02T12:00:00Z"}`,
	EventNodeStateUpdated:         `{"metadata":{"team":"a"},"data":[{"key":"k","content_type":"text/plain","payload":"x","version":1,"updated_at":"2026-03-01T12:00:00Z"}]}`,
	EventNodeSecretsUpdated:       `{"secret_refs":[{"key":"db","version":3}]}`,
	EventPeerAdded:                `{"id":"n2","public_key":"` + kB + `","mesh_ip":"10.100.0.8","endpoint":"","allowed_ips":["10.100.0.8/32"],"psk":""}`,
	EventPeerRemoved:              `{"peer_id":"n2"}`,
	EventPeerKeyRotated:           `{"id":"n2","public_key":"` + kA + `","mesh_ip":"10.100.0.8","endpoint":"","allowed_ips":["10.100.0.8/32"],"psk":"` + kPSK + `"}`,
	EventPeerEndpointChanged:      `{"id":"n2","public_key":"` + kB + `","mesh_ip":"10.100.0.8","endpoint":"198.51.100.2:51820","allowed_ips":["10.100.0.8/32"],"psk":""}`,
	EventPolicyUpdated:            `{}`,
	EventActionRequest:            `{"execution_id":"e1","action":"backup","parameters":{"target":"10.100.0.1","count":"3"},"timeout":"30s","checksum":"` + sum + `","triggered_by":{"type":"user","session_id":"s1","user_id":"u1","email":"ops@example.com"}}`,
	EventSessionRevoked:           `{"session_id":"s1"}`,
	EventSSHSessionSetup:          `{"session_id":"s1","target_host":"127.0.0.1","target_port":22,"authorized_key":"ssh-ed25519 AAAAC3Nza","expires_at":"2026-03-01T12:30:00Z"}`,
	EventRotateKeys:               `{}`,
	EventBridgeConfigUpdated:      `{}`,
	EventRelaySessionAssigned:     `{"session_id":"r1","peer_a_id":"n2","peer_a_endpoint":"198.51.100.2:40000","peer_b_id":"n3","peer_b_endpoint":"198.51.100.3:40001","expires_at":"2026-03-01T12:05:00Z"}`,
	EventRelaySessionRevoked:      `{"session_id":"r1"}`,
	EventUserAccessConfigUpdated:  `{}`,
	EventUserAccessPeerAssigned:   `{"public_key":"` + kA + `","allowed_ips":["10.200.0.2/32"],"psk":"` + kPSK + `","label":"alice"}`,
	EventUserAccessPeerRevoked:    `{"public_key":"` + kA + `"}`,
	EventIngressConfigUpdated:     `{}`,
	EventIngressRuleAssigned:      `{"rule_id":"i1","listen_port":443,"target_addr":"app.internal:8443","mode":"passthrough"}`,
	EventIngressRuleRevoked:       `{"rule_id":"i1"}`,
	EventSiteToSiteConfigUpdated:  `{}`,
	EventSiteToSiteTunnelAssigned: `{"tunnel_id":"t1","remote_endpoint":"203.0.113.50:51820","remote_public_key":"` + kA + `","local_subnets":[],"remote_subnets":["172.16.0.0/16"],"interface_name":"s2s-0","listen_port":51830}`,
	EventSiteToSiteTunnelRevoked:  `{"tunnel_id":"t1"}`,
}

func TestGoldenEndpointBodies(t *testing.T) {
	for _, g := range endpointGoldens() {
		t.Run(g.name, func(t *testing.T) { checkGolden(t, g) })
	}
}

func TestGoldenEventPayloads(t *testing.T) {
	if len(eventGoldens) != len(EventTypes()) {
		t.Fatalf("have %d event goldens for %d catalogue types", len(eventGoldens), len(EventTypes()))
	}
	for _, typ := range EventTypes() {
		doc, ok := eventGoldens[typ]
		if !ok {
			t.Errorf("no golden payload for %s", typ)
			continue
		}
		t.Run(typ, func(t *testing.T) {
			checkGolden(t, golden{name: typ, doc: doc, new: func() any {
				v, ok := NewEventPayload(typ)
				if !ok {
					t.Fatalf("NewEventPayload(%q) unknown", typ)
				}
				return v
			}})
		})
	}
	if _, ok := NewEventPayload("no_such_event"); ok {
		t.Error("NewEventPayload accepted a type outside the catalogue")
	}
}

func checkGolden(t *testing.T, g golden) {
	t.Helper()
	v := g.new()
	dec := json.NewDecoder(strings.NewReader(g.doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("strict decode of the spec document: %v", err)
	}
	if g.decodeOnly {
		return
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if g.exact {
		if string(out) != g.doc {
			t.Fatalf("re-encoding differs\n got: %s\nwant: %s", out, g.doc)
		}
		return
	}
	var want, got any
	if err := json.Unmarshal([]byte(g.doc), &want); err != nil {
		t.Fatalf("golden is not JSON: %v", err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("members differ\n got: %s\nwant: %s", out, compact(t, g.doc))
	}
}

func compact(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestZeroValuesRenderSpecDefaults pins what the zero value of each control
// plane document renders: always-present arrays as [] (J3), optional members
// omitted (K1: no signing_keys at all), and the existing agent's heartbeat.
func TestZeroValuesRenderSpecDefaults(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{StateResponse{}, `{"peers":[],"policies":[],"data":[],"secret_refs":[]}`},
		{Heartbeat{}, `{"node_id":"","timestamp":"0001-01-01T00:00:00Z","status":"","uptime":"","binary_checksum":""}`},
		{HeartbeatResponse{}, `{"reconcile":false,"rotate_keys":false}`},
		{Peer{ID: "n2"}, `{"id":"n2","public_key":"","mesh_ip":"","endpoint":"","allowed_ips":[],"psk":""}`},
		{Policy{ID: "p"}, `{"id":"p","rules":[]}`},
		{SigningKeys{Current: kA}, `{"current":"` + kA + `"}`},
		{KeyRotateResponse{}, `{"updated_peers":[]}`},
		{EndpointResponse{}, `{"peer_endpoints":[]}`},
		{NodeStateUpdated{}, `{"metadata":{},"data":[]}`},
		{NodeSecretsUpdated{}, `{"secret_refs":[]}`},
		{Empty{}, `{}`},
		{BridgeConfig{}, `{"access_subnets":[],"enable_nat":false,"enable_forwarding":false}`},
		{RelayConfig{}, `{"sessions":[]}`},
		{UserAccessConfig{}, `{"enabled":false,"interface_name":"","listen_port":0,"peers":[]}`},
		{IngressConfig{}, `{"enabled":false,"rules":[]}`},
		{SiteToSiteConfig{}, `{"enabled":false,"tunnels":[]}`},
		{ActionRequest{ExecutionID: "e1", Action: "ping"}, `{"execution_id":"e1","action":"ping","timeout":""}`},
		{IngressRule{RuleID: "i1", ListenPort: 80, TargetAddr: "a:1", Mode: "passthrough"}, `{"rule_id":"i1","listen_port":80,"target_addr":"a:1","mode":"passthrough"}`},
		{MetricPoint{Group: "system", Data: json.RawMessage(`{}`)}, `{"timestamp":"0001-01-01T00:00:00Z","group":"system","data":{}}`},
		{&StateResponse{Metadata: map[string]string{}}, `{"peers":[],"policies":[],"data":[],"secret_refs":[]}`},
	}
	for _, c := range cases {
		got, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%T: %v", c.v, err)
		}
		if string(got) != c.want {
			t.Errorf("%T\n got: %s\nwant: %s", c.v, got, c.want)
		}
	}
}

// TestRegisterResponseUnion pins that an agent-form response renders the
// contract aliases too (api.md §6), and that a contract-only response is
// readable through the agent-form fields.
func TestRegisterResponseUnion(t *testing.T) {
	r := RegisterResponse{NodeID: "n1", MeshIP: "10.100.0.7", SigningPublicKey: kA, NodeSecretKey: nsk,
		Peers: []Peer{{ID: "n2", PublicKey: kB, MeshIP: "10.100.0.8", AllowedIPs: []string{"10.100.0.8/32"}}}}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"node_id":"n1","mesh_ip":"10.100.0.7","signing_public_key":"` + kA + `","node_secret_key":"` + nsk + `",` +
		`"peers":[{"id":"n2","public_key":"` + kB + `","mesh_ip":"10.100.0.8","endpoint":"","allowed_ips":["10.100.0.8/32"],"psk":""}],` +
		`"nsk":"` + nsk + `","peer_snapshot":[{"node_id":"n2","mesh_ip":"10.100.0.8","public_key":"` + kB + `"}]}`
	if string(got) != want {
		t.Fatalf("\n got: %s\nwant: %s", got, want)
	}
	if r.NSK != "" {
		t.Fatal("MarshalJSON mutated its receiver")
	}

	var c RegisterResponse
	contract := `{"node_id":"n1","mesh_ip":"10.100.0.7","signing_public_key":"` + kA + `","signing_key_id":"k1","nsk":"` + nsk + `","peer_snapshot":[],"domain_mesh_cidr":"10.100.0.0/16"}`
	if err := json.Unmarshal([]byte(contract), &c); err != nil {
		t.Fatal(err)
	}
	c.FillAliases()
	if c.NodeSecretKey != nsk || c.SigningKeyID != "k1" || c.DomainMeshCIDR != "10.100.0.0/16" {
		t.Fatalf("contract form not readable: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid contract response rejected: %v", err)
	}
}

// wireTypes lists every wire type for the structural checks below.
func wireTypes() []any {
	return []any{
		RegisterRequest{}, RegisterResponse{}, SnapshotPeer{}, Peer{}, PolicyRule{}, Policy{},
		SigningKeys{}, DataEntry{}, SecretRef{}, StateResponse{}, DriftReport{}, DriftCorrection{},
		BridgeConfig{}, RelaySession{}, RelayConfig{}, UserAccessPeer{}, UserAccessConfig{},
		IngressRule{}, IngressConfig{}, SiteToSiteTunnel{}, SiteToSiteConfig{}, BridgeInfo{},
		UserAccessInfo{}, IngressInfo{}, SiteToSiteInfo{}, Heartbeat{}, MeshInfo{}, NATInfo{},
		HeartbeatResponse{}, ReportSync{}, ReportEntry{}, KeyRotateRequest{}, KeyRotateResponse{},
		Capabilities{}, BinaryInfo{}, BuiltinAction{}, Hook{}, ActionParam{}, EndpointReport{},
		EndpointResponse{}, PeerEndpoint{}, TriggeredBy{}, ActionRequest{}, ExecutionAck{},
		ExecutionResult{}, GatherInfo{}, SSHSessionSetup{}, TunnelReady{}, TunnelClosed{},
		IntegrityViolation{}, MetricPoint{}, SystemMetrics{}, TunnelMetrics{}, LatencyMetrics{},
		LogEntry{}, AuditEntry{}, NodeStateUpdated{}, NodeSecretsUpdated{}, PeerRemoved{},
		SessionRevoked{}, RelaySessionRevoked{}, UserAccessPeerRevoked{}, IngressRuleRevoked{},
		SiteToSiteTunnelRevoked{}, SecretResponse{}, Problem{},
		ContractState{}, StateReachability{}, StateBuckets{}, StateEntry{}, CapabilitiesResponse{}, IngestReceipt{},
	}
}

// TestMemberNamesAreSpecShaped checks J1 and X2 on every wire type: each
// field has an explicit lowercase snake_case name, and no two names of one
// object are equal ignoring case (Go decodes case-insensitively).
func TestMemberNamesAreSpecShaped(t *testing.T) {
	for _, v := range wireTypes() {
		typ := reflect.TypeOf(v)
		seen := map[string]string{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			if !ok || name == "" || name == "-" {
				t.Errorf("%s.%s has no JSON name", typ.Name(), f.Name)
				continue
			}
			if !ValidEventType(name) { // same alphabet: ^[a-z0-9_]+$
				t.Errorf("%s.%s: member %q is not lowercase snake_case", typ.Name(), f.Name, name)
			}
			if prev, dup := seen[strings.ToLower(name)]; dup {
				t.Errorf("%s: members %q and %q collide ignoring case (X2)", typ.Name(), prev, name)
			}
			seen[strings.ToLower(name)] = name
		}
	}
}
