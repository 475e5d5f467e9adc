package plexctl

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// opsAnnotation is the cobra annotation key under which a command lists
// the OpenAPI operation ids it calls, separated by spaces.
const opsAnnotation = "plexsphere.io/operations"

// calls declares the OpenAPI operation ids (the operationId of
// GET /v1/openapi.json, e.g. "listNodes") that cmd calls, and returns cmd.
// The parity test (parity_test.go) walks the command tree and fails when an
// operation of the document has no command declaring it, or when a command
// declares an id the document does not have.
//
// Declare on the leaf command that makes the call, next to where it is
// built; a command calling several operations lists them all:
//
//	cmd := calls(&cobra.Command{Use: "list", …}, "listNodes")
//	calls(rotate, "rotateSigningKey")
//
// calls may be applied more than once; ids accumulate.
func calls(cmd *cobra.Command, ids ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	all := append(strings.Fields(cmd.Annotations[opsAnnotation]), ids...)
	cmd.Annotations[opsAnnotation] = strings.Join(all, " ")
	return cmd
}

// declaredOperations walks the tree under root and returns, for every
// operation id some command declares with calls, the paths of the commands
// declaring it (e.g. "plexctl nodes list"), sorted.
func declaredOperations(root *cobra.Command) map[string][]string {
	out := map[string][]string{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, id := range strings.Fields(c.Annotations[opsAnnotation]) {
			out[id] = append(out[id], c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, paths := range out {
		sort.Strings(paths)
	}
	return out
}
