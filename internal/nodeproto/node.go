package nodeproto

import (
	"encoding/json"
	"time"
)

// Heartbeat is the body of POST /v1/nodes/{node_id}/heartbeat (§5.2). The
// existing agent sends only the zero value, which marshals exactly to
// ZeroHeartbeatJSON. The control plane identifies the node from path and NSK
// only and accepts any JSON body: a handler must not fail on a body that
// does not decode into this type.
type Heartbeat struct {
	NodeID         string          `json:"node_id"`
	Timestamp      time.Time       `json:"timestamp"`
	Status         string          `json:"status"`
	Uptime         string          `json:"uptime"`
	BinaryChecksum string          `json:"binary_checksum"`
	Mesh           *MeshInfo       `json:"mesh,omitempty"`
	NAT            *NATInfo        `json:"nat,omitempty"`
	Bridge         *BridgeInfo     `json:"bridge,omitempty"`
	UserAccess     *UserAccessInfo `json:"user_access,omitempty"`
	Ingress        *IngressInfo    `json:"ingress,omitempty"`
	SiteToSite     *SiteToSiteInfo `json:"site_to_site,omitempty"`
	// Policy is level 2 (ours): what the node's firewall enforces and
	// counts; absent when the node enforces no policy.
	Policy *PolicyInfo `json:"policy,omitempty"`
}

// PolicyInfo is the heartbeat's policy enforcement status (level 2).
// Denied and Logged count packets since plexd started: packets dropped
// from the mesh (by a deny rule or because nothing allowed them) and
// first packets of flows a log rule passed.
type PolicyInfo struct {
	// Fingerprint and RevisionID are those of the enforced ruleset.
	Fingerprint string `json:"fingerprint"`
	RevisionID  string `json:"revision_id,omitempty"`
	// Backend is nftables or userspace.
	Backend string `json:"backend"`
	Denied  uint64 `json:"denied"`
	Logged  uint64 `json:"logged"`
	// Error is why the last ruleset received was refused ("" when it
	// is enforced).
	Error string `json:"error,omitempty"`
}

// ZeroHeartbeatJSON is what the existing agent sends every 30 s (§5.2).
const ZeroHeartbeatJSON = `{"node_id":"","timestamp":"0001-01-01T00:00:00Z","status":"","uptime":"","binary_checksum":""}`

// MeshInfo is the heartbeat's mesh status.
type MeshInfo struct {
	Interface  string `json:"interface"`
	PeerCount  int    `json:"peer_count"`
	ListenPort int    `json:"listen_port"`
	// Level 2 (ours): the WireGuard backend (kernel, userspace, netstack)
	// and the path to every peer as the node sees it.
	Backend string       `json:"backend,omitempty"`
	Peers   []PeerStatus `json:"peers,omitempty"`
}

// Peer paths (level 2).
const (
	PathDirect  = "direct"
	PathRelayed = "relayed"
	PathDown    = "down"
)

// PeerStatus is one peer's path as a level-2 node reports it in its
// heartbeat (mesh.peers) and shows in `plexd status`.
type PeerStatus struct {
	PeerID string `json:"peer_id"`
	// Path is direct, relayed or down (no handshake in the last 3 minutes).
	Path string `json:"path"`
	// Endpoint is the "ip:port" WireGuard last used ("" when none).
	Endpoint string `json:"endpoint"`
	// LastHandshake is the last completed handshake (omitted when none).
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	// RTTMillis is the last probe round trip through the tunnel (0: none).
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	RxBytes   int64   `json:"rx_bytes"`
	TxBytes   int64   `json:"tx_bytes"`
	// DirectFailed is set when the node tried the direct endpoint and got
	// no handshake: the control plane then assigns a relay.
	DirectFailed bool `json:"direct_failed,omitempty"`
}

// NATInfo is the heartbeat's NAT status.
type NATInfo struct {
	PublicEndpoint string `json:"public_endpoint"`
	Type           string `json:"type"`
}

// HeartbeatResponse answers a heartbeat; reconcile and rotate_keys are
// always present (§5.2). RotateKeys SHOULD NOT be set at level 1.
// AcceptedAt is the contract's member (api.md §6, union of both forms): the
// server time the heartbeat was recorded; the control plane always sends it.
type HeartbeatResponse struct {
	AcceptedAt time.Time `json:"accepted_at,omitzero" required:"true"`
	Reconcile  bool      `json:"reconcile"`
	RotateKeys bool      `json:"rotate_keys"`
}

// ReportSync is the body of POST /v1/nodes/{node_id}/report (§5.2). Both
// members may be null.
type ReportSync struct {
	Entries []ReportEntry `json:"entries"`
	Deleted []string      `json:"deleted"`
}

