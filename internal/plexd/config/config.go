// Package config owns plexd's configuration: the typed Config every command
// receives, decoded once from three layers (a YAML file, PLEXD_* environment
// variables and command-line flags, later layers winning), validated, and
// defaulted in one place. Nothing else in plexd reads the environment.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Modes plexd runs in (§1, DESIGN §2).
const (
	ModeNode   = "node"
	ModeBridge = "bridge"
)

// Defaults of a Config.
const (
	DefaultDataDir           = "/var/lib/plexd"
	DefaultSocket            = "/var/run/plexd/api.sock"
	DefaultUnitPath          = "/etc/systemd/system/plexd.service"
	DefaultConfigFile        = "/etc/plexd/config.yaml"
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultReconcileInterval = 60 * time.Second
	DefaultLogLevel          = "info"
	// DefaultSecretsGroup may read secret values through the local API
	// besides root and plexd's own user (§12.8).
	DefaultSecretsGroup = "plexd-secrets"
	// BackendAuto lets plexd pick the WireGuard backend.
	BackendAuto = "auto"
	// DefaultAccessRecordingMax bounds one ssh session recording.
	DefaultAccessRecordingMax = 16 << 20
)

// maxFileSize bounds the config file plexd is willing to parse.
const maxFileSize = 1 << 20

// Key names one setting. The same name is the YAML key; the flag is the
// name with "_" replaced by "-"; the environment variable is PLEXD_ and the
// upper-cased name, except for Token (PLEXD_BOOTSTRAP_TOKEN).
type Key string

// The settings.
const (
	KeyServer            Key = "server"
	KeyDataDir           Key = "data_dir"
	KeyToken             Key = "token"
	KeyTokenFile         Key = "token_file"
	KeyHostname          Key = "hostname"
	KeyMode              Key = "mode"
	KeySocket            Key = "socket"
	KeyHeartbeatInterval Key = "heartbeat_interval"
	KeyReconcileInterval Key = "reconcile_interval"
	KeyUnitPath          Key = "unit_path"
	KeyLogLevel          Key = "log_level"
	KeyAPITCP            Key = "api_tcp"
	KeyAPITokenFile      Key = "api_token_file"
	KeyWireGuardBackend  Key = "wireguard_backend"
	KeySecretsGroup      Key = "secrets_group"
	// Access listener (docs/design/0008-access.md).
	KeyAccessPort          Key = "access_port"
	KeyAccessSSHUsers      Key = "access_ssh_users"
	KeyAccessKubeAPI       Key = "access_kube_api"
	KeyAccessKubeTokenFile Key = "access_kube_token_file"
	KeyAccessKubeCAFile    Key = "access_kube_ca_file"
	KeyAccessRecordingMax  Key = "access_recording_max"
)

// Keys lists every setting in documentation order.
func Keys() []Key {
	return []Key{KeyServer, KeyDataDir, KeyToken, KeyTokenFile, KeyHostname, KeyMode, KeySocket,
		KeyHeartbeatInterval, KeyReconcileInterval, KeyUnitPath, KeyLogLevel, KeyAPITCP, KeyAPITokenFile, KeyWireGuardBackend,
		KeySecretsGroup, KeyAccessPort, KeyAccessSSHUsers, KeyAccessKubeAPI, KeyAccessKubeTokenFile, KeyAccessKubeCAFile,
		KeyAccessRecordingMax, KeyActionsDisabled, KeyActionsServiceAllow, KeyActionsFileAllow, KeyHooksDir, KeyHooksUser,
		KeyTelemetryDisabled, KeyTelemetryMetricsInterval, KeyTelemetryLogsInterval, KeyTelemetryAuditInterval,
		KeyTelemetryJournaldUnits, KeyTelemetryAuditLog, KeyTelemetryKubeAuditLog, KeyTelemetryQueueMax}
}

// Flag is the command-line flag of k, without dashes.
func (k Key) Flag() string { return strings.ReplaceAll(string(k), "_", "-") }

// Env is the environment variable of k.
func (k Key) Env() string {
	if k == KeyToken {
		return "PLEXD_BOOTSTRAP_TOKEN"
	}
	return "PLEXD_" + strings.ToUpper(string(k))
}

// EnvConfigFile names the config file when --config is not given.
const EnvConfigFile = "PLEXD_CONFIG"

