package plexctl

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var domainColumns = []column[apiv1.Domain]{
	{"ID", func(d apiv1.Domain) string { return d.ID }},
	{"SLUG", func(d apiv1.Domain) string { return d.Slug }},
	{"NAME", func(d apiv1.Domain) string { return d.Name }},
	{"MESH CIDR", func(d apiv1.Domain) string { return d.MeshCIDR }},
	{"REGION", func(d apiv1.Domain) string { return d.Region }},
	{"CREATED", func(d apiv1.Domain) string { return ts(d.CreatedAt) }},
}

func (a *app) domainsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "domains",
		Aliases: []string{"domain"},
		Short:   "Manage Domains, the tenancy and trust boundaries",
		Example: `  plexctl domains list
  plexctl domains create --name Acme --slug acme --mesh-cidr 100.64.0.0/16`,
	})
	cmd.AddCommand(a.domainsListCommand(), a.domainsGetCommand(), a.domainsCreateCommand(),
		a.domainsUpdateCommand(), a.domainsDeleteCommand())
	return cmd
}

func (a *app) domainsListCommand() *cobra.Command {
	var pf pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the Domains you can read, in slug order",
		Example: `  plexctl domains list
  plexctl domains list --limit 20 -o json`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, domainColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Domain] {
		return c.ListDomains
	})
	return calls(cmd, "listDomains")
}

func (a *app) domainsGetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one Domain",
		Example: `  plexctl domains get 0190c0de-0000-7000-8000-000000000001 -o yaml`,
		Args:    exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		d, err := c.GetDomain(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printObject(a, *d, domainColumns)
	})
	return calls(cmd, "getDomain")
}

// reachabilityFlags are the three durations of a Domain's reachability
// policy; they are given all together or not at all.
type reachabilityFlags struct{ interval, stale, unreachable string }

func addReachabilityFlags(cmd *cobra.Command, r *reachabilityFlags) {
	f := cmd.Flags()
	f.StringVar(&r.interval, "heartbeat-interval", "", "reachability: heartbeat interval, e.g. 30s")
	f.StringVar(&r.stale, "stale-after", "", "reachability: stale after, e.g. 90s")
	f.StringVar(&r.unreachable, "unreachable-after", "", "reachability: unreachable after, e.g. 300s")
	cmd.MarkFlagsRequiredTogether("heartbeat-interval", "stale-after", "unreachable-after")
}

func (r reachabilityFlags) policy() *apiv1.Reachability {
	if r.interval == "" && r.stale == "" && r.unreachable == "" {
		return nil
	}
	return &apiv1.Reachability{HeartbeatInterval: r.interval, StaleAfter: r.stale, UnreachableAfter: r.unreachable}
}

func (a *app) domainsCreateCommand() *cobra.Command {
	var in apiv1.CreateDomain
	var reach reachabilityFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a Domain",
		Example: `  plexctl domains create --name Acme --slug acme --mesh-cidr 100.64.0.0/16
  plexctl domains create --name Lab --slug lab --mesh-cidr fd00:64::/48 --region eu-west \
    --heartbeat-interval 30s --stale-after 90s --unreachable-after 300s`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		in.Reachability = reach.policy()
		d, err := c.CreateDomain(cmd.Context(), in)
		if err != nil {
			return err
		}
		return printObject(a, *d, domainColumns)
	})
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "display name (required)")
	f.StringVar(&in.Slug, "slug", "", "immutable slug, lowercase words joined by '-' (required)")
	f.StringVar(&in.MeshCIDR, "mesh-cidr", "", "mesh address pool, IPv4 or IPv6 (required)")
	f.StringVar(&in.Description, "description", "", "description")
	f.StringVar(&in.Region, "region", "", "region")
	addReachabilityFlags(cmd, &reach)
	for _, name := range []string{"name", "slug", "mesh-cidr"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return calls(cmd, "createDomain")
}

func (a *app) domainsUpdateCommand() *cobra.Command {
	var name, desc, region, cidr string
	var reach reachabilityFlags
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a Domain's name, description, region, mesh CIDR or reachability",
		Long:  "Only the fields given as flags are sent. The slug is immutable.",
		Example: `  plexctl domains update 0190c0de-… --region eu-central
  plexctl domains update 0190c0de-… --description ""`,
		Args: exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		var in apiv1.PatchDomain
		changed := cmd.Flags().Changed
		in.Name = optional(changed("name"), name)
		in.Description = optional(changed("description"), desc)
		in.Region = optional(changed("region"), region)
		in.MeshCIDR = optional(changed("mesh-cidr"), cidr)
		in.Reachability = reach.policy()
		if in == (apiv1.PatchDomain{}) {
			return usagef("nothing to update: give at least one of --name, --description, --region, --mesh-cidr, --heartbeat-interval")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		d, err := c.UpdateDomain(cmd.Context(), args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *d, domainColumns)
	})
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new display name")
	f.StringVar(&desc, "description", "", "new description")
	f.StringVar(&region, "region", "", "new region")
	f.StringVar(&cidr, "mesh-cidr", "", "new mesh address pool")
	addReachabilityFlags(cmd, &reach)
	return calls(cmd, "patchDomain")
}

func (a *app) domainsDeleteCommand() *cobra.Command {
	return a.deleteCommand(deleteSpec{use: "delete ID", short: "Delete an empty Domain",
		example: `  plexctl domains delete 0190c0de-0000-7000-8000-000000000001`,
		kind:    "domain", done: "deleted", op: "deleteDomain", del: (*apiclient.Client).DeleteDomain})
}

// deleteSpec describes a command that deletes one object by id.
type deleteSpec struct {
	use, short, example string
	kind, done          string // table output: <kind> "<id>" <done>
	op                  string // the OpenAPI operation id it calls (see calls)
	del                 func(*apiclient.Client, context.Context, string) error
}

func (a *app) deleteCommand(s deleteSpec) *cobra.Command {
	cmd := calls(&cobra.Command{Use: s.use, Short: s.short, Example: s.example, Args: exactArgs("ID")}, s.op)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := s.del(c, cmd.Context(), args[0]); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "%s %q %s\n", s.kind, args[0], s.done)
		}
		return nil
	})
	return cmd
}

// optional returns &v when set, else nil: a PATCH field.
func optional[T any](set bool, v T) *T {
	if !set {
		return nil
	}
	return &v
}
