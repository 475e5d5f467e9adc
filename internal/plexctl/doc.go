// Package plexctl is the plexsphere command-line client: a cobra command
// tree over the operator API, reached only through package apiclient.
//
// It owns the CLI's user interface: global connection flags and their
// precedence (flags > environment > saved context), the config file of
// saved contexts, table/JSON/YAML rendering, error rendering and exit
// codes. It imports no control-plane package; cmd/plexctl calls Run and
// nothing else, so tests and end-to-end harnesses drive the exact same
// tree in process.
package plexctl
