// Package repopolicy holds the repository's policy tests: every package has a
// doc comment, the tree is gofmt-clean, go.mod has no replace directives, and
// the agent and CLI binaries link no control-plane package.
package repopolicy
