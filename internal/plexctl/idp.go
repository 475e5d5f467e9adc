package plexctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxSecretFile bounds a client secret read from a file or stdin.
const maxSecretFile = 4 << 10

var idpColumns = []column[apiv1.IdPBinding]{
	{"ID", func(b apiv1.IdPBinding) string { return b.ID }},
	{"DOMAIN", func(b apiv1.IdPBinding) string { return bindingScope(b) }},
	{"ISSUER", func(b apiv1.IdPBinding) string { return b.Issuer }},
	{"CLIENT ID", func(b apiv1.IdPBinding) string { return b.ClientID }},
	{"ALIAS", func(b apiv1.IdPBinding) string { return b.Alias }},
	{"PRIMARY", func(b apiv1.IdPBinding) string { return yesNo(b.Primary) }},
	{"JIT", func(b apiv1.IdPBinding) string { return b.JITPolicy }},
	{"STATUS", func(b apiv1.IdPBinding) string { return b.Status }},
}

func bindingScope(b apiv1.IdPBinding) string {
	if b.DomainID == "" {
		return "(platform)"
	}
	return b.DomainID
}

func (a *app) idpCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "idp-bindings",
		Aliases: []string{"idp", "idp-binding"},
		Short:   "Manage OIDC identity-provider bindings of Domains and the platform",
		Long: `An IdP binding lets the users (and service identities) of an OpenID
Connect provider sign in to a Domain, or platform-wide without --domain.
The client secret is never shown: a binding only names where it is held.`,
		Example: `  plexctl idp-bindings list --domain 0190c0de-…
  plexctl idp-bindings create --domain 0190c0de-… --issuer https://login.example.com \
    --client-id plexsphere --client-secret-file ./secret --jit-policy allow --alias corp --primary
  plexctl idp-bindings update 0190c0de-… --alias partners --primary=false
  plexctl idp-bindings disable 0190c0de-0000-7000-8000-00000000000b
  plexctl idp-bindings delete 0190c0de-0000-7000-8000-00000000000b`,
	})
	cmd.AddCommand(a.idpListCommand(), a.idpGetCommand(), a.idpCreateCommand(), a.idpUpdateCommand(),
		a.idpStatusCommand("enable", "active"), a.idpStatusCommand("disable", "deactivated"), a.idpSignInOptionsCommand(),
		calls(a.deleteCommand(deleteSpec{use: "delete ID", short: "Delete an IdP binding; its sessions end",
			example: `  plexctl idp-bindings delete 0190c0de-0000-7000-8000-00000000000b`,
			kind:    "IdP binding", done: "deleted", del: (*apiclient.Client).DeleteIdPBinding}),
			"deleteIdPBinding"))
	return cmd
}

func (a *app) idpListCommand() *cobra.Command {
	var pf pageFlags
	var domain string
	cmd := calls(&cobra.Command{
		Use:   "list",
		Short: "List the IdP bindings you may manage, optionally of one Domain",
		Example: `  plexctl idp-bindings list
  plexctl idp-bindings list --domain 0190c0de-… -o json
  plexctl idp-bindings list --platform`,
		Args: exactArgs(),
	}, "listIdPBindings")
	var platform bool
	calls(cmd, "listPlatformIdPBindings")
	listCommand(a, cmd, &pf, idpColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.IdPBinding] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.IdPBinding], error) {
			if platform {
				if domain != "" {
					return nil, usagef("give --domain or --platform, not both")
				}
				return c.ListPlatformIdPBindings(ctx, o)
			}
			return c.ListIdPBindingsPage(ctx, domain, o)
		}
	})
	cmd.Flags().StringVar(&domain, "domain", "", "only the bindings of this Domain id")
	cmd.Flags().BoolVar(&platform, "platform", false, "only the platform-scoped (shared) bindings (needs platform#manage)")
	return cmd
}

