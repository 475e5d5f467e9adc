package nodeproto

import (
	"encoding/json"
	"time"
)

// Peer is a mesh peer as the control plane describes it (§5.1). Every member
// is always present; allowed_ips is [] when empty, never null.
type Peer struct {
	ID         string   `json:"id"`          // the peer's node_id (ID)
	PublicKey  string   `json:"public_key"`  // WireGuard Key32
	MeshIP     string   `json:"mesh_ip"`     // bare IPv4
	Endpoint   string   `json:"endpoint"`    // host:port where last reachable, or ""
	AllowedIPs []string `json:"allowed_ips"` // []CIDR, contains <mesh_ip>/32 (M2)
	PSK        string   `json:"psk"`         // Key32 preshared key, or ""
	// NodeID repeats ID under the contract's name (NodeStatePeer.node_id);
	// the control plane sets it on state answers. Level-1 agents ignore it.
	NodeID string `json:"node_id,omitempty"`

	// Level 2 (ours; additive members that level-1 agents ignore, X2).
	// FallbackEndpoint is the contract's NodeStatePeer.fallback_endpoint:
	// the bridge relay address ("ip:port") when the pair is relayed.
	FallbackEndpoint string `json:"fallback_endpoint,omitempty"`
	// PersistentKeepalive is the keepalive in seconds to send to this peer
	// (0: none); 25 when either side of the pair is behind NAT (§12.1).
	PersistentKeepalive int `json:"persistent_keepalive,omitempty"`
	// MeshIPv6 is the peer's IPv6 ULA mesh address when it has one; its
	// /128 is then in AllowedIPs too.
	MeshIPv6 string `json:"mesh_ipv6,omitempty"`
	// Candidates are further "ip:port" endpoints worth trying, best first
	// (the peer's local addresses, the address the control plane saw).
	Candidates []string `json:"candidates,omitempty"`
	// Relay routes the pair through a bridge relay with an authenticated
	// session (docs/design/0005-mesh.md, "Relay wire"); nil when direct.
	Relay *PeerRelay `json:"relay,omitempty"`
}

// PeerRelay is a level-2 relay assignment as one side of a pair sees it.
type PeerRelay struct {
	// SessionID is the relay session (a UUID).
	SessionID string `json:"session_id"`
	// Endpoint is the relay's "ip:port".
	Endpoint string `json:"endpoint"`
	// Token authenticates this side's binds: base64url (no padding) of 32
	// random bytes, different for each side of the session.
	Token string `json:"token"`
	// RelayNodeID is the bridge node running the relay.
	RelayNodeID string `json:"relay_node_id,omitempty"`
}

// MeshSelf is state.mesh (level 2, ours): what a node needs about its own
// place in the mesh beyond registration's answer.
type MeshSelf struct {
	// MeshCIDR is the Domain's IPv4 pool; our plexd routes it to the mesh
	// interface.
	MeshCIDR string `json:"mesh_cidr"`
	// MeshIPv6 and MeshIPv6CIDR are the node's ULA address and the
	// Domain's ULA /64 ("" when the node has none).
	MeshIPv6     string `json:"mesh_ipv6,omitempty"`
	MeshIPv6CIDR string `json:"mesh_ipv6_cidr,omitempty"`
	// STUNServers are "host:port" STUN responders (the control plane's,
	// then bridges'); at least two distinct ones classify the NAT.
	STUNServers []string `json:"stun_servers"`
}

// MarshalJSON renders a nil AllowedIPs as [] (§5.1).
func (p Peer) MarshalJSON() ([]byte, error) {
	type wire Peer
	w := wire(p)
	w.AllowedIPs = nonNil(w.AllowedIPs)
	return json.Marshal(w)
}

// Validate checks the §5.1 and M2 rules.
func (p *Peer) Validate() error {
	switch {
	case !ValidID(p.ID):
		return invalid("id", "not an ID")
	case !ValidWireGuardKey(p.PublicKey):
		return invalid("public_key", "not a non-zero Key32")
	case !ValidMeshIP(p.MeshIP):
		return invalid("mesh_ip", "not a bare IPv4 address")
	case !ValidPeerEndpoint(p.Endpoint):
		return invalid("endpoint", `not "" or host:port`)
	case p.PSK != "" && !ValidWireGuardKey(p.PSK):
		return invalid("psk", `not "" or a non-zero Key32`)
	case p.NodeID != "" && p.NodeID != p.ID:
		return invalid("node_id", "differs from id")
	}
	own := false
	for i, c := range p.AllowedIPs {
		if !ValidCIDR(c) {
			return invalid(index("allowed_ips", i), "not a CIDR")
		}
		own = own || c == p.MeshIP+"/32"
	}
	if !own {
		return invalid("allowed_ips", "does not contain <mesh_ip>/32")
	}
	return nil
}

