package plexctl

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// version is the plexctl release, set at link time with
// -ldflags "-X github.com/plexsphere/plexsphere/internal/plexctl.version=v1.2.3".
var version = ""

// clientVersion is the link-time version, else the module version from
// the build info, else "dev".
func clientVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionView is the -o json/yaml shape of "plexctl version".
type versionView struct {
	Client clientInfo     `json:"client"`
	Server *apiv1.Version `json:"server,omitempty"`
}

type clientInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

func (a *app) versionCommand() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plexctl version and the server's",
		Example: `  plexctl version
  plexctl version --client -o json`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		v := versionView{Client: clientInfo{Version: clientVersion(), GoVersion: runtime.Version(),
			Platform: runtime.GOOS + "/" + runtime.GOARCH}}
		var serverErr error
		if !clientOnly {
			if c, err := a.client(); err != nil {
				serverErr = err
			} else {
				v.Server, serverErr = c.Version(cmd.Context())
			}
		}
		fields := []field{{"Client version", fmt.Sprintf("%s (%s, %s)", v.Client.Version, v.Client.GoVersion, v.Client.Platform)}}
		if v.Server != nil {
			fields = append(fields, field{"Server version",
				fmt.Sprintf("%s (commit %s, built %s)", v.Server.Version, v.Server.Commit, v.Server.Date)})
		}
		if err := printFields(a, v, fields); err != nil {
			return err
		}
		return serverErr
	})
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only the client version; do not contact the server")
	return calls(cmd, "getVersion")
}

func (a *app) completionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for the given shell. Load it in the current shell,
or install it where your shell looks for completions.`,
		Example: `  source <(plexctl completion bash)
  plexctl completion zsh > "${fpath[1]}/_plexctl"
  plexctl completion fish > ~/.config/fish/completions/plexctl.fish
  plexctl completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      exactArgs("SHELL"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		root := cmd.Root()
		switch args[0] {
		case "bash":
			return root.GenBashCompletionV2(a.stdout, true)
		case "zsh":
			return root.GenZshCompletion(a.stdout)
		case "fish":
			return root.GenFishCompletion(a.stdout, true)
		case "powershell":
			return root.GenPowerShellCompletionWithDesc(a.stdout)
		}
		return usagef("unsupported shell %q: use bash, zsh, fish or powershell", args[0])
	})
	return cmd
}

func (a *app) helpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "help [COMMAND]...",
		Short: "Help about any command",
		Example: `  plexctl help
  plexctl help audit export`,
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		target, rest, err := cmd.Root().Find(args)
		if err != nil || target == nil || len(rest) > 0 {
			return usagef("unknown help topic %q", args)
		}
		return target.Help()
	})
	return cmd
}
