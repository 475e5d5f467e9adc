// Package labels owns label Definitions (which keys exist at the platform, in
// a Domain or in a Project, and which values each accepts), the Assignments
// of label values to objects (Domains, Projects, Resources), and the selector
// preview operation. It enforces the label invariants of api.md §3.4 (value
// schemas, applicability, scope visibility, cardinality, the per-object cap
// and immutability) and offers LabelsOf, the label set that policy and fleet
// dispatch match selectors against.
package labels