// PolicyRule is one level-1 rule (§12.3).
type PolicyRule struct {
	Src      string `json:"src"`      // node id or "*"
	Dst      string `json:"dst"`      // node id or "*"
	Port     int    `json:"port"`     // 0 = any
	Protocol string `json:"protocol"` // "", "tcp" or "udp"
	Action   string `json:"action"`   // "allow" or "deny"
}

// Policy rule values (§12.3).
const (
	AnyNode       = "*"
	ProtocolAny   = ""
	ProtocolTCP   = "tcp"
	ProtocolUDP   = "udp"
	ActionAllow   = "allow"
	ActionDeny    = "deny"
	maxPolicyPort = 65535
)

// Validate checks P1 and P2.
func (r *PolicyRule) Validate() error {
	switch {
	case r.Src != AnyNode && !ValidID(r.Src):
		return invalid("src", `not a node id or "*" (P1)`)
	case r.Dst != AnyNode && !ValidID(r.Dst):
		return invalid("dst", `not a node id or "*" (P1)`)
	case r.Port < 0 || r.Port > maxPolicyPort:
		return invalid("port", "outside 0–65535")
	case r.Protocol != ProtocolAny && r.Protocol != ProtocolTCP && r.Protocol != ProtocolUDP:
		return invalid("protocol", `not "", "tcp" or "udp"`)
	case r.Port > 0 && r.Protocol == ProtocolAny:
		return invalid("protocol", "a port needs tcp or udp (P2)")
	case r.Action != ActionAllow && r.Action != ActionDeny:
		return invalid("action", `not "allow" or "deny"`)
	}
	return nil
}

// Policy is a named rule set (§12.3). A changed rule set gets a new ID (S1).
type Policy struct {
	ID    string       `json:"id"`
	Rules []PolicyRule `json:"rules"`
}

// MarshalJSON renders nil Rules as [].
func (p Policy) MarshalJSON() ([]byte, error) {
	type wire Policy
	w := wire(p)
	w.Rules = nonNil(w.Rules)
	return json.Marshal(w)
}

// Validate checks the policy id and every rule.
func (p *Policy) Validate() error {
	if !ValidID(p.ID) {
		return invalid("id", "not an ID")
	}
	for i := range p.Rules {
		if err := p.Rules[i].Validate(); err != nil {
			return within(index("rules", i), err)
		}
	}
	return nil
}

// SigningKeys names the Ed25519 keys that sign a node's events (§8). It is
// the state member signing_keys and the signing_key_rotated payload.
type SigningKeys struct {
	Current           string    `json:"current"`                     // Key32
	Previous          string    `json:"previous,omitempty"`          // Key32, only with TransitionExpires
	TransitionExpires time.Time `json:"transition_expires,omitzero"` // Time, only with Previous
}

// Validate checks K1 and K2 at now: current is a Key32; previous comes with
// a transition_expires in the future, and neither comes alone.
func (k *SigningKeys) Validate(now time.Time) error {
	switch {
	case !ValidKey32(k.Current):
		return invalid("current", "not a Key32 (K1)")
	case k.Previous == "" && !k.TransitionExpires.IsZero():
		return invalid("transition_expires", "sent without previous (K2)")
	case k.Previous == "":
		return nil
	case !ValidKey32(k.Previous):
		return invalid("previous", "not a Key32 (K1)")
	case k.TransitionExpires.IsZero():
		return invalid("transition_expires", "missing while previous is set (K2)")
	case !ValidWireTime(k.TransitionExpires):
		return invalid("transition_expires", "not a UTC Time")
	case !k.TransitionExpires.After(now):
		return invalid("transition_expires", "not in the future (K2)")
	}
	return nil
}

