package plexctl

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var groupColumns = []column[apiv1.Group]{
	{"ID", func(g apiv1.Group) string { return g.ID }},
	{"SLUG", func(g apiv1.Group) string { return g.Slug }},
	{"NAME", func(g apiv1.Group) string { return g.DisplayName }},
	{"SOURCE", func(g apiv1.Group) string { return g.Source }},
	{"IDP BINDING", func(g apiv1.Group) string { return g.IdPBindingID }},
	{"CREATED", func(g apiv1.Group) string { return ts(g.CreatedAt) }},
}

var groupMemberColumns = []column[apiv1.GroupMember]{
	{"KIND", func(m apiv1.GroupMember) string { return m.PrincipalKind }},
	{"PRINCIPAL", func(m apiv1.GroupMember) string { return m.PrincipalID }},
	{"SOURCE", func(m apiv1.GroupMember) string { return m.Source }},
	{"ADDED", func(m apiv1.GroupMember) string { return ts(m.CreatedAt) }},
}

func (a *app) groupsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "groups",
		Aliases: []string{"group"},
		Short:   "Manage a Domain's groups and their members",
		Long: `Groups collect users, service identities and other groups. A manual group
is managed here; an IdP-synced group (source idp) follows its binding's
groups claim and is read-only by hand. Grant a group a role with
'plexctl tuples write --subject group:ID#member'; membership changes take
effect at once.`,
		Example: `  plexctl groups create --domain 0190c0de-… --slug sre --name "SRE"
  plexctl groups members add 0190c0de-…0a --user 0190c0de-…0b
  plexctl groups members add 0190c0de-…0a --group 0190c0de-…0c`,
	})
	cmd.AddCommand(a.groupListCommand(), a.groupGetCommand(), a.groupCreateCommand(), a.groupUpdateCommand(),
		a.groupDeleteCommand(), a.groupMembersCommand())
	return cmd
}

func (a *app) groupListCommand() *cobra.Command {
	var pf pageFlags
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Domain's groups, manual and IdP-synced",
		Example: `  plexctl groups list --domain 0190c0de-…`,
		Args:    exactArgs(),
	}, "GetAdminGroupList")
	listCommand(a, cmd, &pf, groupColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Group] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.Group], error) {
			return c.ListGroups(ctx, domain, o)
		}
	})
	domainFlag(cmd, &domain)
	return cmd
}

func (a *app) groupGetCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one group",
		Example: `  plexctl groups get 0190c0de-…0a`,
		Args:    exactArgs("ID"),
	}, "GetAdminGroupByID")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		g, err := c.GetGroup(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printObject(a, *g, groupColumns)
	})
	return cmd
}

func (a *app) groupCreateCommand() *cobra.Command {
	in := apiv1.CreateGroup{Source: apiv1.GroupSourceManual}
	cmd := calls(&cobra.Command{
		Use:   "create",
		Short: "Create a manual group (or declare an IdP-synced one ahead of its first sign-in)",
		Example: `  plexctl groups create --domain 0190c0de-… --slug sre --name "SRE"
  plexctl groups create --domain 0190c0de-… --slug ops --name ops --idp-binding 0190c0de-…0b --claim ops`,
		Args: exactArgs(),
	}, "PostAdminGroup")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if in.IdPBindingID != "" || in.IdPClaimValue != "" {
			if in.IdPBindingID == "" || in.IdPClaimValue == "" {
				return usagef("an IdP-synced group needs both --idp-binding and --claim")
			}
			in.Source = apiv1.GroupSourceIdP
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		g, err := c.CreateGroup(cmd.Context(), in)
		if err != nil {
			return err
		}
		return printObject(a, *g, groupColumns)
	})
	domainFlag(cmd, &in.DomainID)
	f := cmd.Flags()
	f.StringVar(&in.Slug, "slug", "", "slug, unique in the Domain and immutable (required)")
	f.StringVar(&in.DisplayName, "name", "", "display name (required)")
	f.StringVar(&in.IdPBindingID, "idp-binding", "", "IdP binding whose groups claim the group follows (source idp)")
	f.StringVar(&in.IdPClaimValue, "claim", "", "the groups-claim value the group follows (source idp)")
	for _, name := range []string{"slug", "name"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) groupUpdateCommand() *cobra.Command {
	var in apiv1.PatchGroup
	cmd := calls(&cobra.Command{
		Use:     "update ID",
		Short:   "Rename a manual group",
		Example: `  plexctl groups update 0190c0de-…0a --name "Site reliability"`,
		Args:    exactArgs("ID"),
	}, "PatchAdminGroup")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		g, err := c.UpdateGroup(cmd.Context(), args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *g, groupColumns)
	})
	cmd.Flags().StringVar(&in.DisplayName, "name", "", "new display name (required)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (a *app) groupDeleteCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a manual group; its memberships and every grant to it go with it",
		Example: `  plexctl groups delete 0190c0de-…0a`,
		Args:    exactArgs("ID"),
	}, "DeleteAdminGroupByID")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.DeleteGroup(cmd.Context(), args[0]); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "group %q deleted\n", args[0])
		}
		return nil
	})
	return cmd
}

