package plexctl

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

func (a *app) configCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "config",
		Short: "Manage saved contexts (server and token pairs)",
		Long: `Saved contexts live in $PLEXCTL_CONFIG, or $XDG_CONFIG_HOME/plexctl/config.yaml
(~/.config/plexctl/config.yaml), written with mode 0600.`,
		Example: `  plexctl config set-context prod --server https://plexsphere.example.com --token-file ~/.plexsphere/prod.psk
  plexctl config use-context prod
  plexctl config get-contexts`,
	})
	cmd.AddCommand(a.setContextCommand(), a.useContextCommand(), a.getContextsCommand(),
		a.currentContextCommand(), a.deleteContextCommand())
	return cmd
}

func (a *app) setContextCommand() *cobra.Command {
	var server, token, tokenFile string
	var use bool
	cmd := &cobra.Command{
		Use:   "set-context NAME",
		Short: "Create or change a saved context",
		Long: `Create a context, or change the given fields of an existing one. A token is
stored in the config file; a token file is read each time the context is used.`,
		Example: `  plexctl config set-context dev --server http://localhost:8080 --token psk_dev_…
  plexctl config set-context prod --server https://plexsphere.example.com --token-file ~/.psk --use`,
		Args: exactArgs("NAME"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if err := validContextName(name); err != nil {
			return usagef("%v", err)
		}
		if server != "" {
			if _, err := apiclient.New(apiclient.Options{BaseURL: server}); err != nil {
				return usagef("invalid --server: %v", err)
			}
		}
		if tokenFile != "" {
			abs, err := filepath.Abs(tokenFile)
			if err != nil {
				return err
			}
			tokenFile = abs
		}
		cfg, path, err := a.loadConfig()
		if err != nil {
			return err
		}
		sc := cfg.find(name)
		if sc == nil {
			if server == "" {
				return usagef("new context %q needs --server", name)
			}
			cfg.Contexts = append(cfg.Contexts, savedContext{Name: name})
			sc = &cfg.Contexts[len(cfg.Contexts)-1]
		}
		applyContextFlags(cmd, sc, server, token, tokenFile)
		if use {
			cfg.CurrentContext = name
		}
		if err := saveConfig(path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Context %q saved in %s.\n", name, path)
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "control plane URL")
	f.StringVar(&token, "token", "", "API token (psk_…) to store in the config file")
	f.StringVar(&tokenFile, "token-file", "", "file to read the API token from at use time")
	f.BoolVar(&use, "use", false, "also make it the current context")
	cmd.MarkFlagsMutuallyExclusive("token", "token-file")
	return cmd
}

// applyContextFlags sets the fields given on the command line; a new token
// replaces a token file and the other way round.
func applyContextFlags(cmd *cobra.Command, sc *savedContext, server, token, tokenFile string) {
	if server != "" {
		sc.Server = server
	}
	if cmd.Flags().Changed("token") {
		sc.Token, sc.TokenFile = token, ""
	}
	if cmd.Flags().Changed("token-file") {
		sc.Token, sc.TokenFile = "", tokenFile
	}
}

func (a *app) useContextCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "use-context NAME",
		Short:   "Make a saved context the current one",
		Example: `  plexctl config use-context prod`,
		Args:    exactArgs("NAME"),
	}
	cmd.RunE = a.action(func(_ *cobra.Command, args []string) error {
		cfg, path, err := a.loadConfig()
		if err != nil {
			return err
		}
		if cfg.find(args[0]) == nil {
			return fmt.Errorf("context %q not found in %s", args[0], path)
		}
		cfg.CurrentContext = args[0]
		if err := saveConfig(path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Switched to context %q.\n", args[0])
		return nil
	})
	return cmd
}

// contextView is how get-contexts shows a context: never the token.
type contextView struct {
	Current bool   `json:"current"`
	Name    string `json:"name"`
	Server  string `json:"server"`
	Auth    string `json:"auth"`
}

func (a *app) getContextsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get-contexts",
		Short: "List saved contexts (tokens are never shown)",
		Example: `  plexctl config get-contexts
  plexctl config get-contexts -o json`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(*cobra.Command, []string) error {
		cfg, _, err := a.loadConfig()
		if err != nil {
			return err
		}
		views := make([]contextView, 0, len(cfg.Contexts))
		for _, sc := range cfg.Contexts {
			views = append(views, contextView{Current: sc.Name == cfg.CurrentContext,
				Name: sc.Name, Server: sc.Server, Auth: sc.auth()})
		}
		return printItems(a, views, contextColumns)
	})
	return cmd
}

var contextColumns = []column[contextView]{
	{"CURRENT", func(v contextView) string {
		if v.Current {
			return "*"
		}
		return ""
	}},
	{"NAME", func(v contextView) string { return v.Name }},
	{"SERVER", func(v contextView) string { return v.Server }},
	{"AUTH", func(v contextView) string { return v.Auth }},
}

func (a *app) currentContextCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "current-context",
		Short:   "Print the name of the current context",
		Example: `  plexctl config current-context`,
		Args:    exactArgs(),
	}
	cmd.RunE = a.action(func(*cobra.Command, []string) error {
		cfg, path, err := a.loadConfig()
		if err != nil {
			return err
		}
		if cfg.CurrentContext == "" {
			return fmt.Errorf("no current context in %s", path)
		}
		fmt.Fprintln(a.stdout, cfg.CurrentContext)
		return nil
	})
	return cmd
}

func (a *app) deleteContextCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete-context NAME",
		Short:   "Delete a saved context and its stored token",
		Example: `  plexctl config delete-context staging`,
		Args:    exactArgs("NAME"),
	}
	cmd.RunE = a.action(func(_ *cobra.Command, args []string) error {
		cfg, path, err := a.loadConfig()
		if err != nil {
			return err
		}
		wasCurrent := cfg.CurrentContext == args[0]
		if !cfg.remove(args[0]) {
			return fmt.Errorf("context %q not found in %s", args[0], path)
		}
		if err := saveConfig(path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Context %q deleted.\n", args[0])
		if wasCurrent {
			fmt.Fprintln(a.stderr, "Warning: that was the current context; none is selected now.")
		}
		return nil
	})
	return cmd
}
