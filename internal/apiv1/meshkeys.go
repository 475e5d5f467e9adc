package apiv1

import "time"

// RotationTrigger answers POST /v1/nodes/{id}/keys/rotate (the contract's
// RotationTriggerResponse): the pending rotation the request recorded, or
// the one already pending (AlreadyPending, nothing new is sent to the node).
type RotationTrigger struct {
	RotationID     string `json:"rotation_id" doc:"The pending rotation: new, or the one already in flight."`
	PeerID         string `json:"peer_id" doc:"The node whose mesh key is rotated (its id as a mesh peer)."`
	AlreadyPending bool   `json:"already_pending" doc:"True when a rotation was already pending: an idempotent repeat."`
}

// RotationPreview answers GET /v1/nodes/{id}/keys/rotate/preview (the
// contract's RotationImpactPreview): what a rotation of the node touches.
type RotationPreview struct {
	NodeID            string         `json:"node_id" doc:"The node previewed (echoes the path)."`
	PeerID            string         `json:"peer_id" doc:"The node's id as a mesh peer, as the trigger answers it."`
	AffectedPeerCount int            `json:"affected_peer_count" doc:"Peers whose pairwise PSK the rotation re-issues."`
	AffectedEdges     []RotationEdge `json:"affected_edges" doc:"One entry per affected peer, sorted by peer id."`
	AlreadyPending    bool           `json:"already_pending" doc:"True when a rotation of the node is pending already."`
	// EstimatedDurationSeconds is a planning hint: one heartbeat interval
	// for the node to learn of the rotation, plus fan-out per peer.
	EstimatedDurationSeconds int `json:"estimated_duration_seconds" doc:"Rough wall-clock estimate; a hint, not a promise."`
	// Ours (additive): when the node's current key was installed and how
	// old it is, for the rotation schedule.
	KeyInstalledAt time.Time `json:"key_installed_at" doc:"When the node's current key was installed."`
	KeyAgeSeconds  int64     `json:"key_age_seconds" doc:"Age of the node's current key in seconds."`
}

// RotationEdge is one pair a rotation re-keys (the contract's
// RotationImpactEdge): the peer and the reference of the PSK in force.
type RotationEdge struct {
	PeerNodeID            string `json:"peer_node_id" doc:"The node at the other end of the pair."`
	CurrentKID            string `json:"current_kid" doc:"Reference of the pair's PSK in force."`
	CurrentWrapKeyVersion int    `json:"current_wrap_key_version" doc:"Wrap key version of the PSK in force."`
}
