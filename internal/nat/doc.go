// Package nat owns how mesh nodes reach each other beyond keys and
// addresses (docs/design/0005-mesh.md, "Endpoints, NAT, relay, views"):
// the endpoint and NAT type each node reports (PUT /v1/nodes/{id}/endpoint)
// with the source address the control plane saw, the per-peer paths
// level-2 nodes report in their heartbeats, each bridge Resource's relay
// configuration (…/bridge/relay), the assignment of relay sessions to
// pairs that cannot reach each other directly (and their renewal and
// re-routing), the Path of each pair that internal/mesh renders into
// Peers, and the read views: the Domain mesh topology and the per-peer
// part of a node's reachability.
//
// Every change runs in one transaction with the events that announce it
// (peer_endpoint_changed through mesh.Announce, relay_session_assigned and
// relay_session_revoked to the bridge).
package nat