func (a *app) idpGetCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one IdP binding in full",
		Example: `  plexctl idp-bindings get 0190c0de-0000-7000-8000-00000000000b`,
		Args:    exactArgs("ID"),
	}, "getIdPBinding")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		b, err := c.GetIdPBinding(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printBinding(a, b)
	})
	return cmd
}

// printBinding shows a binding as a key/value view (the table is too wide).
func printBinding(a *app, b *apiv1.IdPBinding) error {
	return printFields(a, b, []field{
		{"ID", b.ID},
		{"Domain", bindingScope(*b)},
		{"Issuer", b.Issuer},
		{"Discovery URL", b.DiscoveryURL},
		{"Client ID", b.ClientID},
		{"Client secret ref", b.ClientSecretRef},
		{"Scopes", strings.Join(b.Scopes, " ")},
		{"Claim mappings", joinMap(b.ClaimMappings)},
		{"Required ACR", strings.Join(b.RequiredACR, ", ")},
		{"Required AMR", strings.Join(b.RequiredAMR, ", ")},
		{"JIT policy", b.JITPolicy},
		{"Alias", b.Alias},
		{"Primary", yesNo(b.Primary)},
		{"SPIFFE bundle URL", b.SpiffeBundleURL},
		{"Status", b.Status},
		{"Created", ts(b.CreatedAt)},
		{"Updated", ts(b.UpdatedAt)},
	})
}

func joinMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

