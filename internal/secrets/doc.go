// Package secrets is the secrets context (issue 11,
// docs/design/0007-secrets.md): a Project's secret names, versions and
// bindings in plexsphere's database, the values in a backend
// (internal/secrets/backend: OpenBao KV v2 or the sealed embedded store),
// the operator API (write, list, versions, delete, bind, reveal), delivery
// to nodes re-wrapped on every fetch (level 1 under the NSK, level 2 sealed
// with HPKE to the node's sealing key), the secret_refs of node state, the
// node_secrets_updated events, and the watcher that carries versions
// written in OpenBao outside plexsphere to the bound nodes.
//
// No value is ever logged, put in an error, or written to the database by
// this package.
package secrets
