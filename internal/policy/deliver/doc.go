// Package deliver brings compiled policy to nodes (docs/design/0006-policy.md):
// the node-state provider that fills a node's contract `policy` block and
// its level-1 `policies`, the mesh's peer filter (a node sees only peers
// some rule lets it talk to), each Domain's default mode (deny or the
// allow-all bootstrap mode), and the recompilation that follows every
// change of policies, node labels, node membership or mode: it recompiles
// only the affected nodes (compile.Index) and emits policy_updated, and
// peer_added / peer_removed where a node's peer set changed, to exactly
// the nodes whose view changed.
//
// The Service keeps one compile.Index per Domain in memory, tagged with
// the Domain's generation (policy_generations): every change bumps the
// generation first, inside its transaction (which also serialises the
// changes of one Domain), and applies itself to the index only when the
// index is at the previous generation; otherwise, after a rollback, a
// restart or a change made by another process, the index is rebuilt from
// the transaction. What each node was last told (policy_node_state)
// decides who gets an event either way.
package deliver
