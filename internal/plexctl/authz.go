package plexctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func (a *app) authzCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "authz",
		Short: "Ask the authorization engine: check, lookup-resources, lookup-subjects, expand",
		Long: `Evaluate relationship-based permissions the way the server enforces them.
Objects are written type:id (or platform), subjects type:id or
type:id#relation. A denial is an answer, not an error: the exit code is 0.`,
		Example: `  plexctl authz check --subject user:0190… --relation read --resource project:0190c0de-…
  plexctl authz lookup-resources --subject user:0190… --relation read --type project
  plexctl authz lookup-subjects --relation read --resource project:0190c0de-…
  plexctl authz expand --relation read --resource project:0190c0de-…`,
	})
	cmd.AddCommand(a.authzCheckCommand(), a.authzLookupCommand(), a.authzLookupSubjectsCommand(), a.authzExpandCommand())
	return cmd
}

func (a *app) authzCheckCommand() *cobra.Command {
	var in apiv1.AuthzCheck
	var caveatCtx string
	cmd := calls(&cobra.Command{
		Use:   "check",
		Short: "Check whether a subject holds a permission on a resource",
		Example: `  plexctl authz check --subject user:0190… --relation manage --resource domain:0190c0de-…
  plexctl authz check --subject service_identity:0190… --relation read --resource project:0190c0de-… -o json | jq -r .decision`,
		Args: exactArgs(),
	}, "checkPermission")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		cc, err := readJSONObject("--caveat-context", caveatCtx)
		if err != nil {
			return err
		}
		in.CaveatContext = cc
		c, err := a.client()
		if err != nil {
			return err
		}
		d, err := c.CheckPermission(cmd.Context(), in)
		if err != nil {
			return err
		}
		return printFields(a, d, []field{
			{"Decision", d.Decision},
			{"Reason", d.Reason},
			{"Relation path", strings.Join(d.RelationPath, " → ")},
			{"Correlation id", d.CorrelationID},
		})
	})
	f := cmd.Flags()
	f.StringVar(&in.Subject, "subject", "", "subject, type:id or type:id#relation (required)")
	f.StringVar(&in.Relation, "relation", "", "permission or relation, e.g. read (required)")
	f.StringVar(&in.Resource, "resource", "", "resource, type:id or platform (required)")
	f.StringVar(&caveatCtx, "caveat-context", "", "caveat context as a JSON object, or @FILE")
	for _, name := range []string{"subject", "relation", "resource"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) authzLookupCommand() *cobra.Command {
	var in apiv1.AuthzLookupResources
	var caveatCtx string
	cmd := calls(&cobra.Command{
		Use:     "lookup-resources",
		Aliases: []string{"lookup"},
		Short:   "List the objects of a type a subject reaches through a permission",
		Example: `  plexctl authz lookup-resources --subject user:0190… --relation read --type project`,
		Args:    exactArgs(),
	}, "lookupResources")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		cc, err := readJSONObject("--caveat-context", caveatCtx)
		if err != nil {
			return err
		}
		in.CaveatContext = cc
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.LookupResources(cmd.Context(), in)
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(r)
		}
		return writeTable(a.stdout, r.Items, []column[string]{{"RESOURCE", func(s string) string { return s }}})
	})
	f := cmd.Flags()
	f.StringVar(&in.Subject, "subject", "", "subject, type:id or type:id#relation (required)")
	f.StringVar(&in.Relation, "relation", "", "permission or relation, e.g. read (required)")
	f.StringVar(&in.ResourceType, "type", "", "object type to look up, e.g. project (required)")
	f.StringVar(&caveatCtx, "caveat-context", "", "caveat context as a JSON object, or @FILE")
	for _, name := range []string{"subject", "relation", "type"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) authzExpandCommand() *cobra.Command {
	var in apiv1.AuthzExpand
	cmd := calls(&cobra.Command{
		Use:   "expand",
		Short: "Show the tree of subjects that hold a permission on a resource",
		Example: `  plexctl authz expand --relation read --resource project:0190c0de-…
  plexctl authz expand --relation manage --resource domain:0190c0de-… --max-depth 3 -o json`,
		Args: exactArgs(),
	}, "expandPermission")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if in.MaxDepth < 0 || in.MaxDepth > 16 {
			return usagef("--max-depth must be between 0 and 16")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		e, err := c.ExpandPermission(cmd.Context(), in)
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(e)
		}
		writeTree(a, e.Tree, 0)
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&in.Relation, "relation", "", "permission or relation, e.g. read (required)")
	f.StringVar(&in.Resource, "resource", "", "resource, type:id or platform (required)")
	f.IntVar(&in.MaxDepth, "max-depth", 0, "depth limit 1..16 (server default 8)")
	_ = cmd.MarkFlagRequired("relation")
	_ = cmd.MarkFlagRequired("resource")
	return cmd
}

// writeTree prints an expansion tree, one node per line, indented by depth.
func writeTree(a *app, n *apiv1.ExpandNode, depth int) {
	if n == nil {
		return
	}
	indent := strings.Repeat("  ", depth)
	line := n.Kind
	if n.Resource != "" || n.Relation != "" {
		line += " " + n.Resource + "#" + n.Relation
	}
	if n.Truncated {
		line += " (truncated)"
	}
	fmt.Fprintln(a.stdout, indent+sanitize(line, false))
	for _, s := range n.Subjects {
		fmt.Fprintln(a.stdout, indent+"  - "+sanitize(s, false))
	}
	for _, c := range n.Children {
		writeTree(a, c, depth+1)
	}
}
