package plexd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/plexd/config"
)

// UnitName is the systemd service plexd installs.
const UnitName = "plexd.service"

func (a *app) installCommand() *cobra.Command {
	var noStart bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Write the systemd unit that runs plexd up, and enable it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			exe := a.env.Executable
			if exe == "" {
				if exe, err = os.Executable(); err != nil {
					return fmt.Errorf("install: locating the plexd binary: %w", err)
				}
			}
			unit, err := UnitFile(exe, cfg)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(cfg.UnitPath, []byte(unit), 0o644); err != nil {
				return fmt.Errorf("install: %w", err)
			}
			fmt.Fprintf(a.env.Stdout, "wrote %s\n", cfg.UnitPath)
			if noStart {
				return nil
			}
			if err := a.env.Systemctl(cmd.Context(), "daemon-reload"); err != nil {
				return err
			}
			if err := a.env.Systemctl(cmd.Context(), "enable", "--now", filepath.Base(cfg.UnitPath)); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "enabled and started %s\n", filepath.Base(cfg.UnitPath))
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStart, "no-start", false, "only write the unit file; do not call systemctl")
	return cmd
}

func (a *app) uninstallCommand() *cobra.Command {
	var noStop bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Stop and disable plexd and remove its systemd unit (the identity stays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			name := filepath.Base(cfg.UnitPath)
			if !noStop {
				// A unit that is not loaded is not an error here.
				a.env.Systemctl(cmd.Context(), "disable", "--now", name)
			}
			if err := os.Remove(cfg.UnitPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("uninstall: %w", err)
			}
			fmt.Fprintf(a.env.Stdout, "removed %s\n", cfg.UnitPath)
			if !noStop {
				if err := a.env.Systemctl(cmd.Context(), "daemon-reload"); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStop, "no-stop", false, "only remove the unit file; do not call systemctl")
	return cmd
}

// UnitFile renders the systemd unit for exe with cfg's explicit settings
// as flags. The bootstrap token is never written: join first, or give the
// unit a token file.
func UnitFile(exe string, cfg *config.Config) (string, error) {
	if !filepath.IsAbs(exe) {
		return "", fmt.Errorf("install: binary path %q is not absolute", exe)
	}
	args := []string{quoteArg(exe), "up"}
	if cfg.File != "" {
		args = append(args, "--config", quoteArg(cfg.File))
	}
	values := map[config.Key]string{
		config.KeyServer: cfg.Server, config.KeyDataDir: cfg.DataDir, config.KeyTokenFile: cfg.TokenFile,
		config.KeyHostname: cfg.Hostname, config.KeyMode: cfg.Mode, config.KeySocket: cfg.Socket,
		config.KeyLogLevel: cfg.LogLevel, config.KeyAPITCP: cfg.APITCP, config.KeyAPITokenFile: cfg.APITokenFile,
		config.KeyWireGuardBackend: cfg.WireGuardBackend, config.KeySecretsGroup: cfg.SecretsGroup,
		config.KeyAccessPort: strconv.Itoa(cfg.Access.Port), config.KeyAccessSSHUsers: sshUsersArg(cfg.Access.SSHUsers),
		config.KeyAccessKubeAPI: cfg.Access.KubeAPI, config.KeyAccessKubeTokenFile: cfg.Access.KubeTokenFile,
		config.KeyAccessKubeCAFile: cfg.Access.KubeCAFile, config.KeyAccessRecordingMax: strconv.FormatInt(cfg.Access.RecordingMax, 10),
		config.KeyActionsDisabled: strconv.FormatBool(cfg.Actions.Disabled), config.KeyHooksDir: cfg.Actions.HooksDir,
		config.KeyActionsServiceAllow: strings.Join(cfg.Actions.ServiceAllow, ","), config.KeyHooksUser: cfg.Actions.HooksUser,
		config.KeyActionsFileAllow: strings.Join(cfg.Actions.FileAllow, ","),
	}
	for _, k := range config.Keys() {
		v, ok := values[k]
		if !ok || cfg.Origin[k] == 0 || cfg.Origin[k] == config.LayerFile {
			continue // defaults and file settings are read at start
		}
		args = append(args, "--"+k.Flag(), quoteArg(v))
	}
	for _, k := range []config.Key{config.KeyHeartbeatInterval, config.KeyReconcileInterval} {
		if o := cfg.Origin[k]; o != 0 && o != config.LayerFile {
			d := cfg.HeartbeatInterval
			if k == config.KeyReconcileInterval {
				d = cfg.ReconcileInterval
			}
			args = append(args, "--"+k.Flag(), d.String())
		}
	}
	return fmt.Sprintf(`[Unit]
Description=plexsphere node agent (plexd)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=%s
Restart=on-failure
RestartSec=5s
RuntimeDirectory=plexd
RuntimeDirectoryMode=0755
UMask=0077

[Install]
WantedBy=multi-user.target
`, strings.Join(args, " ")), nil
}

// sshUsersArg renders access_ssh_users back to its flag form, sorted.
func sshUsersArg(m map[string]string) string {
	items := make([]string, 0, len(m))
	for target, local := range m {
		if target == local {
			items = append(items, target)
		} else {
			items = append(items, target+"="+local)
		}
	}
	slices.Sort(items)
	return strings.Join(items, ",")
}

// quoteArg quotes a systemd ExecStart argument when it needs it.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
