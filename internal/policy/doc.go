// Package policy owns network policies on the control plane (issue 10,
// api.md §3.7): Project-scoped Policies with append-only revisions, their
// validation, storage, authorization, audit and operator API (list, create,
// read, patch with compare-and-swap, delete, revisions, diff, dry-run), and
// revision assertions ("policy tests") evaluated with the compiler of
// internal/policy/compile before a revision may land.
//
// A revision holds a selector pair (source and destination, label
// selectors over the Domain's nodes, internal/selector) and 1..1024 L3/L4
// rules; the head revision of every Policy is what the compiler turns into
// each node's ruleset. Every change is audited on the Domain's chain and
// reported to the delivery (a Notifier) inside its transaction.
package policy
