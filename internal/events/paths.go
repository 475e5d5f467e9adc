package events

import (
	"context"
	"encoding/json"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// PeerPaths is the NAT context's part of the agent plane (internal/nat):
// it keeps the per-peer paths a level-2 heartbeat carries and lists them
// for GET …/reachability.
type PeerPaths interface {
	HeartbeatPeers(ctx context.Context, nodeID string, peers []nodeproto.PeerStatus) error
	PeerPaths(ctx context.Context, nodeID string) ([]apiv1.ReachabilityPeer, error)
}

// heartbeatPeers is the part of a heartbeat body peer reports come from.
type heartbeatPeers struct {
	Mesh *struct {
		Peers []nodeproto.PeerStatus `json:"peers"`
	} `json:"mesh"`
}

// peerReports hands the heartbeat's mesh.peers to the NAT context. A body
// without them, or one that does not decode, is ignored, and a failure to
// keep them never fails the heartbeat: liveness counts first (§5.2).
func (a *agent) peerReports(ctx context.Context, nodeID string, body []byte) {
	if a.opts.Paths == nil {
		return
	}
	var hb heartbeatPeers
	if json.Unmarshal(body, &hb) != nil || hb.Mesh == nil || hb.Mesh.Peers == nil {
		return
	}
	if err := a.opts.Paths.HeartbeatPeers(ctx, nodeID, hb.Mesh.Peers); err != nil {
		a.s.cfg.Logger.WarnContext(ctx, "peer_paths_not_kept", "node_id", nodeID, "error", err.Error())
	}
}

// reachabilityPeers lists the node's peer paths ([] without a source).
func (a *agent) reachabilityPeers(ctx context.Context, nodeID string) ([]apiv1.ReachabilityPeer, error) {
	if a.opts.Paths == nil {
		return []apiv1.ReachabilityPeer{}, nil
	}
	return a.opts.Paths.PeerPaths(ctx, nodeID)
}
