// Package compile is the pure policy compiler (docs/design/0006-policy.md):
// it turns the head revisions of a Project's policies and the nodes of a
// Domain into each node's compiled ruleset (nodeproto.NodeStatePolicy,
// selectors resolved to the nodes' /32 and /128 mesh addresses and
// intersected with the rules' CIDRs), the level-1 rendering of that
// ruleset (node-id rules at least as restrictive, node-protocol.md §12.3
// and X4), and the set of peers a node may talk to. It also holds the one
// implementation of the evaluation semantics, [Decide].
//
// An [Index] keeps the selector memberships so that a changed node or
// policy costs work proportional to the nodes it affects. The package
// touches no database and no clock; its callers (internal/policy and its
// delivery) load the inputs and persist nothing through it.
package compile
