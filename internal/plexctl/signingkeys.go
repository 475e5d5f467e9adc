package plexctl

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var signingKeyColumns = []column[apiv1.SigningKey]{
	{"KID", func(k apiv1.SigningKey) string { return k.KID }},
	{"STATUS", func(k apiv1.SigningKey) string { return k.Status }},
	{"ALGORITHM", func(k apiv1.SigningKey) string { return k.Algorithm }},
	{"CREATED", func(k apiv1.SigningKey) string { return ts(k.CreatedAt) }},
	{"NOT AFTER", func(k apiv1.SigningKey) string { return tsp(k.NotAfter) }},
	{"PUBLIC KEY", func(k apiv1.SigningKey) string { return k.PublicKey }},
}

func (a *app) signingKeysCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "signing-keys",
		Aliases: []string{"signing-key"},
		Short:   "Inspect and rotate a Domain's Ed25519 signing keys",
		Example: `  plexctl signing-keys list --domain 0190c0de-…
  plexctl signing-keys rotate --domain 0190c0de-… --grace 24h`,
	})
	cmd.AddCommand(a.signingKeysListCommand(), a.signingKeysRotateCommand())
	return cmd
}

// addDomainFlag adds the required --domain of signing-key commands.
func addDomainFlag(cmd *cobra.Command, domain *string) {
	cmd.Flags().StringVar(domain, "domain", "", "Domain id (required)")
	_ = cmd.MarkFlagRequired("domain")
}

func (a *app) signingKeysListCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Domain's signing keys, active first (public halves only)",
		Example: `  plexctl signing-keys list --domain 0190c0de-0000-7000-8000-000000000001`,
		Args:    exactArgs(),
	}, "listSigningKeys")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.ListSigningKeys(cmd.Context(), domain)
		if err != nil {
			return err
		}
		return printList(a, l, signingKeyColumns)
	})
	addDomainFlag(cmd, &domain)
	return cmd
}

// errStepUp explains a 401 step_up_required on rotation.
var errStepUp = errors.New("rotating a signing key is a step-up operation: your sign-in does not meet " +
	"the IdP binding's required acr/amr. Sign in again with a stronger method ('plexctl login') " +
	"and retry, or use a break-glass token")

func (a *app) signingKeysRotateCommand() *cobra.Command {
	var (
		domain string
		grace  time.Duration
	)
	cmd := calls(&cobra.Command{
		Use:   "rotate",
		Short: "Roll a Domain to a new signing key; the old one verifies until the grace ends",
		Long: `Roll a Domain to a new signing key. The previous key keeps verifying for
the grace period (server default 24h), so nodes pick up the new key first.

Rotation is a step-up operation: a credential whose sign-in lacks the IdP
binding's required acr/amr is refused with step_up_required.`,
		Example: `  plexctl signing-keys rotate --domain 0190c0de-0000-7000-8000-000000000001
  plexctl signing-keys rotate --domain 0190c0de-… --grace 72h -o json`,
		Args: exactArgs(),
	}, "rotateSigningKey")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if grace < 0 || grace%time.Second != 0 {
			return usagef("--grace must be a positive whole number of seconds, e.g. 24h")
		}
		var in *apiv1.RotateSigningKey
		if grace > 0 {
			in = &apiv1.RotateSigningKey{GraceSeconds: int(grace / time.Second)}
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.RotateSigningKey(cmd.Context(), domain, in)
		if apiclient.IsCode(err, "step_up_required") {
			// The problem is rendered here, after the explanation: wrapping
			// it would let renderError show the bare problem instead.
			return fmt.Errorf("%w\n  %s", errStepUp, renderError(err))
		}
		if err != nil {
			return err
		}
		return printFields(a, r, []field{
			{"Active", r.Active.KID},
			{"Active public key", r.Active.PublicKey},
			{"Retiring", r.Retiring.KID},
			{"Retiring until", tsp(r.Retiring.NotAfter)},
		})
	})
	addDomainFlag(cmd, &domain)
	f := cmd.Flags()
	f.DurationVar(&grace, "grace", 0, "how long the old key keeps verifying, 1h to 168h (server default 24h)")
	return cmd
}