// Config is plexd's validated configuration.
type Config struct {
	// Server is the control plane's base URL; required by join, up and
	// deregister, and checked by RequireServer.
	Server string
	// DataDir holds the identity and the stream cursor (mode 0700).
	DataDir string
	// Token is the bootstrap token given inline. Never log it.
	Token string
	// TokenFile names a file holding the bootstrap token.
	TokenFile string
	// Hostname is reported at registration.
	Hostname string
	// Mode is ModeNode or ModeBridge.
	Mode string
	// Socket is the local node API's Unix socket path (§12.8).
	Socket string
	// HeartbeatInterval is the time between heartbeats (§5.2).
	HeartbeatInterval time.Duration
	// ReconcileInterval is the time between state pulls (§9.2).
	ReconcileInterval time.Duration
	// UnitPath is where install writes the systemd unit.
	UnitPath string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// APITCP is an optional loopback address for the local API over TCP
	// (§12.8, e.g. 127.0.0.1:9100); "" disables it.
	APITCP string
	// APITokenFile holds the bearer token of the TCP API; required with APITCP.
	APITokenFile string
	// WireGuardBackend is auto, kernel, userspace or netstack (default
	// auto: kernel when the module exists, else userspace when a TUN
	// device can be created, else netstack).
	WireGuardBackend string
	// SecretsGroup is the group whose members may read secret values
	// through the local API, besides root and plexd's own user.
	SecretsGroup string
	// Access configures the access listener on the mesh IP.
	Access Access
	// Actions configures action requests and hooks.
	Actions Actions
	// Telemetry configures the metrics, logs and audit collectors.
	Telemetry Telemetry
	// Metadata are operator labels sent at registration (§4.1); file only.
	Metadata map[string]string
	// File is the config file that was read, "" when none.
	File string
	// Origin names the layer each explicitly set value came from:
	// LayerFlag, LayerEnv or LayerFile. Unset keys are absent.
	Origin map[Key]Layer
}

// Access is the access listener's configuration.
type Access struct {
	// Port is the TCP port on the mesh IP (default
	// nodeproto.DefaultAccessPort; 0 disables the listener).
	Port int
	// SSHUsers maps a session's target user to a local account; empty
	// refuses every ssh session. Written "user" or "user=local", comma
	// separated (a YAML list in the file).
	SSHUsers map[string]string
	// KubeAPI is the node's Kubernetes API base URL ("" refuses k8s
	// sessions); KubeTokenFile and KubeCAFile are plexd's credential and
	// the API's CA bundle.
	KubeAPI, KubeTokenFile, KubeCAFile string
	// RecordingMax bounds one ssh recording in bytes.
	RecordingMax int64
}

// Layer is one configuration source, ordered by precedence.
type Layer int

// The layers, lowest precedence first.
const (
	LayerFile Layer = iota + 1
	LayerEnv
	LayerFlag
)

func (l Layer) String() string {
	switch l {
	case LayerFile:
		return "config file"
	case LayerEnv:
		return "environment"
	case LayerFlag:
		return "flag"
	}
	return "default"
}

// Sources are the three layers, lowest precedence first.
type Sources struct {
	// File is the config file path: explicit (--config or PLEXD_CONFIG,
	// must exist) or "" for DefaultConfigFile (read only if present).
	File string
	// Env looks up environment variables; nil reads none.
	Env func(string) string
	// Flags holds the flags the user set, keyed by setting.
	Flags map[Key]string
	// Hostname supplies the default hostname; os.Hostname when nil.
	Hostname func() (string, error)
}

// fileConfig is the YAML form. Unknown keys are an error.
type fileConfig struct {
	Server            string            `yaml:"server"`
	DataDir           string            `yaml:"data_dir"`
	Token             string            `yaml:"token"`
	TokenFile         string            `yaml:"token_file"`
	Hostname          string            `yaml:"hostname"`
	Mode              string            `yaml:"mode"`
	Socket            string            `yaml:"socket"`
	HeartbeatInterval string            `yaml:"heartbeat_interval"`
	ReconcileInterval string            `yaml:"reconcile_interval"`
	UnitPath          string            `yaml:"unit_path"`
	LogLevel          string            `yaml:"log_level"`
	APITCP            string            `yaml:"api_tcp"`
	APITokenFile      string            `yaml:"api_token_file"`
	WireGuardBackend  string            `yaml:"wireguard_backend"`
	SecretsGroup      string            `yaml:"secrets_group"`
	AccessPort        string            `yaml:"access_port"`
	AccessSSHUsers    listValue         `yaml:"access_ssh_users"`
	AccessKubeAPI     string            `yaml:"access_kube_api"`
	AccessKubeToken   string            `yaml:"access_kube_token_file"`
	AccessKubeCA      string            `yaml:"access_kube_ca_file"`
	AccessRecording   string            `yaml:"access_recording_max"`
	ActionsDisabled   string            `yaml:"actions_disabled"`
	ActionsService    listValue         `yaml:"actions_service_allow"`
	ActionsFile       listValue         `yaml:"actions_file_allow"`
	HooksDir          string            `yaml:"hooks_dir"`
	HooksUser         string            `yaml:"hooks_user"`
	TelemetryDisabled string            `yaml:"telemetry_disabled"`
	TelemetryMetrics  string            `yaml:"telemetry_metrics_interval"`
	TelemetryLogs     string            `yaml:"telemetry_logs_interval"`
	TelemetryAudit    string            `yaml:"telemetry_audit_interval"`
	TelemetryUnits    listValue         `yaml:"telemetry_journald_units"`
	TelemetryAuditLog string            `yaml:"telemetry_audit_log"`
	TelemetryKubeLog  string            `yaml:"telemetry_kube_audit_log"`
	TelemetryQueueMax string            `yaml:"telemetry_queue_max"`
	Metadata          map[string]string `yaml:"metadata"`
}

