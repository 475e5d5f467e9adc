package apiv1

import "time"

// BridgeRelayConfigureRequest is the body of PUT …/resources/{resource_id}/bridge/relay.
type BridgeRelayConfigureRequest struct {
	Enabled    bool `json:"enabled" doc:"Whether the relay is active; a disabled relay keeps its configuration."`
	ListenPort int  `json:"listen_port" doc:"UDP port the relay listens on (1..65535)."`
}

// BridgeRelayResponse is a bridge Resource's relay configuration.
type BridgeRelayResponse struct {
	ResourceID string    `json:"resource_id" format:"uuid"`
	Enabled    bool      `json:"enabled"`
	ListenPort int       `json:"listen_port"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Mesh edge modes and statuses (the contract's MeshEdgeMode and
// MeshEdgeStatus).
const (
	EdgeDirect        = "direct"
	EdgeRelayed       = "relayed"
	EdgeHealthy       = "healthy"
	EdgeStale         = "stale"
	EdgeUnreachable   = "unreachable"
	EdgeNeverReported = "never_reported"
)

// MeshTopology is GET /v1/domains/{domainId}/mesh/topology: the contract's
// MeshTopology with every live node and one page of the directed edges
// (n·(n−1) of them in all), plus two additive fields: the summary of every
// selected edge and the next page's cursor.
type MeshTopology struct {
	DomainID    string              `json:"domain_id" format:"uuid"`
	GeneratedAt time.Time           `json:"generated_at"`
	Nodes       []MeshTopologyNode  `json:"nodes" doc:"Every live node of the Domain's mesh, sorted by id."`
	Edges       []MeshEdge          `json:"edges" doc:"One page of the selected directed edges in (source_node_id, target_node_id) order; both ends are in nodes."`
	Summary     MeshTopologySummary `json:"summary" doc:"Counts of every selected edge, over all pages."`
	NextCursor  string              `json:"next_cursor,omitempty" doc:"Cursor of the next page of edges (pass it as ?cursor=); absent on the last page."`
}

// MeshTopologySummary counts a topology's selected directed edges (all of
// the Domain's, or a node's with node_id) by mode and by status.
type MeshTopologySummary struct {
	Nodes         int `json:"nodes" doc:"Live nodes in the mesh."`
	Edges         int `json:"edges" doc:"Selected directed edges, over all pages."`
	Direct        int `json:"direct"`
	Relayed       int `json:"relayed"`
	Healthy       int `json:"healthy"`
	Stale         int `json:"stale"`
	Unreachable   int `json:"unreachable"`
	NeverReported int `json:"never_reported"`
}

// MeshTopologyNode is one live node of the topology.
type MeshTopologyNode struct {
	NodeID       string `json:"node_id" format:"uuid"`
	MeshIP       string `json:"mesh_ip"`
	Reachability string `json:"reachability" enum:"healthy,stale,unreachable"`
}

// MeshEdge is one directed edge: how source reaches target.
type MeshEdge struct {
	SourceNodeID string `json:"source_node_id" format:"uuid"`
	TargetNodeID string `json:"target_node_id" format:"uuid"`
	Mode         string `json:"mode" enum:"direct,relayed"`
	// RelayNodeID is the bridge node relaying the edge; null when direct.
	RelayNodeID *string `json:"relay_node_id" nullable:"true"`
	Status      string  `json:"status" enum:"healthy,stale,unreachable,never_reported"`
}

// ReachabilityPeer is one peer's path as the node reported it.
type ReachabilityPeer struct {
	PeerID        string     `json:"peer_id" format:"uuid"`
	Path          string     `json:"path" enum:"direct,relayed,down"`
	LastHandshake *time.Time `json:"last_handshake,omitempty"`
	RTTMillis     float64    `json:"rtt_ms"`
	Endpoint      string     `json:"endpoint"`
}

// NodeReachabilityPeers is GET /v1/nodes/{id}/reachability: the contract's
// Reachability plus the per-peer paths level-2 nodes report (additive).
type NodeReachabilityPeers struct {
	State           string             `json:"state" enum:"healthy,stale,unreachable"`
	LastHeartbeatAt *time.Time         `json:"last_heartbeat_at,omitempty"`
	ChangedAt       time.Time          `json:"changed_at" doc:"When the state last changed."`
	Peers           []ReachabilityPeer `json:"peers" doc:"Each peer's path as the node last reported it; [] when none."`
}
