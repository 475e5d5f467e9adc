package plexctl

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var tupleColumns = []column[apiv1.RelationTuple]{
	{"ID", func(t apiv1.RelationTuple) string { return t.ID }},
	{"RESOURCE", func(t apiv1.RelationTuple) string { return t.Resource }},
	{"RELATION", func(t apiv1.RelationTuple) string { return t.Relation }},
	{"SUBJECT", func(t apiv1.RelationTuple) string { return t.Subject }},
	{"CAVEAT", func(t apiv1.RelationTuple) string { return t.CaveatName }},
	{"CREATED", func(t apiv1.RelationTuple) string { return ts(t.CreatedAt) }},
}

func (a *app) tuplesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "tuples",
		Aliases: []string{"tuple", "relation-tuples"},
		Short:   "Manage relation tuples: who holds which relation on what",
		Long: `A relation tuple grants a subject a relation on a resource, e.g. the
subject user:0190… holds the relation viewer on the resource project:0190….
Objects are written type:id (the platform is "platform"); a subject is
user:ID, service_identity:ID, or a subject set such as group:ID#member.

Tuples are administered per Project; tuples on a Domain, a group or the
platform are written without --project.`,
		Example: `  plexctl tuples list --project 0190c0de-…
  plexctl tuples write --project 0190c0de-… --resource project:0190c0de-… --relation viewer --subject user:0190…
  plexctl tuples delete 0190c0de-0000-7000-8000-00000000000a`,
	})
	cmd.AddCommand(a.tuplesListCommand(), a.tuplesWriteCommand(), a.tuplesPatchCommand(),
		calls(a.deleteCommand(deleteSpec{use: "delete ID", short: "Delete a relation tuple, effective immediately",
			example: `  plexctl tuples delete 0190c0de-0000-7000-8000-00000000000a`,
			kind:    "relation tuple", done: "deleted", del: (*apiclient.Client).DeleteRelationTuple}),
			"deleteRelationTuple"))
	return cmd
}

func (a *app) tuplesListCommand() *cobra.Command {
	var pf pageFlags
	var project string
	cmd := calls(&cobra.Command{
		Use:   "list",
		Short: "List the relation tuples of a Project",
		Example: `  plexctl tuples list --project 0190c0de-…
  plexctl tuples list --project 0190c0de-… -o json | jq -r '.items[].subject'`,
		Args: exactArgs(),
	}, "listRelationTuples")
	listCommand(a, cmd, &pf, tupleColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.RelationTuple] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.RelationTuple], error) {
			return c.ListRelationTuples(ctx, project, o)
		}
	})
	cmd.Flags().StringVar(&project, "project", "", "Project id (required)")
	_ = cmd.MarkFlagRequired("project")
	return cmd
}

func (a *app) tuplesWriteCommand() *cobra.Command {
	var in apiv1.WriteRelationTuple
	var project, caveatCtx string
	cmd := calls(&cobra.Command{
		Use:     "write",
		Aliases: []string{"create"},
		Short:   "Write a relation tuple (grant a relation)",
		Example: `  plexctl tuples write --project 0190c0de-… --resource project:0190c0de-… --relation viewer --subject user:0190…
  plexctl tuples write --resource domain:0190c0de-… --relation admin --subject group:0190…#member
  plexctl tuples write --project 0190c0de-… --resource project:0190c0de-… --relation operator \
    --subject user:0190… --caveat business_hours --caveat-context '{"tz":["Europe/Berlin"]}'`,
		Args: exactArgs(),
	}, "createRelationTuple")
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
		t, err := c.WriteRelationTuple(cmd.Context(), project, in)
		if err != nil {
			return err
		}
		return printObject(a, *t, tupleColumns)
	})
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "Project id; required for tuples on a Project or its objects")
	f.StringVar(&in.Resource, "resource", "", "resource, type:id or platform (required)")
	f.StringVar(&in.Relation, "relation", "", "relation, e.g. viewer (required)")
	f.StringVar(&in.Subject, "subject", "", "subject, type:id or type:id#relation (required)")
	f.StringVar(&in.CaveatName, "caveat", "", "caveat name that conditions the tuple")
	f.StringVar(&caveatCtx, "caveat-context", "", "caveat context as a JSON object, or @FILE")
	for _, name := range []string{"resource", "relation", "subject"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// readJSONObject reads a flag holding a JSON object inline or as @FILE;
// empty gives nil.
func readJSONObject(flag, v string) (map[string]any, error) {
	if v == "" {
		return nil, nil
	}
	data := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		data = b
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, usagef("%s must be a JSON object", flag)
	}
	return m, nil
}
