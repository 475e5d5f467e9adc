// Package integration holds plexd's tests against the real control plane
// (internal/apptest): N real plexd cores enrol from one multi-use token,
// converge, and receive events emitted to all. It has no production code;
// the tests may import control-plane packages because no binary links
// this package.
package integration