func (a *app) groupMembersCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "members",
		Short: "List, add and remove a group's members",
		Example: `  plexctl groups members list 0190c0de-…0a
  plexctl groups members add 0190c0de-…0a --service-identity 0190c0de-…0d
  plexctl groups members remove 0190c0de-…0a --user 0190c0de-…0b`,
	})
	cmd.AddCommand(a.groupMembersListCommand(), a.groupMembersAddCommand(), a.groupMembersRemoveCommand())
	return cmd
}

func (a *app) groupMembersListCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:     "list GROUP",
		Short:   "List a group's direct members",
		Example: `  plexctl groups members list 0190c0de-…0a`,
		Args:    exactArgs("GROUP"),
	}, "GetAdminGroupMembers")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.ListGroupMembers(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printList(a, &apiv1.List[apiv1.GroupMember]{Items: l.Items}, groupMemberColumns)
	})
	return cmd
}

// memberFlags are the mutually exclusive --user, --service-identity and
// --group of the member commands.
type memberFlags struct{ user, service, group string }

func (m *memberFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&m.user, "user", "", "a user's identity id")
	f.StringVar(&m.service, "service-identity", "", "a service identity's id")
	f.StringVar(&m.group, "group", "", "another group's id (nesting)")
	cmd.MarkFlagsOneRequired("user", "service-identity", "group")
	cmd.MarkFlagsMutuallyExclusive("user", "service-identity", "group")
}

// member returns the principal kind and id the flags name.
func (m *memberFlags) member() (kind, id string) {
	switch {
	case m.user != "":
		return apiv1.MemberUser, m.user
	case m.service != "":
		return apiv1.MemberServiceIdentity, m.service
	default:
		return apiv1.MemberGroup, m.group
	}
}

func (a *app) groupMembersAddCommand() *cobra.Command {
	var m memberFlags
	cmd := calls(&cobra.Command{
		Use:   "add GROUP",
		Short: "Add a user, service identity or group to a manual group; it takes effect at once",
		Example: `  plexctl groups members add 0190c0de-…0a --user 0190c0de-…0b
  plexctl groups members add 0190c0de-…0a --group 0190c0de-…0c`,
		Args: exactArgs("GROUP"),
	}, "PostAdminGroupMember")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		kind, id := m.member()
		c, err := a.client()
		if err != nil {
			return err
		}
		out, err := c.AddGroupMember(cmd.Context(), args[0], apiv1.AddGroupMember{PrincipalID: id, PrincipalKind: kind,
			Source: apiv1.GroupSourceManual})
		if err != nil {
			return err
		}
		return printObject(a, *out, groupMemberColumns)
	})
	m.add(cmd)
	return cmd
}

func (a *app) groupMembersRemoveCommand() *cobra.Command {
	var m memberFlags
	cmd := calls(&cobra.Command{
		Use:     "remove GROUP",
		Short:   "Remove a member from a manual group; it takes effect at once",
		Example: `  plexctl groups members remove 0190c0de-…0a --user 0190c0de-…0b`,
		Args:    exactArgs("GROUP"),
	}, "DeleteAdminGroupMember")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		kind, id := m.member()
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.RemoveGroupMember(cmd.Context(), args[0], kind, id); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "%s %q removed from group %q\n", kind, id, args[0])
		}
		return nil
	})
	m.add(cmd)
	return cmd
}
