package plexctl

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var identityColumns = []column[apiv1.Identity]{
	{"ID", func(i apiv1.Identity) string { return i.ID }},
	{"KIND", func(i apiv1.Identity) string { return i.Kind }},
	{"NAME", func(i apiv1.Identity) string { return i.DisplayName }},
	{"IDP BINDING", func(i apiv1.Identity) string { return i.IdPBindingID }},
	{"LAST SIGN-IN", func(i apiv1.Identity) string { return tsp(i.LastSignInAt) }},
	{"GROUPS", func(i apiv1.Identity) string { return identityGroups(i.Groups) }},
	{"CREATED", func(i apiv1.Identity) string { return ts(i.CreatedAt) }},
}

// identityDetailColumns add what the detail carries.
var identityDetailColumns = append(append([]column[apiv1.Identity]{}, identityColumns...),
	column[apiv1.Identity]{"EMAIL", func(i apiv1.Identity) string { return i.Email }},
	column[apiv1.Identity]{"SUBJECT", func(i apiv1.Identity) string { return i.ExternalSubject }},
	column[apiv1.Identity]{"ROLES", func(i apiv1.Identity) string { return identityRoles(i.EffectiveRoles) }})

func identityGroups(gs []apiv1.IdentityGroup) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.Slug
	}
	return strings.Join(parts, ",")
}

func identityRoles(rs []apiv1.IdentityRole) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Object + "#" + r.Relation
	}
	return strings.Join(parts, ",")
}

func (a *app) identitiesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "identities",
		Aliases: []string{"identity"},
		Short:   "See who exists in a Domain: users and service identities",
		Long: `The identities view of a Domain (Domain admins only): each user and
service identity, the IdP binding it signs in through, its last sign-in and
groups; 'get' adds its e-mail, IdP subject and effective roles on the Domain
and its Projects as the ReBAC engine resolves them (through groups and
inheritance).`,
		Example: `  plexctl identities list --domain 0190c0de-… --kind user
  plexctl identities get 0190c0de-…0u --domain 0190c0de-…`,
	})
	cmd.AddCommand(a.identityListCommand(), a.identityGetCommand())
	return cmd
}

func (a *app) identityListCommand() *cobra.Command {
	var pf pageFlags
	var domain, kind string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Domain's identities, newest first",
		Example: `  plexctl identities list --domain 0190c0de-… --kind service-identity`,
		Args:    exactArgs(),
	}, "ListIdentities")
	listCommand(a, cmd, &pf, identityColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Identity] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.Identity], error) {
			return c.ListIdentities(ctx, domain, kind, o)
		}
	})
	domainFlag(cmd, &domain)
	cmd.Flags().StringVar(&kind, "kind", "", "user or service-identity (default both)")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(
		[]string{"user", "service-identity"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) identityGetCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one identity with its groups and effective roles",
		Example: `  plexctl identities get 0190c0de-…0u --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "GetIdentity")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		i, err := c.GetIdentity(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		return printObject(a, *i, identityDetailColumns)
	})
	domainFlag(cmd, &domain)
	return cmd
}