// listValue is a comma-separated list given as a YAML string or sequence.
type listValue string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *listValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var items []string
		if err := n.Decode(&items); err != nil {
			return err
		}
		*l = listValue(strings.Join(items, ","))
		return nil
	}
	var v string
	if err := n.Decode(&v); err != nil {
		return err
	}
	*l = listValue(v)
	return nil
}

func (f *fileConfig) values() map[Key]string {
	return map[Key]string{
		KeyServer: f.Server, KeyDataDir: f.DataDir, KeyToken: f.Token, KeyTokenFile: f.TokenFile,
		KeyHostname: f.Hostname, KeyMode: f.Mode, KeySocket: f.Socket,
		KeyHeartbeatInterval: f.HeartbeatInterval, KeyReconcileInterval: f.ReconcileInterval,
		KeyUnitPath: f.UnitPath, KeyLogLevel: f.LogLevel, KeyAPITCP: f.APITCP, KeyAPITokenFile: f.APITokenFile,
		KeyWireGuardBackend: f.WireGuardBackend, KeySecretsGroup: f.SecretsGroup,
		KeyAccessPort: f.AccessPort, KeyAccessSSHUsers: string(f.AccessSSHUsers), KeyAccessKubeAPI: f.AccessKubeAPI,
		KeyAccessKubeTokenFile: f.AccessKubeToken, KeyAccessKubeCAFile: f.AccessKubeCA, KeyAccessRecordingMax: f.AccessRecording,
		KeyActionsDisabled: f.ActionsDisabled, KeyActionsServiceAllow: string(f.ActionsService),
		KeyActionsFileAllow: string(f.ActionsFile), KeyHooksDir: f.HooksDir, KeyHooksUser: f.HooksUser,
		KeyTelemetryDisabled: f.TelemetryDisabled, KeyTelemetryMetricsInterval: f.TelemetryMetrics,
		KeyTelemetryLogsInterval: f.TelemetryLogs, KeyTelemetryAuditInterval: f.TelemetryAudit,
		KeyTelemetryJournaldUnits: string(f.TelemetryUnits), KeyTelemetryAuditLog: f.TelemetryAuditLog,
		KeyTelemetryKubeAuditLog: f.TelemetryKubeLog, KeyTelemetryQueueMax: f.TelemetryQueueMax,
	}
}

// parseFile decodes a config file. An empty file is valid: no setting is
// mandatory in the file.
func parseFile(data []byte) (*fileConfig, error) {
	fc := &fileConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return fc, nil
}

