package plexctl

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// Environment variables read by plexctl.
const (
	envServer = "PLEXSPHERE_URL"
	envToken  = "PLEXSPHERE_TOKEN"
	envConfig = "PLEXCTL_CONFIG"
)

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "plexctl",
		Short: "Operate a plexsphere control plane",
		Long: `plexctl is the command-line client of the plexsphere operator API.

The server and token come from, in order: --server/--token, then
PLEXSPHERE_URL/PLEXSPHERE_TOKEN, then the selected context of the config
file ($PLEXCTL_CONFIG, or $XDG_CONFIG_HOME/plexctl/config.yaml). A context's
token is only ever sent to that context's server.`,
		Example: `  plexctl config set-context prod --server https://plexsphere.example.com --token-file ~/.psk
  plexctl domains list
  plexctl --context staging -o json projects list --domain 0190c0de-…`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: a.checkGlobalFlags,
	}
	a.group(root)
	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.server, "server", "", "control plane URL (env "+envServer+")")
	pf.StringVar(&a.flags.token, "token", "", "API token psk_… (env "+envToken+")")
	pf.StringVar(&a.flags.context, "context", "", "saved context to use instead of the current one")
	pf.StringVarP(&a.flags.output, "output", "o", formatTable, "output format: table, json or yaml")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]string{formatTable, formatJSON, formatYAML}, cobra.ShellCompDirectiveNoFileComp))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		a.configCommand(), a.domainsCommand(), a.projectsCommand(), a.resourcesCommand(),
		a.labelsCommand(), a.tokensCommand(), a.auditCommand(), a.whoamiCommand(),
		a.loginCommand(), a.logoutCommand(),
		a.bootstrapTokensCommand(), a.nodesCommand(), a.signingKeysCommand(), a.healthCommand(), a.openAPICommand(),
		a.tuplesCommand(), a.authzCommand(), a.idpCommand(), a.serviceIdentitiesCommand(), a.groupsCommand(), a.invitationsCommand(), a.identitiesCommand(),
		a.meshCommand(), a.bridgesCommand(), a.policyCommand(), a.secretCommand(),
		a.sessionsCommand(), a.sshCommand(), a.tcpCommand(), a.kubeCommand(),
		a.execCommand(), a.capabilitiesCommand(), a.hooksCommand(), a.integrityCommand(), a.eventsCommand(), a.logsCommand(), a.metricsCommand(), a.retentionCommand(), a.alertsCommand(), a.incidentsCommand(),
		a.versionCommand(), a.completionCommand(),
	)
	root.SetHelpCommand(a.helpCommand())
	return root
}

func (a *app) checkGlobalFlags(*cobra.Command, []string) error {
	switch a.flags.output {
	case formatTable, formatJSON, formatYAML:
		return nil
	}
	return usagef("invalid --output %q: use table, json or yaml", a.flags.output)
}

// action wraps a command's work so that report can tell its errors from
// command-line errors.
func (a *app) action(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.running = true
		return fn(cmd, args)
	}
}

// group makes cmd a command that only holds subcommands: alone it prints
// its help, with an unknown subcommand it is a usage error.
func (a *app) group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usagef("%s", msg)
	}
	return cmd
}

// exactArgs is cobra.ExactArgs with the argument names in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("expected %d argument(s) (%s), got %d", len(names), strings.Join(names, ", "), len(args))
		}
		return nil
	}
}

// connection is where and how to reach the API, after precedence.
type connection struct {
	server string
	token  string
}

// client returns the API client, resolving the connection on first use.
func (a *app) client() (*apiclient.Client, error) {
	if a.api != nil {
		return a.api, nil
	}
	conn, err := a.resolve()
	if err != nil {
		return nil, err
	}
	c, err := apiclient.New(apiclient.Options{
		BaseURL: conn.server, Token: conn.token, HTTPClient: a.httpClient,
		UserAgent: "plexctl/" + clientVersion(),
	})
	if err != nil {
		return nil, err
	}
	a.api = c
	return c, nil
}

// errNoServer is returned when no server is configured anywhere.
var errNoServer = errors.New("no server configured: pass --server, set " + envServer +
	", or save one with 'plexctl config set-context'")

// resolve applies the precedence flags > environment > context, field by
// field. The context is --context, else the config's current context. A
// context's token is used only when the server is that context's server,
// so that --server never leaks a saved token to another host.
func (a *app) resolve() (connection, error) {
	sc, err := a.selectedContext()
	if err != nil {
		return connection{}, err
	}
	conn := connection{server: firstOf(a.flags.server, a.env(envServer)),
		token: firstOf(a.flags.token, a.env(envToken))}
	if sc == nil {
		if conn.server == "" {
			return conn, errNoServer
		}
		return conn, nil
	}
	if conn.server == "" {
		conn.server = sc.Server
	}
	if conn.token == "" && (sc.Token != "" || sc.TokenFile != "" || sc.Login != nil) {
		if !sameServer(conn.server, sc.Server) {
			fmt.Fprintf(a.stderr, "Warning: not sending the token of context %q to %s, which is not its server\n",
				sc.Name, conn.server)
			return conn, nil
		}
		if sc.Token == "" && sc.TokenFile == "" {
			conn.token, err = a.loginToken(sc)
			return conn, err
		}
		if conn.token, err = sc.token(); err != nil {
			return conn, err
		}
	}
	return conn, nil
}

// selectedContext returns the context --context names, else the current
// one, else nil.
func (a *app) selectedContext() (*savedContext, error) {
	cfg, path, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	name := a.flags.context
	if name == "" {
		name = cfg.CurrentContext
	}
	if name == "" {
		return nil, nil
	}
	sc := cfg.find(name)
	if sc == nil {
		return nil, fmt.Errorf("context %q not found in %s", name, path)
	}
	return sc, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// sameServer compares two base URLs by scheme, host and path, ignoring
// case where URLs do and a trailing slash.
func sameServer(x, y string) bool {
	norm := func(s string) string {
		u, err := url.Parse(s)
		if err != nil {
			return s
		}
		return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/")
	}
	return norm(x) == norm(y)
}

// readTokenFile reads a token saved in a file, trimmed.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