// ReportEntry is one node-reported entry (§5.2, §12.8). Version is a
// node-local counter from 1.
type ReportEntry struct {
	Key         string          `json:"key"`
	ContentType string          `json:"content_type"`
	Payload     json.RawMessage `json:"payload"`
	Version     int64           `json:"version"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Validate checks what the control plane needs to store an entry: a report
// key (§12.8), a positive version and JSON payload. Per R6 the control plane
// drops invalid entries rather than rejecting the batch.
func (e *ReportEntry) Validate() error {
	switch {
	case !ValidReportKey(e.Key):
		return invalid("key", "not a report key")
	case e.Version < 1:
		return invalid("version", "below 1")
	case e.Payload != nil && !json.Valid(e.Payload):
		return invalid("payload", "not JSON")
	}
	return nil
}

// KeyRotateRequest is the body of POST /v1/keys/rotate (§5.2). The NSK
// alone identifies the node; a non-empty NodeID that differs is 403
// node_id_mismatch (§3.3).
type KeyRotateRequest struct {
	NodeID       string `json:"node_id"`
	NewPublicKey string `json:"new_public_key"` // Key32
}

// KeyRotateResponse is the node's complete peer set after a rotation.
// The control plane answers the union of both forms (api.md §6): the
// contract's KeysRotateResponse members follow, which level-1 agents ignore
// (X2).
type KeyRotateResponse struct {
	UpdatedPeers []Peer `json:"updated_peers"`
	// RotationID is the rotation the report completed; Kid and
	// WrapKeyVersion reference the pairwise PSKs it re-issued.
	RotationID     string `json:"rotation_id,omitempty"`
	Kid            string `json:"kid,omitempty"`
	WrapKeyVersion int    `json:"wrap_key_version,omitempty"`
}

// MarshalJSON renders nil UpdatedPeers as [].
func (r KeyRotateResponse) MarshalJSON() ([]byte, error) {
	type wire KeyRotateResponse
	w := wire(r)
	w.UpdatedPeers = nonNil(w.UpdatedPeers)
	return json.Marshal(w)
}

// Capabilities is the body of PUT /v1/nodes/{node_id}/capabilities (§5.2)
// and the optional registration member. BuiltinActions and Hooks may be null.
type Capabilities struct {
	Binary         *BinaryInfo     `json:"binary,omitempty"`
	BuiltinActions []BuiltinAction `json:"builtin_actions"`
	Hooks          []Hook          `json:"hooks"`
	// The contract's CapabilityManifestRequest members (api.md §6: node
	// operations accept both forms); level-1 agents send none of them.
	BinaryVersion         string          `json:"binary_version,omitempty"`
	BinaryChecksum        string          `json:"binary_checksum,omitempty"` // base64 SHA-256
	SSHHostKeyFingerprint string          `json:"ssh_host_key_fingerprint,omitempty"`
	DeclaredHooks         json.RawMessage `json:"declared_hooks,omitempty"`
	PlexdHooks            json.RawMessage `json:"plexd_hooks,omitempty"`
}

// BinaryInfo describes the running plexd binary.
type BinaryInfo struct {
	Version  string `json:"version"`
	Checksum string `json:"checksum"` // lowercase hex SHA-256
}

// BuiltinAction is an action compiled into the agent.
type BuiltinAction struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Parameters  []ActionParam `json:"parameters"`
}

// Hook is an operator-installed script the agent can run.
type Hook struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Source      string        `json:"source"`
	Checksum    string        `json:"checksum"` // lowercase hex SHA-256
	Parameters  []ActionParam `json:"parameters"`
	Timeout     string        `json:"timeout"`
	Sandbox     string        `json:"sandbox"`
}

// ActionParam declares one action or hook parameter (§5.1).
type ActionParam struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Description string `json:"description"`
}

// NAT types of an EndpointReport (§12.2).
const (
	NATNone      = "none"
	NATFullCone  = "full_cone"
	NATSymmetric = "symmetric"
	NATUnknown   = "unknown"
)

// EndpointReport is the body of PUT /v1/nodes/{node_id}/endpoint (§12.2).
type EndpointReport struct {
	PublicEndpoint string `json:"public_endpoint"` // ip:port
	NATType        string `json:"nat_type"`
	// Endpoint and ReportedAt are the contract's members (api.md §3.6),
	// the union of both forms; our plexd sends both forms.
	Endpoint   string    `json:"endpoint,omitempty"`
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// Candidates (level 2, ours) are the node's other "ip:port" endpoints
	// (local interface addresses with the WireGuard port), best first.
	Candidates []string `json:"candidates,omitempty"`
}

// Validate checks the endpoint and the level-1 NAT type.
func (r *EndpointReport) Validate() error {
	switch {
	case !ValidIPPort(r.PublicEndpoint):
		return invalid("public_endpoint", "not ip:port")
	case r.NATType != NATNone && r.NATType != NATFullCone && r.NATType != NATSymmetric && r.NATType != NATUnknown:
		return invalid("nat_type", "not a level-1 NAT type")
	}
	return nil
}

// EndpointResponse answers an endpoint report (§12.2); PeerEndpoints is []
// when none. It never takes effect alone on a level-1 agent (NT1).
type EndpointResponse struct {
	PeerEndpoints []PeerEndpoint `json:"peer_endpoints"`
}

// MarshalJSON renders nil PeerEndpoints as [].
func (r EndpointResponse) MarshalJSON() ([]byte, error) {
	type wire EndpointResponse
	w := wire(r)
	w.PeerEndpoints = nonNil(w.PeerEndpoints)
	return json.Marshal(w)
}

// PeerEndpoint is one peer's endpoint.
type PeerEndpoint struct {
	PeerID   string `json:"peer_id"`
	Endpoint string `json:"endpoint"`
}
