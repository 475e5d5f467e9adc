package plexctl

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var serviceIdentityColumns = []column[apiv1.ServiceIdentity]{
	{"ID", func(s apiv1.ServiceIdentity) string { return s.ID }},
	{"NAME", func(s apiv1.ServiceIdentity) string { return s.DisplayName }},
	{"FEDERATION", func(s apiv1.ServiceIdentity) string { return s.FederationKind }},
	{"CLIENT ID", func(s apiv1.ServiceIdentity) string { return s.ClientID }},
	{"SUBJECT", func(s apiv1.ServiceIdentity) string { return s.Subject }},
	{"IDP BINDING", func(s apiv1.ServiceIdentity) string { return s.IdPBindingID }},
	{"DISABLED", func(s apiv1.ServiceIdentity) string { return tsp(s.DisabledAt) }},
	{"CREATED", func(s apiv1.ServiceIdentity) string { return ts(s.CreatedAt) }},
}

func (a *app) serviceIdentitiesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "service-identities",
		Aliases: []string{"service-identity", "sid"},
		Short:   "Manage service identities: machine principals of a Domain",
		Long: `A service identity is a machine principal of a Domain, authenticated by
one of the Domain's IdP bindings: with OAuth client credentials
(client_credentials) or a signed JWT assertion (jwt_bearer). Grant it
relations with 'plexctl tuples write --subject service_identity:ID'.`,
		Example: `  plexctl service-identities list --domain 0190c0de-…
  plexctl service-identities create --domain 0190c0de-… --name ci-deployer \
    --idp-binding 0190c0de-…0b --federation client_credentials --client-id ci-deployer
  plexctl service-identities update 0190c0de-…0c --domain 0190c0de-… --disable`,
	})
	cmd.AddCommand(a.sidListCommand(), a.sidGetCommand(), a.sidCreateCommand(), a.sidUpdateCommand(),
		a.sidDeleteCommand())
	return cmd
}

func (a *app) sidListCommand() *cobra.Command {
	var pf pageFlags
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List the service identities of a Domain",
		Example: `  plexctl service-identities list --domain 0190c0de-…`,
		Args:    exactArgs(),
	}, "listServiceIdentities")
	listCommand(a, cmd, &pf, serviceIdentityColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.ServiceIdentity] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.ServiceIdentity], error) {
			return c.ListServiceIdentities(ctx, domain, o)
		}
	})
	domainFlag(cmd, &domain)
	return cmd
}

// domainFlag adds the required --domain of the service-identity commands.
func domainFlag(cmd *cobra.Command, domain *string) {
	cmd.Flags().StringVar(domain, "domain", "", "Domain id (required)")
	_ = cmd.MarkFlagRequired("domain")
}

func (a *app) sidGetCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one service identity",
		Example: `  plexctl service-identities get 0190c0de-…0c --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "getServiceIdentity")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		s, err := c.GetServiceIdentity(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		return printObject(a, *s, serviceIdentityColumns)
	})
	domainFlag(cmd, &domain)
	return cmd
}

func (a *app) sidCreateCommand() *cobra.Command {
	var domain string
	var in apiv1.CreateServiceIdentity
	cmd := calls(&cobra.Command{
		Use:   "create",
		Short: "Create a service identity authenticated by one of the Domain's IdP bindings",
		Example: `  plexctl service-identities create --domain 0190c0de-… --name ci-deployer \
    --idp-binding 0190c0de-…0b --federation client_credentials --client-id ci-deployer
  plexctl service-identities create --domain 0190c0de-… --name build-runner \
    --idp-binding 0190c0de-…0b --federation jwt_bearer --client-id runner \
    --subject system:serviceaccount:ci:runner`,
		Args: exactArgs(),
	}, "createServiceIdentity")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		switch in.FederationKind {
		case "client_credentials":
		case "jwt_bearer":
			if in.Subject == "" {
				return usagef("--federation jwt_bearer needs --subject")
			}
		default:
			return usagef("--federation must be client_credentials or jwt_bearer")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		s, err := c.CreateServiceIdentity(cmd.Context(), domain, in)
		if err != nil {
			return err
		}
		return printObject(a, *s, serviceIdentityColumns)
	})
	domainFlag(cmd, &domain)
	f := cmd.Flags()
	f.StringVar(&in.DisplayName, "name", "", "display name (required)")
	f.StringVar(&in.IdPBindingID, "idp-binding", "", "id of the IdP binding that authenticates it (required)")
	f.StringVar(&in.FederationKind, "federation", "client_credentials", "client_credentials or jwt_bearer")
	f.StringVar(&in.ClientID, "client-id", "", "its client id at the IdP (required)")
	f.StringVar(&in.Subject, "subject", "", "the sub claim of its assertions (jwt_bearer)")
	for _, name := range []string{"name", "idp-binding", "client-id"} {
		_ = cmd.MarkFlagRequired(name)
	}
	_ = cmd.RegisterFlagCompletionFunc("federation", cobra.FixedCompletions(
		[]string{"client_credentials", "jwt_bearer"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) sidUpdateCommand() *cobra.Command {
	var domain, name string
	var disable, enable bool
	cmd := calls(&cobra.Command{
		Use:   "update ID",
		Short: "Rename, disable or re-enable a service identity; disabling revokes its tokens",
		Example: `  plexctl service-identities update 0190c0de-…0c --domain 0190c0de-… --name ci-deployer-2
  plexctl service-identities update 0190c0de-…0c --domain 0190c0de-… --disable`,
		Args: exactArgs("ID"),
	}, "patchServiceIdentity")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		f := cmd.Flags()
		if disable && enable {
			return usagef("give --disable or --enable, not both")
		}
		if !f.Changed("name") && !disable && !enable {
			return usagef("nothing to update: give --name, --disable or --enable")
		}
		in := apiv1.PatchServiceIdentity{DisplayName: optional(f.Changed("name"), name)}
		if disable || enable {
			in.Disabled = &disable
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		s, err := c.UpdateServiceIdentity(cmd.Context(), domain, args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *s, serviceIdentityColumns)
	})
	domainFlag(cmd, &domain)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new display name")
	f.BoolVar(&disable, "disable", false, "disable it and revoke its tokens")
	f.BoolVar(&enable, "enable", false, "enable it again")
	return cmd
}

func (a *app) sidDeleteCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a service identity; its tokens and tuples go with it",
		Example: `  plexctl service-identities delete 0190c0de-…0c --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "deleteServiceIdentity")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.DeleteServiceIdentity(cmd.Context(), domain, args[0]); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "service identity %q deleted\n", args[0])
		}
		return nil
	})
	domainFlag(cmd, &domain)
	return cmd
}
