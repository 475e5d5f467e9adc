package plexctl

import (
	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

func (a *app) policyDefaultCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:   "default [deny|allow]",
		Short: "Show or set a Domain's default for nodes no policy covers",
		Long: `Show or set what a Domain does with traffic to nodes no policy's destination
selects: deny (the default of new Domains) or allow (the allow-all bootstrap
mode, for bringing a fleet under policy step by step). See docs/policy.md.`,
		Example: `  plexctl policy default --domain 0190c0de-…
  plexctl policy default allow --domain 0190c0de-…`,
		Args: cobra.MaximumNArgs(1),
	}, "getDomainPolicyDefault", "setDomainPolicyDefault")
	cmd.Flags().StringVar(&domain, "domain", "", "Domain id (required)")
	_ = cmd.MarkFlagRequired("domain")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if len(args) == 1 && args[0] != "deny" && args[0] != "allow" {
			return usagef("the default is deny or allow, not %q", args[0])
		}
		var d *apiclient.PolicyDefault
		if len(args) == 1 {
			d, err = c.SetPolicyDefault(cmd.Context(), domain, args[0])
		} else {
			d, err = c.GetPolicyDefault(cmd.Context(), domain)
		}
		if err != nil {
			return err
		}
		return printFields(a, d, []field{{"Domain", domain}, {"Default", d.PolicyDefault}})
	})
	return cmd
}