func (a *app) idpCreateCommand() *cobra.Command {
	var in apiv1.CreateIdPBinding
	var secretFile string
	var platform bool
	cmd := calls(&cobra.Command{
		Use:   "create",
		Short: "Bind an OIDC provider to a Domain, or platform-wide without --domain",
		Long: `Bind an OIDC provider. The client secret is given either as a reference
the server resolves (--client-secret-ref env:VAR or file:/abs/path), or
read from a file or stdin (--client-secret-file, "-" for stdin) and stored
sealed by the server. It is never accepted on the command line, where
other users could read it, and never shown again.`,
		Example: `  plexctl idp-bindings create --domain 0190c0de-… --issuer https://login.example.com \
    --client-id plexsphere --client-secret-ref env:CORP_OIDC_SECRET --jit-policy allow
  vault read -field=secret kv/oidc | plexctl idp-bindings create --domain 0190c0de-… \
    --issuer https://accounts.example.org --client-id ps --client-secret-file - --jit-policy deny \
    --scope email --claim groups=roles --required-amr mfa --alias corp --primary`,
		Args: exactArgs(),
	}, "createIdPBinding")
	var claims []string
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if in.JITPolicy != "allow" && in.JITPolicy != "deny" {
			return usagef("--jit-policy must be allow or deny")
		}
		if secretFile != "" && in.ClientSecretRef != "" {
			return usagef("give --client-secret-ref or --client-secret-file, not both")
		}
		m, err := parseClaims(claims)
		if err != nil {
			return err
		}
		in.ClaimMappings = m
		if secretFile != "" {
			if in.ClientSecret, err = a.readSecret(secretFile); err != nil {
				return err
			}
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		var b *apiv1.IdPBinding
		if platform {
			if in.DomainID != "" {
				return usagef("give --domain or --platform, not both")
			}
			b, err = c.CreatePlatformIdPBinding(cmd.Context(), apiv1.CreatePlatformIdPBinding{Issuer: in.Issuer,
				ClientID: in.ClientID, ClientSecretRef: in.ClientSecretRef, ClientSecret: in.ClientSecret,
				DiscoveryURL: in.DiscoveryURL, Scopes: in.Scopes, ClaimMappings: in.ClaimMappings, RequiredACR: in.RequiredACR,
				RequiredAMR: in.RequiredAMR, JITPolicy: in.JITPolicy, Alias: in.Alias, Primary: in.Primary,
				SpiffeBundleURL: in.SpiffeBundleURL})
		} else {
			b, err = c.CreateIdPBinding(cmd.Context(), in)
		}
		if err != nil {
			return err
		}
		return printBinding(a, b)
	})
	calls(cmd, "createPlatformIdPBinding")
	f := cmd.Flags()
	f.BoolVar(&platform, "platform", false, "create a platform-scoped (shared) binding through /v1/admin/platform-idp")
	f.StringVar(&in.DomainID, "domain", "", "Domain id; without it the binding is platform-wide (needs platform#manage)")
	f.StringVar(&in.Issuer, "issuer", "", "OIDC issuer URL (required)")
	f.StringVar(&in.ClientID, "client-id", "", "OAuth client id at the provider (required)")
	f.StringVar(&in.ClientSecretRef, "client-secret-ref", "", "where the server finds the client secret: env:VAR or file:/abs/path")
	f.StringVar(&secretFile, "client-secret-file", "", `read the client secret from this file ("-": stdin); stored sealed`)
	f.StringVar(&in.DiscoveryURL, "discovery-url", "", "discovery document URL (default <issuer>/.well-known/openid-configuration)")
	f.StringSliceVar(&in.Scopes, "scope", nil, "extra scope to request, repeatable (openid is always included)")
	f.StringArrayVar(&claims, "claim", nil, "claim mapping KEY=CLAIM (keys groups, email, display_name), repeatable")
	f.StringSliceVar(&in.RequiredACR, "required-acr", nil, "ACR a sign-in must carry, repeatable")
	f.StringSliceVar(&in.RequiredAMR, "required-amr", nil, "AMR a sign-in must carry, e.g. mfa, repeatable")
	f.StringVar(&in.JITPolicy, "jit-policy", "", "allow (create users on first sign-in) or deny (required)")
	f.StringVar(&in.Alias, "alias", "", "kebab-case alias, unique among the scope's active bindings")
	f.BoolVar(&in.Primary, "primary", false, "make this the scope's primary binding")
	f.StringVar(&in.SpiffeBundleURL, "spiffe-bundle-url", "", "SPIFFE trust bundle URL for workload federation")
	for _, name := range []string{"issuer", "client-id", "jit-policy"} {
		_ = cmd.MarkFlagRequired(name)
	}
	_ = cmd.RegisterFlagCompletionFunc("jit-policy", cobra.FixedCompletions(
		[]string{"allow", "deny"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parseClaims turns KEY=CLAIM flags into a map.
func parseClaims(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" || v == "" {
			return nil, usagef("--claim %q: want KEY=CLAIM, e.g. groups=roles", f)
		}
		m[k] = v
	}
	return m, nil
}

// readSecret reads a secret from a file, or stdin for "-", trimmed of
// surrounding whitespace.
func (a *app) readSecret(name string) (string, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", fmt.Errorf("read client secret: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("read client secret: %w", err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("client secret is longer than %d bytes", maxSecretFile)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("client secret from %s is empty", name)
	}
	return s, nil
}

func (a *app) idpUpdateCommand() *cobra.Command {
	var (
		discovery, jit, alias string
		primary               bool
		acr, amr, claims      []string
		clearClaims           bool
	)
	cmd := calls(&cobra.Command{
		Use:   "update ID",
		Short: "Change an IdP binding's discovery URL, claim mappings, required ACR/AMR, JIT policy, alias or primary flag",
		Long: `Change the mutable fields of an IdP binding; flags not given keep their
value. --alias "" clears the alias; --clear-claims drops every claim mapping.
The issuer, client id and client secret cannot change: create a new binding.`,
		Example: `  plexctl idp-bindings update 0190c0de-… --alias partners --jit-policy deny
  plexctl idp-bindings update 0190c0de-… --required-acr urn:mfa --required-amr otp
  plexctl idp-bindings update 0190c0de-… --primary=false`,
		Args: exactArgs("ID"),
	}, "patchIdPBinding")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		f := cmd.Flags()
		in := apiv1.PatchIdPBinding{
			DiscoveryURL: optional(f.Changed("discovery-url"), discovery),
			JITPolicy:    optional(f.Changed("jit-policy"), jit),
			Alias:        optional(f.Changed("alias"), alias),
			Primary:      optional(f.Changed("primary"), primary),
			RequiredACR:  optional(f.Changed("required-acr"), acr),
			RequiredAMR:  optional(f.Changed("required-amr"), amr),
		}
		if in.JITPolicy != nil && *in.JITPolicy != "allow" && *in.JITPolicy != "deny" {
			return usagef("--jit-policy must be allow or deny")
		}
		switch {
		case clearClaims && len(claims) > 0:
			return usagef("give --claim or --clear-claims, not both")
		case clearClaims:
			in.ClaimMappings = &map[string]string{}
		case len(claims) > 0:
			m, err := parseClaims(claims)
			if err != nil {
				return err
			}
			in.ClaimMappings = &m
		}
		if in == (apiv1.PatchIdPBinding{}) {
			return usagef("nothing to change: give at least one flag")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		b, err := c.PatchIdPBinding(cmd.Context(), args[0], in)
		if err != nil {
			return err
		}
		return printBinding(a, b)
	})
	f := cmd.Flags()
	f.StringVar(&discovery, "discovery-url", "", "discovery document URL")
	f.StringVar(&jit, "jit-policy", "", "allow or deny")
	f.StringVar(&alias, "alias", "", `kebab-case alias; "" clears it`)
	f.BoolVar(&primary, "primary", false, "promote (true) or demote (false) as the scope's primary binding")
	f.StringSliceVar(&acr, "required-acr", nil, "replace the required ACRs, repeatable")
	f.StringSliceVar(&amr, "required-amr", nil, "replace the required AMRs, repeatable")
	f.StringArrayVar(&claims, "claim", nil, "replace the claim mappings with KEY=CLAIM, repeatable")
	f.BoolVar(&clearClaims, "clear-claims", false, "drop every claim mapping")
	return cmd
}

