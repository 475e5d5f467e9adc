package plexctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var tokenColumns = []column[apiv1.APIToken]{
	{"ID", func(t apiv1.APIToken) string { return t.ID }},
	{"ENV", func(t apiv1.APIToken) string { return t.EnvPrefix }},
	{"PREFIX", func(t apiv1.APIToken) string { return t.Prefix }},
	{"CREATED", func(t apiv1.APIToken) string { return ts(t.CreatedAt) }},
	{"EXPIRES", func(t apiv1.APIToken) string {
		if t.NeverExpires {
			return "never"
		}
		return tsp(t.ExpiresAt)
	}},
	{"LAST USED", func(t apiv1.APIToken) string { return tsp(t.LastUsedAt) }},
	{"ROTATED", func(t apiv1.APIToken) string { return tsp(t.RotatedAt) }},
}

func (a *app) tokensCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Manage your API tokens (psk_…), and as an admin those of other principals",
		Example: `  plexctl tokens list
  plexctl tokens issue --env prod --ttl 720h
  plexctl tokens rotate 0190c0de-…`,
	})
	var pf pageFlags
	var forRef string
	list := calls(&cobra.Command{
		Use:   "list",
		Short: "List your API tokens, or another principal's with --for (metadata only, never the plaintext)",
		Example: `  plexctl tokens list -o json
  plexctl tokens list --for service:0190c0de-0000-7000-8000-0000000000aa`,
		Args: exactArgs(),
	}, "listTokens", "listAdminTokens")
	listCommand(a, list, &pf, tokenColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.APIToken] {
		if forRef == "" {
			return c.ListTokens
		}
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.APIToken], error) {
			l, err := c.ListAdminTokens(ctx, forRef, o)
			if err != nil {
				return nil, err
			}
			out := &apiv1.List[apiv1.APIToken]{Items: make([]apiv1.APIToken, len(l.Items)), NextCursor: l.NextCursor}
			for i, t := range l.Items {
				out.Items[i] = t.APIToken
			}
			return out, nil
		}
	})
	list.Flags().StringVar(&forRef, "for", "", "another principal (user:<uuid> or service:<uuid>) whose tokens you administer")
	var adminRevoke bool
	revoke := a.deleteCommand(deleteSpec{use: "revoke ID", short: "Revoke an API token (yours, or with --admin any you administer), effective immediately",
		example: `  plexctl tokens revoke 0190c0de-0000-7000-8000-000000000009
  plexctl tokens revoke --admin 0190c0de-0000-7000-8000-00000000000a`,
		kind: "token", done: "revoked", op: "revokeToken",
		del: func(c *apiclient.Client, ctx context.Context, id string) error {
			if adminRevoke {
				return c.RevokeAdminToken(ctx, id)
			}
			return c.RevokeToken(ctx, id)
		}})
	calls(revoke, "revokeAdminToken")
	revoke.Flags().BoolVar(&adminRevoke, "admin", false, "revoke another principal's token as its Domain or platform admin")
	cmd.AddCommand(list, a.tokensIssueCommand(), a.tokensRotateCommand(), revoke)
	return cmd
}

func (a *app) tokensIssueCommand() *cobra.Command {
	var in apiv1.IssueToken
	var ttl time.Duration
	var forRef string
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue a new API token for yourself, or with --for for another principal; the plaintext is shown once",
		Long: `Issue a new API token. With --for, a Domain or platform admin issues it for
another principal (a service identity or user) of a Domain they manage:
this needs a step-up sign-in, and the lifetime is bounded by the server's
policy (90 days by default).`,
		Example: `  plexctl tokens issue --env dev
  plexctl tokens issue --env prod --ttl 720h -o json > token.json
  plexctl tokens issue --for service:0190c0de-0000-7000-8000-0000000000aa --env prod --ttl 168h`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if ttl < 0 || ttl%time.Second != 0 {
			return usagef("--ttl must be a positive whole number of seconds, e.g. 24h")
		}
		in.TTLSeconds = int64(ttl / time.Second)
		c, err := a.client()
		if err != nil {
			return err
		}
		var t *apiv1.IssuedToken
		if forRef != "" {
			if in.IdentityRef != "" {
				return usagef("give --for or --identity, not both")
			}
			t, err = c.IssueAdminToken(cmd.Context(), apiv1.AdminIssueToken{IdentityRef: forRef, EnvPrefix: in.EnvPrefix,
				TTLSeconds: in.TTLSeconds})
		} else {
			t, err = c.IssueToken(cmd.Context(), in)
		}
		if err != nil {
			return err
		}
		return a.printIssued(t)
	})
	f := cmd.Flags()
	f.StringVar(&in.EnvPrefix, "env", "", "environment: dev, stage or prod (required)")
	f.DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 720h (server default when unset)")
	f.StringVar(&in.IdentityRef, "identity", "", "identity ref; must name yourself (default)")
	f.StringVar(&forRef, "for", "", "issue for another principal (user:<uuid> or service:<uuid>) as its admin")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.RegisterFlagCompletionFunc("env", cobra.FixedCompletions(
		[]string{"dev", "stage", "prod"}, cobra.ShellCompDirectiveNoFileComp))
	return calls(cmd, "issueToken", "issueAdminToken")
}

func (a *app) tokensRotateCommand() *cobra.Command {
	var admin bool
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Replace a token's plaintext; the old one works until the rotation deadline",
		Example: `  plexctl tokens rotate 0190c0de-0000-7000-8000-000000000009
  plexctl tokens rotate 0190c0de-… -o json | jq -r .plaintext > ~/.plexsphere/prod.psk`,
		Args: exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		rotate := c.RotateToken
		if admin {
			rotate = c.RotateAdminToken
		}
		t, err := rotate(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return a.printIssued(t)
	})
	cmd.Flags().BoolVar(&admin, "admin", false, "rotate another principal's token as its Domain or platform admin (step-up required)")
	return calls(cmd, "rotateToken", "rotateAdminToken")
}

// printIssued shows a token plaintext, with a reminder on stderr that it
// is not shown again.
func (a *app) printIssued(t *apiv1.IssuedToken) error {
	expires := tsp(t.ExpiresAt)
	if t.NeverExpires {
		expires = "never"
	}
	err := printFields(a, t, []field{
		{"ID", t.ID},
		{"Token", t.Plaintext},
		{"Env", t.EnvPrefix},
		{"Expires", expires},
		{"Old token valid until", tsp(t.RotationDeadline)},
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "Store this token now: it is not shown again.")
	return nil
}

func (a *app) whoamiCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server thinks you are",
		Example: `  plexctl whoami
  plexctl --context prod whoami -o json`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		w, err := c.Whoami(cmd.Context())
		if err != nil {
			return err
		}
		return printFields(a, w, []field{
			{"Principal type", w.PrincipalType},
			{"Subject", w.Subject},
			{"Domain", w.DomainID},
			{"Email", w.Email},
			{"ACR", w.ACR},
			{"AMR", strings.Join(w.AMR, ", ")},
		})
	})
	return calls(cmd, "whoami")
}
