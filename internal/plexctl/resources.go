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

var resourceColumns = []column[apiv1.Resource]{
	{"ID", func(r apiv1.Resource) string { return r.ID }},
	{"KIND", func(r apiv1.Resource) string { return r.Kind }},
	{"ORIGIN", func(r apiv1.Resource) string { return r.Origin }},
	{"EXTERNAL REF", func(r apiv1.Resource) string { return r.ExternalRef }},
	{"PROJECT", func(r apiv1.Resource) string { return r.ProjectID }},
	{"CREATED", func(r apiv1.Resource) string { return ts(r.CreatedAt) }},
}

func (a *app) resourcesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "resources",
		Aliases: []string{"resource"},
		Short:   "Manage Resources: nodes, bridges, clusters, provisioned objects",
		Example: `  plexctl resources list --project 0190c0de-…
  plexctl resources create --project 0190c0de-… --kind vm --external-ref web-1`,
	})
	cmd.AddCommand(a.resourcesListCommand(), a.resourcesGetCommand(), a.resourcesCreateCommand(),
		a.deleteCommand(deleteSpec{use: "delete ID", short: "Delete a Resource (a provisioned one is torn down)",
			example: `  plexctl resources delete 0190c0de-0000-7000-8000-000000000003`,
			kind:    "resource", done: "deleted", op: "deleteResource", del: (*apiclient.Client).DeleteResource}))
	return cmd
}

func (a *app) resourcesListCommand() *cobra.Command {
	var pf pageFlags
	var project string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the Resources of a Project, in creation order",
		Example: `  plexctl resources list --project 0190c0de-…`,
		Args:    exactArgs(),
	}
	listCommand(a, cmd, &pf, resourceColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Resource] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.Resource], error) {
			return c.ListResources(ctx, project, o)
		}
	})
	cmd.Flags().StringVar(&project, "project", "", "Project id (required)")
	_ = cmd.MarkFlagRequired("project")
	return calls(cmd, "listResources")
}

func (a *app) resourcesGetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one Resource",
		Example: `  plexctl resources get 0190c0de-0000-7000-8000-000000000003`,
		Args:    exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.GetResource(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printObject(a, *r, resourceColumns)
	})
	return calls(cmd, "getResource")
}

func (a *app) resourcesCreateCommand() *cobra.Command {
	var in apiv1.CreateResource
	var project, params string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Adopt an existing Resource, or provision one from a Blueprint",
		Example: `  plexctl resources create --project 0190c0de-… --kind vm --external-ref web-1
  plexctl resources create --project 0190c0de-… --kind vm --origin provisioned \
    --blueprint-version 0190… --cloud-credential 0190… --parameters @params.json`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		raw, err := readParameters(params)
		if err != nil {
			return err
		}
		in.Parameters = raw
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.CreateResource(cmd.Context(), project, in)
		if err != nil {
			return err
		}
		return printObject(a, *r, resourceColumns)
	})
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "Project id (required)")
	f.StringVar(&in.Kind, "kind", "", "kind, e.g. vm, bridge, worker (required)")
	f.StringVar(&in.Origin, "origin", "adopted", "adopted or provisioned")
	f.StringVar(&in.ExternalRef, "external-ref", "", "external reference, e.g. a host name")
	f.StringVar(&in.BlueprintVersionID, "blueprint-version", "", "Blueprint version id (provisioned)")
	f.StringVar(&in.CloudCredentialID, "cloud-credential", "", "cloud credential id (provisioned)")
	f.StringVar(&params, "parameters", "", "Blueprint parameters as JSON, or @FILE (provisioned)")
	_ = cmd.MarkFlagRequired("project")
	_ = cmd.MarkFlagRequired("kind")
	return calls(cmd, "createResource")
}

// readParameters reads --parameters: inline JSON or @FILE.
func readParameters(v string) (json.RawMessage, error) {
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
	if !json.Valid(data) {
		return nil, usagef("--parameters is not valid JSON")
	}
	return json.RawMessage(data), nil
}