// idpStatusCommand is enable (status active) or disable (deactivated).
func (a *app) idpStatusCommand(use, status string) *cobra.Command {
	short := "Activate an IdP binding: sign-in through it works again"
	if status != "active" {
		short = "Deactivate an IdP binding: its browser sessions end and sign-in through it is refused"
	}
	cmd := calls(&cobra.Command{
		Use:     use + " ID",
		Short:   short,
		Example: "  plexctl idp-bindings " + use + " 0190c0de-0000-7000-8000-00000000000b",
		Args:    exactArgs("ID"),
	}, "setIdPBindingStatus")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		b, err := c.SetIdPBindingStatus(cmd.Context(), args[0], status)
		if err != nil {
			return err
		}
		return printBinding(a, b)
	})
	return cmd
}

var chooserColumns = []column[apiv1.DomainIdPBinding]{
	{"ID", func(b apiv1.DomainIdPBinding) string { return b.ID }},
	{"LABEL", func(b apiv1.DomainIdPBinding) string { return b.Label }},
	{"ISSUER HOST", func(b apiv1.DomainIdPBinding) string { return b.IssuerHost }},
	{"PRIMARY", func(b apiv1.DomainIdPBinding) string { return yesNo(b.Primary) }},
	{"PLATFORM", func(b apiv1.DomainIdPBinding) string { return yesNo(b.PlatformScoped) }},
}

func (a *app) idpSignInOptionsCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "sign-in-options",
		Short:   "Show the bindings a Domain signs in with (the public sign-in chooser; no credentials needed)",
		Example: `  plexctl idp-bindings sign-in-options --domain 0190c0de-…`,
		Args:    exactArgs(),
	}, "listSignInBindings")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		bs, err := c.SignInBindings(cmd.Context(), domain)
		if err != nil {
			return err
		}
		return printList(a, &apiv1.List[apiv1.DomainIdPBinding]{Items: bs}, chooserColumns)
	})
	cmd.Flags().StringVar(&domain, "domain", "", "Domain id (required)")
	_ = cmd.MarkFlagRequired("domain")
	return cmd
}
