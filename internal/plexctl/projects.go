package plexctl

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var projectColumns = []column[apiv1.Project]{
	{"ID", func(p apiv1.Project) string { return p.ID }},
	{"DOMAIN", func(p apiv1.Project) string { return p.DomainID }},
	{"SLUG", func(p apiv1.Project) string { return p.Slug }},
	{"NAME", func(p apiv1.Project) string { return p.Name }},
	{"SUB-RANGE", func(p apiv1.Project) string { return p.SubRangeCIDR }},
	{"CREATED", func(p apiv1.Project) string { return ts(p.CreatedAt) }},
}

func (a *app) projectsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "projects",
		Aliases: []string{"project"},
		Short:   "Manage Projects, the units of ownership and policy",
		Example: `  plexctl projects list --domain 0190c0de-…
  plexctl projects create --domain 0190c0de-… --name Web --slug web`,
	})
	cmd.AddCommand(a.projectsListCommand(), a.projectsGetCommand(), a.projectsCreateCommand(),
		a.projectsUpdateCommand(), a.deleteCommand(deleteSpec{use: "delete ID", short: "Delete an empty Project",
			example: `  plexctl projects delete 0190c0de-0000-7000-8000-000000000002`,
			kind:    "project", done: "deleted", op: "deleteProject", del: (*apiclient.Client).DeleteProject}))
	return cmd
}

func (a *app) projectsListCommand() *cobra.Command {
	var pf pageFlags
	var domain string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the Projects you can read, optionally of one Domain",
		Example: `  plexctl projects list
  plexctl projects list --domain 0190c0de-… -o yaml`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, projectColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Project] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.Project], error) {
			return c.ListProjects(ctx, domain, o)
		}
	})
	cmd.Flags().StringVar(&domain, "domain", "", "only Projects of this Domain id")
	return calls(cmd, "listProjects")
}

func (a *app) projectsGetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one Project",
		Example: `  plexctl projects get 0190c0de-0000-7000-8000-000000000002`,
		Args:    exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := c.GetProject(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printObject(a, *p, projectColumns)
	})
	return calls(cmd, "getProject")
}

func (a *app) projectsCreateCommand() *cobra.Command {
	var in apiv1.CreateProject
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a Project in a Domain",
		Example: `  plexctl projects create --domain 0190c0de-… --name Web --slug web
  plexctl projects create --domain 0190c0de-… --name DB --slug db --sub-range-cidr 100.64.8.0/22`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := c.CreateProject(cmd.Context(), in)
		if err != nil {
			return err
		}
		return printObject(a, *p, projectColumns)
	})
	f := cmd.Flags()
	f.StringVar(&in.DomainID, "domain", "", "Domain id (required)")
	f.StringVar(&in.Name, "name", "", "display name (required)")
	f.StringVar(&in.Slug, "slug", "", "immutable slug (required)")
	f.StringVar(&in.Description, "description", "", "description")
	f.StringVar(&in.SubRangeCIDR, "sub-range-cidr", "", "mesh sub-range of this Project")
	for _, name := range []string{"domain", "name", "slug"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return calls(cmd, "createProject")
}

func (a *app) projectsUpdateCommand() *cobra.Command {
	var name, desc, cidr string
	var release bool
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a Project's name, description or mesh sub-range",
		Long:  "Only the fields given as flags are sent. The slug is immutable.",
		Example: `  plexctl projects update 0190c0de-… --name "Web frontends"
  plexctl projects update 0190c0de-… --release-sub-range`,
		Args: exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		changed := cmd.Flags().Changed
		in := apiv1.PatchProject{
			Name:            optional(changed("name"), name),
			Description:     optional(changed("description"), desc),
			SubRangeCIDR:    optional(changed("sub-range-cidr"), cidr),
			ReleaseSubRange: optional(changed("release-sub-range"), release),
		}
		if in == (apiv1.PatchProject{}) {
			return usagef("nothing to update: give at least one of --name, --description, --sub-range-cidr, --release-sub-range")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := c.UpdateProject(cmd.Context(), args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *p, projectColumns)
	})
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new display name")
	f.StringVar(&desc, "description", "", "new description")
	f.StringVar(&cidr, "sub-range-cidr", "", "new mesh sub-range")
	f.BoolVar(&release, "release-sub-range", false, "release the current sub-range")
	cmd.MarkFlagsMutuallyExclusive("sub-range-cidr", "release-sub-range")
	return calls(cmd, "patchProject")
}
