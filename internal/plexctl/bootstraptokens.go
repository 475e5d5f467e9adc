package plexctl

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// bootstrapTokenColumns are the list/get columns; the plaintext is never
// among them (the server returns it only when a token is issued).
func (a *app) bootstrapTokenColumns() []column[apiv1.BootstrapToken] {
	return []column[apiv1.BootstrapToken]{
		{"ID", func(t apiv1.BootstrapToken) string { return t.ID }},
		{"KIND", func(t apiv1.BootstrapToken) string { return t.Kind }},
		{"ENV", func(t apiv1.BootstrapToken) string { return t.EnvPrefix }},
		{"USES", func(t apiv1.BootstrapToken) string { return fmt.Sprintf("%d/%d", t.Uses, t.MaxUses) }},
		{"STATUS", func(t apiv1.BootstrapToken) string { return bootstrapTokenStatus(t, a.now()) }},
		{"ISSUED", func(t apiv1.BootstrapToken) string { return ts(t.IssuedAt) }},
		{"EXPIRES", func(t apiv1.BootstrapToken) string { return ts(t.ExpiresAt) }},
	}
}

// bootstrapTokenStatus is whether a token can still enrol a node.
func bootstrapTokenStatus(t apiv1.BootstrapToken, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ConsumedAt != nil || (t.MaxUses > 0 && t.Uses >= t.MaxUses):
		return "consumed"
	case !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

func (a *app) bootstrapTokensCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "bootstrap-tokens",
		Aliases: []string{"bootstrap-token", "bt"},
		Short:   "Manage a Project's bootstrap tokens (psb_…), which enrol nodes",
		Example: `  plexctl bootstrap-tokens create --project 0190c0de-… --ttl 1h --max-uses 5
  plexctl bootstrap-tokens create --project 0190c0de-… --env prod --ttl 1h --max-uses 5
  plexctl bootstrap-tokens list --project 0190c0de-…
  plexctl bootstrap-tokens revoke 0190c0de-… --project 0190c0de-…`,
	})
	cmd.AddCommand(a.bootstrapTokensCreateCommand(), a.bootstrapTokensListCommand(),
		a.bootstrapTokensGetCommand(), a.bootstrapTokensRevokeCommand())
	return cmd
}

// addProjectFlag adds the required --project of bootstrap-token commands.
func addProjectFlag(cmd *cobra.Command, project *string) {
	cmd.Flags().StringVar(project, "project", "", "Project id (required)")
	_ = cmd.MarkFlagRequired("project")
}

func (a *app) bootstrapTokensCreateCommand() *cobra.Command {
	var (
		project string
		in      apiv1.IssueBootstrapToken
		ttl     time.Duration
		labels  map[string]string
	)
	cmd := calls(&cobra.Command{
		Use:   "create",
		Short: "Issue a bootstrap token; the plaintext is shown once",
		Example: `  plexctl bootstrap-tokens create --project 0190c0de-… --ttl 1h --max-uses 5
  plexctl bootstrap-tokens create --project 0190c0de-… --env prod --ttl 1h --max-uses 5
  plexctl bootstrap-tokens create --project 0190c0de-… --env dev --label role=web -o json | jq -r .token`,
		Args: exactArgs(),
	}, "issueBootstrapToken")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if ttl < 0 || ttl%time.Second != 0 {
			return usagef("--ttl must be a positive whole number of seconds, e.g. 1h")
		}
		if in.MaxUses < 0 {
			return usagef("--max-uses must be positive")
		}
		in.TTLSeconds = int(ttl / time.Second)
		in.Labels = labels
		c, err := a.client()
		if err != nil {
			return err
		}
		t, err := c.IssueBootstrapToken(cmd.Context(), project, in)
		if err != nil {
			return err
		}
		err = printFields(a, t, []field{
			{"ID", t.TokenID},
			{"Token", t.Token},
			{"Issued", ts(t.IssuedAt)},
			{"Expires", ts(t.ExpiresAt)},
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stderr, "Store this token now: it is not shown again.")
		return nil
	})
	addProjectFlag(cmd, &project)
	f := cmd.Flags()
	f.StringVar(&in.Kind, "kind", "node", "kind of the enrolled nodes: node or bridge")
	// The API requires env_prefix; the flag defaults it so the common case
	// needs only --project.
	f.StringVar(&in.EnvPrefix, "env", "default", "environment segment of the token (lowercase letters, e.g. prod); it shows in the token and helps spot a leaked one")
	f.DurationVar(&ttl, "ttl", 0, "lifetime, 5m to 24h (server default 1h when unset)")
	f.IntVar(&in.MaxUses, "max-uses", 0, "how many nodes the token may enrol (server default 1)")
	f.StringToStringVar(&labels, "label", nil, "label KEY=VALUE given to every enrolled node (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(
		[]string{"node", "bridge"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) bootstrapTokensListCommand() *cobra.Command {
	var (
		pf      pageFlags
		project string
	)
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Project's bootstrap tokens (metadata only, never the plaintext)",
		Example: `  plexctl bootstrap-tokens list --project 0190c0de-… -o json`,
		Args:    exactArgs(),
	}, "listBootstrapTokens")
	listCommand(a, cmd, &pf, a.bootstrapTokenColumns(), func(c *apiclient.Client) apiclient.PageFunc[apiv1.BootstrapToken] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.BootstrapToken], error) {
			return c.ListBootstrapTokens(ctx, project, o)
		}
	})
	addProjectFlag(cmd, &project)
	return cmd
}

func (a *app) bootstrapTokensGetCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one bootstrap token's metadata",
		Example: `  plexctl bootstrap-tokens get 0190c0de-… --project 0190c0de-… -o yaml`,
		Args:    exactArgs("ID"),
	}, "getBootstrapToken")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		t, err := c.GetBootstrapToken(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return printFields(a, t, []field{
			{"ID", t.ID},
			{"Project", t.ProjectID},
			{"Kind", t.Kind},
			{"Env", t.EnvPrefix},
			{"Status", bootstrapTokenStatus(*t, a.now())},
			{"Uses", strconv.Itoa(t.Uses) + "/" + strconv.Itoa(t.MaxUses)},
			{"Issued", ts(t.IssuedAt)},
			{"Issued by", t.IssuedByUserID},
			{"Expires", ts(t.ExpiresAt)},
			{"Consumed", tsp(t.ConsumedAt)},
			{"Revoked", tsp(t.RevokedAt)},
			{"Labels", labelsText(t.Labels)},
		})
	})
	addProjectFlag(cmd, &project)
	return cmd
}

func (a *app) bootstrapTokensRevokeCommand() *cobra.Command {
	var project string
	cmd := a.deleteCommand(deleteSpec{use: "revoke ID", short: "Revoke a bootstrap token so it enrols no more nodes",
		example: `  plexctl bootstrap-tokens revoke 0190c0de-… --project 0190c0de-…`,
		kind:    "bootstrap token", done: "revoked", op: "revokeBootstrapToken",
		del: func(c *apiclient.Client, ctx context.Context, id string) error {
			return c.RevokeBootstrapToken(ctx, project, id)
		}})
	addProjectFlag(cmd, &project)
	return cmd
}
