// Package access is the mediated-access context (issue 12,
// docs/design/0008-access.md): ssh, k8s and tcp sessions issued to an
// operator for one Resource's node, each with a short-lived EdDSA token
// signed by the Domain key, checked with ReBAC (resource#connect), step-up
// and per-Domain caps; the node's activity callbacks and ssh recordings;
// revocation that reaches the node as session_revoked; and the operator's
// way in: a WebSocket attach and a Kubernetes API path, both carried to
// the node through the Project's session gateway, a peer of the mesh with
// its own WireGuard key.
package access
