// Package groups serves a Domain's groups by hand (api.md §3.2; the
// contract's /v1/admin/groups operations): manual groups whose members are
// users, service identities and other groups, next to the IdP-synced groups
// that internal/oidc keeps from a binding's groups claim. Both live in
// principal_groups and principal_group_members, told apart by source; a
// synced group is read-only here (409 group_read_only).
//
// Membership is authorization: every member row has its group#member
// relation tuple, written through the tuple store in the same transaction,
// so a grant to group:<id>#member reaches a new member at once and leaves a
// removed one at once. Nesting is refused when it would close a cycle (409
// group_cycle) or make a chain of groups deeper than MaxNesting (409
// group_nesting_too_deep), well inside the ReBAC engine's check depth.
package groups
