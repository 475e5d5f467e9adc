// Package actions is the node side of fleet operations
// (spec/node-protocol.md §12.5): it receives action_request payloads,
// acknowledges or rejects them, runs the built-in actions and the
// operator-installed hooks under a timeout with bounded output, and
// delivers each ExecutionResult until the control plane accepts it.
//
// It owns the built-ins (gather_info, ping, service.restart, file.read,
// diagnostics.bundle, cancel) with their parameter schemas, the hook
// manifests of the hooks directory with their SHA-256 verification before
// every run, the capability manifest (PUT …/capabilities) and the binary
// and hook integrity reports (POST …/integrity/violations).
//
// Execution ids and undelivered results are kept in the data directory,
// so a restart neither re-runs an execution nor loses its result (§12.5
// level 2). docs/actions-node.md describes the behaviour for operators.
package actions
