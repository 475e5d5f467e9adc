// Package actions is fleet operations (issue 14, api.md §3.10,
// node-protocol.md §12.5): an operator dispatches a built-in action or a
// declared hook to one node, a node list or a label selector resolved at
// dispatch; each target is checked (ReBAC node-operate, the action
// declared in the node's capability manifest, no open integrity
// violation) and skipped with its reason otherwise; targets run at most
// max_in_flight at a time, each delivered as action_request on the node's
// signed event stream; nodes answer with an ack and a result (level 1) or
// the contract's callback; the control plane times targets out on its own
// clock. Nodes report integrity violations, which mark them drifted until
// an operator acknowledges them.
package actions
