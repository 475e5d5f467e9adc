// Package tenancy owns the Keystone-style hierarchy below the Platform:
// Domains (trust boundaries with a mesh pool and a reachability policy),
// Projects (units of ownership with an optional mesh sub-range) and Resources
// (anything managed in a Project). It stores them, guards their invariants
// (immutable slugs, non-overlapping pools, delete only when empty) and serves
// their API operations.
package tenancy
