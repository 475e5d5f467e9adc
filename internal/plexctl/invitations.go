package plexctl

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var invitationColumns = []column[apiv1.Invitation]{
	{"ID", func(i apiv1.Invitation) string { return i.ID }},
	{"STATUS", func(i apiv1.Invitation) string { return i.Status }},
	{"INVITEE", func(i apiv1.Invitation) string { return shortPseudonym(i.ExternalSubjectPseudonym) }},
	{"GRANTS", func(i apiv1.Invitation) string { return invitationGrants(i.InitialTuples) }},
	{"EXPIRES", func(i apiv1.Invitation) string { return ts(i.ExpiresAt) }},
	{"ACCEPTED BY", func(i apiv1.Invitation) string { return i.AcceptedUserID }},
	{"SIGN-IN URL", func(i apiv1.Invitation) string { return i.SignInURL }},
}

// shortPseudonym abbreviates a 64-hex pseudonym for tables.
func shortPseudonym(p string) string {
	if len(p) > 12 {
		return p[:12] + "…"
	}
	return p
}

func invitationGrants(ts []apiv1.InvitationTuple) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Object + "#" + t.Relation
	}
	return strings.Join(parts, ",")
}

func (a *app) invitationsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "invitations",
		Aliases: []string{"invitation", "invite"},
		Short:   "Invite e-mail addresses to a Domain with initial roles or groups",
		Long: `An invitation names an e-mail address and the roles (relations on the
Domain or its Projects) or groups it grants. It is redeemed once, at the
invitee's first sign-in through the Domain's IdP, when the ID token carries
the address verified (compared case-insensitively) — even where the binding
provisions nobody by itself. Nothing is mailed: hand the invitee the sign-in
URL. Invitations expire (default 24h, at most 7 days) and can be revoked.`,
		Example: `  plexctl invitations create --domain 0190c0de-… --email ada@example.com \
    --grant project:0190c0de-…0a#viewer --grant group:0190c0de-…0g#member
  plexctl invitations list --domain 0190c0de-… --status pending
  plexctl invitations revoke 0190c0de-…0c --domain 0190c0de-…`,
	})
	cmd.AddCommand(a.invListCommand(), a.invGetCommand(), a.invCreateCommand(), a.invRevokeCommand())
	return cmd
}

func (a *app) invListCommand() *cobra.Command {
	var pf pageFlags
	var domain, status string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Domain's invitations, newest first",
		Example: `  plexctl invitations list --domain 0190c0de-… --status pending`,
		Args:    exactArgs(),
	}, "ListInvitations")
	listCommand(a, cmd, &pf, invitationColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Invitation] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.Invitation], error) {
			return c.ListInvitations(ctx, domain, status, o)
		}
	})
	domainFlag(cmd, &domain)
	cmd.Flags().StringVar(&status, "status", "", "pending, accepted, revoked, expired or all")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]string{"pending", "accepted", "revoked", "expired", "all"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) invGetCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one invitation",
		Example: `  plexctl invitations get 0190c0de-…0c --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "GetInvitation")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		inv, err := c.GetInvitation(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		return printObject(a, *inv, invitationColumns)
	})
	domainFlag(cmd, &domain)
	return cmd
}

// parseGrant reads OBJECT#RELATION (e.g. project:ID#viewer).
func parseGrant(s string) (apiv1.InvitationTuple, error) {
	obj, rel, ok := strings.Cut(s, "#")
	if !ok || obj == "" || rel == "" {
		return apiv1.InvitationTuple{}, usagef("--grant %q: want OBJECT#RELATION, e.g. project:ID#viewer", s)
	}
	return apiv1.InvitationTuple{Object: obj, Relation: rel}, nil
}

func (a *app) invCreateCommand() *cobra.Command {
	var domain, email string
	var grants []string
	var ttl int64
	cmd := calls(&cobra.Command{
		Use:   "create",
		Short: "Invite an e-mail address; prints the sign-in URL to hand the invitee",
		Example: `  plexctl invitations create --domain 0190c0de-… --email ada@example.com \
    --grant domain:0190c0de-…#viewer --grant project:0190c0de-…0a#operator --ttl 3600`,
		Args: exactArgs(),
	}, "CreateInvitation")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		in := apiv1.CreateInvitation{ExternalSubject: email, TTLSeconds: ttl}
		for _, g := range grants {
			t, err := parseGrant(g)
			if err != nil {
				return err
			}
			in.InitialTuples = append(in.InitialTuples, t)
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		inv, err := c.CreateInvitation(cmd.Context(), domain, in)
		if err != nil {
			return err
		}
		return printObject(a, *inv, invitationColumns)
	})
	domainFlag(cmd, &domain)
	f := cmd.Flags()
	f.StringVar(&email, "email", "", "the invitee's e-mail address (required)")
	f.StringArrayVar(&grants, "grant", nil, "OBJECT#RELATION granted on redemption (repeatable): domain:ID#ROLE, project:ID#ROLE, group:ID#member")
	f.Int64Var(&ttl, "ttl", 0, "lifetime in seconds, 60..604800 (default 86400)")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func (a *app) invRevokeCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a pending invitation",
		Example: `  plexctl invitations revoke 0190c0de-…0c --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "RevokeInvitation")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.RevokeInvitation(cmd.Context(), domain, args[0]); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "invitation %q revoked\n", args[0])
		}
		return nil
	})
	domainFlag(cmd, &domain)
	return cmd
}