// DataEntry is one node data entry (§9.1), also carried by
// node_state_updated (§10).
type DataEntry struct {
	Key         string          `json:"key"` // S4: ValidDataKey
	ContentType string          `json:"content_type"`
	Payload     json.RawMessage `json:"payload"`
	Version     int64           `json:"version"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Validate checks S4, S5 and that the payload is JSON.
func (d *DataEntry) Validate() error {
	switch {
	case !ValidDataKey(d.Key):
		return invalid("key", "not a safe data key (S4)")
	case d.Version < 0:
		return invalid("version", "negative")
	case !ValidWireTime(d.UpdatedAt):
		return invalid("updated_at", "not a UTC Time")
	case d.Payload != nil && !json.Valid(d.Payload):
		return invalid("payload", "not JSON")
	}
	return nil
}

// SecretRef announces a secret the node may fetch (§9.1).
type SecretRef struct {
	Key     string `json:"key"` // ID
	Version int64  `json:"version"`
}

// Validate checks that the key is an ID.
func (r *SecretRef) Validate() error {
	switch {
	case !ValidID(r.Key):
		return invalid("key", "not an ID")
	case r.Version < 0:
		return invalid("version", "negative")
	}
	return nil
}

// StateResponse is the body of GET /v1/nodes/{node_id}/state (§9.1). The
// smallest valid one is {"peers":[],"policies":[],"data":[],"secret_refs":[]};
// MarshalJSON renders those four as [] when nil.
type StateResponse struct {
	Peers            []Peer            `json:"peers"`
	Policies         []Policy          `json:"policies"`
	SigningKeys      *SigningKeys      `json:"signing_keys,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	BridgeConfig     *BridgeConfig     `json:"bridge_config,omitempty"`
	RelayConfig      *RelayConfig      `json:"relay_config,omitempty"`
	UserAccessConfig *UserAccessConfig `json:"user_access_config,omitempty"`
	IngressConfig    *IngressConfig    `json:"ingress_config,omitempty"`
	SiteToSiteConfig *SiteToSiteConfig `json:"site_to_site_config,omitempty"`
	Data             []DataEntry       `json:"data"`
	SecretRefs       []SecretRef       `json:"secret_refs"`
	// Mesh is level 2 (ours): the node's own mesh facts; nil at level 1.
	Mesh *MeshSelf `json:"mesh,omitempty"`
}

// MarshalJSON renders the always-present arrays as [] when nil.
func (s StateResponse) MarshalJSON() ([]byte, error) {
	type wire StateResponse
	w := wire(s)
	w.Peers = nonNil(w.Peers)
	w.Policies = nonNil(w.Policies)
	w.Data = nonNil(w.Data)
	w.SecretRefs = nonNil(w.SecretRefs)
	return json.Marshal(w)
}

// Validate checks a state document against the schema before the control
// plane serves it (§9.1: one invalid value makes the existing agent skip the
// whole cycle). now is the time K2 is judged at.
func (s *StateResponse) Validate(now time.Time) error {
	for i := range s.Peers {
		if err := s.Peers[i].Validate(); err != nil {
			return within(index("peers", i), err)
		}
	}
	for i := range s.Policies {
		if err := s.Policies[i].Validate(); err != nil {
			return within(index("policies", i), err)
		}
	}
	if s.SigningKeys != nil {
		if err := s.SigningKeys.Validate(now); err != nil {
			return within("signing_keys", err)
		}
	}
	if err := s.validateConfigs(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(s.Data))
	for i := range s.Data {
		if err := s.Data[i].Validate(); err != nil {
			return within(index("data", i), err)
		}
		if seen[s.Data[i].Key] {
			return invalid(index("data", i)+".key", "duplicate key")
		}
		seen[s.Data[i].Key] = true
	}
	for i := range s.SecretRefs {
		if err := s.SecretRefs[i].Validate(); err != nil {
			return within(index("secret_refs", i), err)
		}
	}
	return nil
}

func (s *StateResponse) validateConfigs() error {
	if s.BridgeConfig != nil {
		if err := s.BridgeConfig.Validate(); err != nil {
			return within("bridge_config", err)
		}
	}
	if s.RelayConfig != nil {
		if err := s.RelayConfig.Validate(); err != nil {
			return within("relay_config", err)
		}
	}
	if s.UserAccessConfig != nil {
		if err := s.UserAccessConfig.Validate(); err != nil {
			return within("user_access_config", err)
		}
	}
	if s.IngressConfig != nil {
		if err := s.IngressConfig.Validate(); err != nil {
			return within("ingress_config", err)
		}
	}
	if s.SiteToSiteConfig != nil {
		if err := s.SiteToSiteConfig.Validate(); err != nil {
			return within("site_to_site_config", err)
		}
	}
	return nil
}

// DriftReport is the body of POST /v1/nodes/{node_id}/drift (§9.4).
type DriftReport struct {
	Timestamp   time.Time         `json:"timestamp"`
	Corrections []DriftCorrection `json:"corrections"`
}

// DriftCorrection is one applied change (§9.4).
type DriftCorrection struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// Level-1 drift correction types (§9.4).
const (
	DriftPeerAdded          = "peer_added"
	DriftPeerRemoved        = "peer_removed"
	DriftPeerUpdated        = "peer_updated"
	DriftPolicyAdded        = "policy_added"
	DriftPolicyRemoved      = "policy_removed"
	DriftSigningKeysUpdated = "signing_keys_updated"
	DriftMetadataUpdated    = "metadata_updated"
	DriftDataUpdated        = "data_updated"
	DriftSecretRefsUpdated  = "secret_refs_updated"
)

// nonNil returns s, or an empty slice when s is nil, so it marshals as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
