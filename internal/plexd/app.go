// Package plexd is the node agent's command line: join, up, status,
// secrets, deregister, install and uninstall. It decodes the configuration once
// (flags > PLEXD_* environment > config file), then hands typed values to
// the sub-packages that do the work: enroll (registration), identity
// (persistence), agent (reconcile loop, stream, heartbeat), localapi (the
// Unix-socket node API), cpclient (the control-plane client) and telemetry
// (metrics, logs and audit records through an on-disk queue).
package plexd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// Exit codes of Run.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Env is how Run reaches the outside world; tests replace every part.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv looks up environment variables (os.Getenv when nil).
	Getenv func(string) string
	// Prompt reads a secret without echo; nil uses the terminal on stdin
	// when it is one (golang.org/x/term), else no prompt.
	Prompt func(label string) (string, error)
	// Systemctl runs systemctl; nil runs the real one.
	Systemctl func(ctx context.Context, args ...string) error
	// Executable is the binary path the unit starts (os.Executable when "").
	Executable string
	// Transport carries control-plane requests (tests); nil is the default.
	Transport http.RoundTripper
	// Clock drives loops (nil: real time).
	Clock clock.Clock
	// Mesh replaces the WireGuard engine of `plexd up` (tests: an
	// in-memory engine that touches nothing on the host); nil runs the
	// configured backend.
	Mesh mesh.Engine
}

// Run executes plexd with args (without the program name) and returns the
// exit code.
func Run(ctx context.Context, args []string, env Env) int {
	a := newApp(env)
	root := a.rootCommand()
	if args == nil {
		args = []string{}
	}
	root.SetArgs(args)
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	if _, err := root.ExecuteContextC(ctx); err != nil {
		fmt.Fprintf(a.env.Stderr, "plexd: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) || !a.running {
			return ExitUsage
		}
		return ExitError
	}
	return ExitOK
}

type usageError struct{ error }

type app struct {
	env Env
	// running is set once a command's action starts.
	running bool
	// configFile is --config.
	configFile string
	// flagValues are the setting flags, read through cobra's Changed.
	flagValues map[config.Key]*string
	root       *cobra.Command
}

func newApp(env Env) *app {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Prompt == nil {
		env.Prompt = terminalPrompt(env.Stdin, env.Stderr)
	}
	if env.Systemctl == nil {
		env.Systemctl = func(ctx context.Context, args ...string) error {
			out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	return &app{env: env, flagValues: map[config.Key]*string{}}
}

// terminalPrompt reads from stdin without echo when it is a terminal.
func terminalPrompt(stdin io.Reader, stderr io.Writer) func(string) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(label string) (string, error) {
		fmt.Fprint(stderr, label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
}

var flagHelp = map[config.Key]string{
	config.KeyServer:                   "control plane base URL",
	config.KeyDataDir:                  "directory for the node identity (default " + config.DefaultDataDir + ")",
	config.KeyToken:                    "bootstrap token (prefer --token-file or the prompt: flags show in ps)",
	config.KeyTokenFile:                "file holding the bootstrap token",
	config.KeyHostname:                 "hostname reported at registration (default: the system's)",
	config.KeyMode:                     "node or bridge (default node)",
	config.KeySocket:                   "local node API socket (default " + config.DefaultSocket + ")",
	config.KeyHeartbeatInterval:        "time between heartbeats (default 30s)",
	config.KeyReconcileInterval:        "time between state pulls (default 60s)",
	config.KeyUnitPath:                 "systemd unit path for install/uninstall (default " + config.DefaultUnitPath + ")",
	config.KeyLogLevel:                 "debug, info, warn or error (default info)",
	config.KeyAPITCP:                   "also serve the local node API on this loopback address (e.g. 127.0.0.1:9100)",
	config.KeyAPITokenFile:             "file holding the bearer token for the TCP local API",
	config.KeyWireGuardBackend:         "auto, kernel, userspace or netstack (default auto)",
	config.KeySecretsGroup:             "group that may read secret values through the local API, besides root (default " + config.DefaultSecretsGroup + ")",
	config.KeyAccessPort:               "access listener TCP port on the mesh IP (default 7480; 0 disables it)",
	config.KeyAccessSSHUsers:           "ssh session users allowed here: user or user=local-account, comma separated (default none: ssh refused)",
	config.KeyAccessKubeAPI:            "Kubernetes API base URL for k8s sessions (e.g. https://127.0.0.1:6443)",
	config.KeyAccessKubeTokenFile:      "file holding plexd's bearer token for the Kubernetes API",
	config.KeyAccessKubeCAFile:         "PEM CA bundle of the Kubernetes API",
	config.KeyAccessRecordingMax:       "bound of one ssh session recording (default 16MiB)",
	config.KeyActionsDisabled:          "reject every action request (actions_disabled)",
	config.KeyActionsServiceAllow:      "systemd units service.restart may restart, comma separated (default none)",
	config.KeyActionsFileAllow:         "absolute path prefixes file.read may read, comma separated (default none)",
	config.KeyHooksDir:                 "directory of hook manifests (default hooks.d beside the config file)",
	config.KeyHooksUser:                "unprivileged user hooks run as when plexd is root (default " + config.DefaultHooksUser + ")",
	config.KeyTelemetryDisabled:        "send no metrics, logs or audit records to the control plane",
	config.KeyTelemetryMetricsInterval: "time between system, tunnel and latency metric collections (default 60s)",
	config.KeyTelemetryLogsInterval:    "time between journald log batches (default 30s)",
	config.KeyTelemetryAuditInterval:   "time between audit record batches (default 15s)",
	config.KeyTelemetryJournaldUnits:   "systemd units whose journald lines are sent, comma separated (default none: no logs)",
	config.KeyTelemetryAuditLog:        "auditd log tailed when present (default " + config.DefaultTelemetryAuditLog + "; off disables it)",
	config.KeyTelemetryKubeAuditLog:    "Kubernetes API server audit log (JSON lines) tailed for audit records (default none: off)",
	config.KeyTelemetryQueueMax:        "bound of the on-disk telemetry queue; the oldest batches are dropped beyond it (default 64MiB)",
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "plexd",
		Short:         "plexsphere node agent",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			a.running = true
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "config file (default $"+config.EnvConfigFile+" or "+config.DefaultConfigFile+" if present)")
	for _, k := range config.Keys() {
		v := new(string)
		a.flagValues[k] = v
		pf.StringVar(v, k.Flag(), "", flagHelp[k]+" [$"+k.Env()+"]")
	}
	pf.Lookup(config.KeyActionsDisabled.Flag()).NoOptDefVal = "true" // --actions-disabled alone
	pf.Lookup(config.KeyTelemetryDisabled.Flag()).NoOptDefVal = "true"
	a.root = root
	root.AddCommand(a.joinCommand(), a.upCommand(), a.statusCommand(), a.secretsCommand(), a.deregisterCommand(),
		a.installCommand(), a.uninstallCommand(), a.accessSFTPCommand())
	return root
}

// loadConfig decodes the configuration once per invocation.
func (a *app) loadConfig() (*config.Config, error) {
	flags := map[config.Key]string{}
	for k, v := range a.flagValues {
		if f := a.root.PersistentFlags().Lookup(k.Flag()); f != nil && f.Changed {
			flags[k] = *v
		}
	}
	return config.Load(config.Sources{File: a.configFile, Env: a.env.Getenv, Flags: flags})
}

// logger writes JSON logs to stderr at the configured level.
func (a *app) logger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(a.env.Stderr, &slog.HandlerOptions{Level: lvl}))
}