// Load merges the layers (flags > env > file > defaults) and validates the
// result.
func Load(src Sources) (*Config, error) {
	merged := map[Key]string{}
	cfg := &Config{Origin: map[Key]Layer{}}
	path, explicit := src.File, src.File != ""
	if !explicit && src.Env != nil && src.Env(EnvConfigFile) != "" {
		path, explicit = src.Env(EnvConfigFile), true
	}
	if !explicit {
		path = DefaultConfigFile
	}
	fc, err := readFile(path, explicit)
	if err != nil {
		return nil, err
	}
	if fc != nil {
		cfg.File = path
		cfg.Metadata = fc.Metadata
		for k, v := range fc.values() {
			if v != "" {
				merged[k], cfg.Origin[k] = v, LayerFile
			}
		}
	}
	for _, k := range Keys() {
		if src.Env == nil {
			break
		}
		if v := src.Env(k.Env()); v != "" {
			merged[k], cfg.Origin[k] = v, LayerEnv
		}
	}
	for k, v := range src.Flags {
		merged[k], cfg.Origin[k] = v, LayerFlag
	}
	if err := cfg.apply(merged, src.Hostname); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readFile(path string, explicit bool) (*fileConfig, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config file %s: larger than %d bytes", path, maxFileSize)
	}
	fc, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

// apply fills c from merged values and defaults, then validates.
func (c *Config) apply(v map[Key]string, hostname func() (string, error)) error {
	c.Server = strings.TrimRight(v[KeyServer], "/")
	c.DataDir = or(v[KeyDataDir], DefaultDataDir)
	c.Token = strings.TrimSpace(v[KeyToken])
	c.TokenFile = v[KeyTokenFile]
	c.Mode = or(v[KeyMode], ModeNode)
	c.Socket = or(v[KeySocket], DefaultSocket)
	c.UnitPath = or(v[KeyUnitPath], DefaultUnitPath)
	c.LogLevel = or(v[KeyLogLevel], DefaultLogLevel)
	c.APITCP, c.APITokenFile = v[KeyAPITCP], v[KeyAPITokenFile]
	c.WireGuardBackend = or(v[KeyWireGuardBackend], BackendAuto)
	c.SecretsGroup = or(v[KeySecretsGroup], DefaultSecretsGroup)
	c.Hostname = v[KeyHostname]
	if c.Hostname == "" {
		if hostname == nil {
			hostname = os.Hostname
		}
		h, err := hostname()
		if err != nil {
			return fmt.Errorf("config: hostname not set and not discoverable: %w", err)
		}
		c.Hostname = h
	}
	var err error
	if c.HeartbeatInterval, err = duration(v, KeyHeartbeatInterval, DefaultHeartbeatInterval); err != nil {
		return err
	}
	if c.ReconcileInterval, err = duration(v, KeyReconcileInterval, DefaultReconcileInterval); err != nil {
		return err
	}
	if c.Access, err = parseAccess(v); err != nil {
		return err
	}
	if c.Actions, err = parseActions(v, c.File); err != nil {
		return err
	}
	if c.Telemetry, err = parseTelemetry(v); err != nil {
		return err
	}
	return c.validate()
}

func (c *Config) validate() error {
	if c.Server != "" {
		u, err := url.Parse(c.Server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: %s: %q is not an http(s) URL", KeyServer, c.Server)
		}
	}
	if c.Mode != ModeNode && c.Mode != ModeBridge {
		return fmt.Errorf("config: %s: %q is neither %q nor %q", KeyMode, c.Mode, ModeNode, ModeBridge)
	}
	if c.Token != "" && !nodeproto.ValidBootstrapToken(c.Token) {
		return fmt.Errorf("config: %s: not 1-512 printable ASCII characters", KeyToken)
	}
	if c.APITCP != "" && c.APITokenFile == "" {
		return fmt.Errorf("config: %s needs %s", KeyAPITCP, KeyAPITokenFile)
	}
	switch c.WireGuardBackend {
	case BackendAuto, "kernel", "userspace", "netstack":
	default:
		return fmt.Errorf("config: %s: %q is not auto, kernel, userspace or netstack", KeyWireGuardBackend, c.WireGuardBackend)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: %s: %q is not debug, info, warn or error", KeyLogLevel, c.LogLevel)
	}
	if !validGroupName(c.SecretsGroup) {
		return fmt.Errorf("config: %s: %q is not a group name", KeySecretsGroup, c.SecretsGroup)
	}
	for k := range c.Metadata {
		if !nodeproto.ValidDataKey(k) {
			return fmt.Errorf("config: metadata key %q is not an ID", k)
		}
	}
	return nil
}

// RequireServer reports an error naming the setting when Server is unset.
func (c *Config) RequireServer() error {
	if c.Server == "" {
		return fmt.Errorf("config: %s is required (--%s, %s or %q in the config file)",
			KeyServer, KeyServer.Flag(), KeyServer.Env(), KeyServer)
	}
	return nil
}

func duration(v map[Key]string, k Key, def time.Duration) (time.Duration, error) {
	s := v[k]
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config: %s: %q is not a positive duration", k, s)
	}
	return d, nil
}

// validGroupName accepts the portable user and group names of POSIX plus
// the shadow-utils habits: letters, digits, '.', '_', '-', not starting
// with '-', at most 32 characters.
func validGroupName(g string) bool {
	if g == "" || len(g) > 32 || g[0] == '-' {
		return false
	}
	for _, c := range g {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
