// Package tuples owns the relation_tuples table: it is the only writer of
// relation tuples, and it keeps the ReBAC engine's in-memory index
// ([authz.MemTuples]) equal to the table on every replica.
//
// A write ([Store.Write], [Store.WriteRows], [Store.DeleteByID]) validates
// each tuple against the schema and runs inside the caller's transaction, so
// an object and its tuples commit together (no dual write). Each write also
// appends one row to the append-only change log relation_tuple_changes, whose
// sequence numbers come from a one-row counter locked until commit: changes
// therefore commit in sequence order. Every replica loads the table at start
// and then tails the log (every PollInterval, woken early on PostgreSQL by
// LISTEN/NOTIFY), applying each change to its index. After its own commit a
// writer calls [Store.Sync] to apply the change locally at once.
//
// The package also serves the authorization API (api.md §4.1 Authorization
// and §4.2 expand): check, lookup-resources, expand and the Project
// relation-tuple list/write/delete.
package tuples
