// Package config is the control plane's typed configuration: decoded once
// from flags > PLEXSPHERE_* environment > an optional YAML file > defaults,
// validated with errors that name the offending key, then passed down.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Config is everything `plexsphere serve` needs.
type Config struct {
	Listen            string `yaml:"listen"`
	DataDir           string `yaml:"data_dir"`
	DatabaseURL       string `yaml:"database_url"`
	MasterKeyFile     string `yaml:"master_key_file"`
	TLSCertFile       string `yaml:"tls_cert_file"`
	TLSKeyFile        string `yaml:"tls_key_file"`
	TLSSelfSigned     bool   `yaml:"tls_self_signed"`
	LogLevel          string `yaml:"log_level"`
	LogFormat         string `yaml:"log_format"`
	TrustProxyHeaders bool   `yaml:"trust_proxy_headers"`
	// TrustedProxies are the proxies (CIDRs or addresses) whose
	// X-Forwarded-For and X-Forwarded-Proto count; the client address is
	// the right-most X-Forwarded-For hop that is not one of them. Setting
	// it turns TrustProxyHeaders on; TrustProxyHeaders alone trusts
	// loopback only.
	TrustedProxies  []string      `yaml:"trusted_proxies"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ReadHeaderTimeout bounds the request headers, ReadBodyTimeout the
	// body (from the start of the request; event streams, which have no
	// body, are unaffected), IdleTimeout a keep-alive connection between
	// requests.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadBodyTimeout   time.Duration `yaml:"read_body_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// PublicURL is the external base URL browsers and IdPs reach this
	// server at; the OIDC callback is <public_url>/v1/auth/callback.
	PublicURL string `yaml:"public_url"`
	// AllowedOrigins is the CSRF Origin allow-list for cookie-authenticated
	// changes (api.md §2.2.1); empty refuses them all.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// PublicRateLimit is the sustained rate of unauthenticated calls
	// (sign-in, device code, service token, register) per client address,
	// per second; 0 disables the limit. PublicBurst is the bucket size.
	PublicRateLimit int `yaml:"public_rate_limit"`
	PublicBurst     int `yaml:"public_burst"`
	// AuditCheckpointEvery and AuditCheckpointInterval: a chain head is
	// signed (a checkpoint) once the chain has grown by that many entries,
	// or that long after its last checkpoint when it has grown at all.
	AuditCheckpointEvery    int           `yaml:"audit_checkpoint_every"`
	AuditCheckpointInterval time.Duration `yaml:"audit_checkpoint_interval"`
	// STUNListen are the UDP addresses the STUN responder serves on (two
	// ports, so a NAT whose mapping depends on the destination port shows
	// as symmetric); empty turns it off. STUNAdvertise are the "host:port"
	// STUN servers nodes are told (state.mesh.stun_servers); empty derives
	// them from the public URL's host (else the listen host) and the
	// STUNListen ports.
	STUNListen    []string `yaml:"stun_listen"`
	STUNAdvertise []string `yaml:"stun_advertise"`
	// MeshKeyRotationInterval is the WireGuard key rotation schedule: a
	// node whose key is older gets a pending rotation (docs/mesh-keys.md);
	// 0 turns the schedule off.
	MeshKeyRotationInterval time.Duration `yaml:"mesh_key_rotation_interval"`

	// SecretsBackend is where secret values live: "embedded" (sealed rows
	// in plexsphere's database under the KEK in KEKFile) or "openbao" (KV
	// v2 at OpenBaoAddr). docs/design/0007-secrets.md.
	SecretsBackend string `yaml:"secrets_backend"`
	// OpenBaoAddr is OpenBao's base URL. Authentication is exactly one of
	// OpenBaoToken (environment PLEXSPHERE_OPENBAO_TOKEN only: never a flag,
	// which ps would show, nor the file), OpenBaoTokenFile, or AppRole
	// (OpenBaoRoleID with OpenBaoSecretIDFile).
	OpenBaoAddr         string `yaml:"openbao_addr"`
	OpenBaoToken        Secret `yaml:"-"`
	OpenBaoTokenFile    string `yaml:"openbao_token_file"`
	OpenBaoRoleID       string `yaml:"openbao_role_id"`
	OpenBaoSecretIDFile string `yaml:"openbao_secret_id_file"`
	OpenBaoNamespace    string `yaml:"openbao_namespace"`
	OpenBaoKVMount      string `yaml:"openbao_kv_mount"`
	OpenBaoKVPrefix     string `yaml:"openbao_kv_prefix"`
	OpenBaoCACert       string `yaml:"openbao_ca_cert"`
	// OpenBaoTransitKey, when set, wraps the master key with that OpenBao
	// Transit key (mount OpenBaoTransitMount); it needs OpenBaoAddr and an
	// authentication method whatever SecretsBackend is.
	OpenBaoTransitMount string `yaml:"openbao_transit_mount"`
	OpenBaoTransitKey   string `yaml:"openbao_transit_key"`
	// SecretsWatchInterval is how often KV metadata is read for versions
	// written outside plexsphere (at least 1s).
	SecretsWatchInterval time.Duration `yaml:"secrets_watch_interval"`
	// NodeLogRetention is how long node log lines and host audit events
	// are kept (issue 15; at least 1h).
	NodeLogRetention time.Duration `yaml:"node_log_retention"`
	// MetricsRetention is how long node metric samples are kept in the
	// embedded TSDB under <data-dir>/tsdb (issue 15; at least 1h).
	MetricsRetention time.Duration `yaml:"metrics_retention"`
	// AlertEvalInterval is how often alert rules are evaluated and their
	// webhook notifications sent (issue 15; at least 1s).
	AlertEvalInterval time.Duration `yaml:"alert_eval_interval"`
	// AlertWebhookAllowPrivate lets alert rules send webhooks to loopback,
	// link-local, private (RFC 1918, ULA), shared (100.64.0.0/10),
	// unspecified and multicast addresses, refused by default (SSRF) at
	// rule changes and at every connection (issue 15).
	AlertWebhookAllowPrivate bool `yaml:"alert_webhook_allow_private"`
	// MetricsRemoteWriteURL, when set, also (or, with MetricsRemoteMode
	// "remote", only) sends ingested node samples there with Prometheus
	// remote-write; MetricsQueryURL, when set, runs metrics queries on that
	// Prometheus HTTP API instead of the embedded TSDB. Both send the
	// bearer token in MetricsRemoteBearerTokenFile (issue 15).
	MetricsRemoteWriteURL        string `yaml:"metrics_remote_write_url"`
	MetricsQueryURL              string `yaml:"metrics_query_url"`
	MetricsRemoteMode            string `yaml:"metrics_remote_mode"`
	MetricsRemoteBearerTokenFile string `yaml:"metrics_remote_bearer_token_file"`
	// LokiPushURL, when set, also pushes node log lines to that Loki push
	// API with the bearer token in LokiBearerTokenFile and LokiTenantID as
	// X-Scope-OrgID (issue 15).
	LokiPushURL         string `yaml:"loki_push_url"`
	LokiBearerTokenFile string `yaml:"loki_bearer_token_file"`
	LokiTenantID        string `yaml:"loki_tenant_id"`
	// AdminTokenMaxTTL bounds the lifetime of an API token an admin
	// issues for another principal (POST /v1/admin/tokens; at least 1h).
	AdminTokenMaxTTL time.Duration `yaml:"admin_token_max_ttl"`
	// StateDriftAfter is how long a node may keep enforcing another policy
	// ruleset than the one it was last sent before it counts as drifted
	// (dispatch skips drifted nodes; at least 10s).
	StateDriftAfter time.Duration `yaml:"state_drift_after"`
	// SecretFetchRate and SecretFetchDomainRate bound node secret fetches
	// per second per node and per Domain (bursts of 4×).
	SecretFetchRate       int `yaml:"secret_fetch_rate"`
	SecretFetchDomainRate int `yaml:"secret_fetch_domain_rate"`
	// KEKFile holds the embedded backend's key-encryption key (default
	// <data-dir>/secrets-kek).
	KEKFile string `yaml:"kek_file"`
	// SessionMaxTTL clamps mediated-access sessions (at most 30m);
	// SessionDefaultTTL is their lifetime when a request names none.
	SessionMaxTTL     time.Duration `yaml:"session_max_ttl"`
	SessionDefaultTTL time.Duration `yaml:"session_default_ttl"`
	// SessionMaxLive bounds a Domain's live sessions; SessionIssueRate its
	// issuances per minute.
	SessionMaxLive   int `yaml:"session_max_live"`
	SessionIssueRate int `yaml:"session_issue_rate"`
	// SessionRecordingMax bounds one ssh recording, in bytes.
	SessionRecordingMax int `yaml:"session_recording_max"`
	// SessionGatewayPort is the session gateway's WireGuard UDP port (0:
	// any free port).
	SessionGatewayPort int `yaml:"session_gateway_port"`
}

// Secret is a configuration string that must not be printed: fmt and slog
// show it redacted; string(s) is the value.
type Secret string

// String redacts.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts (%#v).
func (s Secret) GoString() string { return s.String() }

// LogValue redacts in slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// openBaoTokenEnv is the only place the OpenBao token is read from.
const openBaoTokenEnv = "PLEXSPHERE_OPENBAO_TOKEN"

// Defaults work with zero setup: loopback, a data directory in the working
// directory, SQLite inside it.
func Defaults() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		DataDir:           "plexsphere-data",
		LogLevel:          "info",
		LogFormat:         "text",
		ShutdownTimeout:   15 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		ReadBodyTimeout:   30 * time.Second,
		IdleTimeout:       120 * time.Second,
		PublicRateLimit:   20,
		PublicBurst:       200,

		AuditCheckpointEvery:    1000,
		AuditCheckpointInterval: time.Minute,
		STUNListen:              []string{":3478", ":3479"},

		SecretsBackend:        "embedded",
		OpenBaoKVMount:        "secret",
		OpenBaoKVPrefix:       "plexsphere",
		OpenBaoTransitMount:   "transit",
		SecretsWatchInterval:  30 * time.Second,
		NodeLogRetention:      7 * 24 * time.Hour,
		MetricsRetention:      15 * 24 * time.Hour,
		AlertEvalInterval:     30 * time.Second,
		MetricsRemoteMode:     "both",
		StateDriftAfter:       5 * time.Minute,
		AdminTokenMaxTTL:      90 * 24 * time.Hour,
		SecretFetchRate:       20,
		SecretFetchDomainRate: 2000,

		SessionMaxTTL:       15 * time.Minute,
		SessionDefaultTTL:   10 * time.Minute,
		SessionMaxLive:      100,
		SessionIssueRate:    60,
		SessionRecordingMax: 64 << 20,
	}
}

// field binds one key to its flag, env var and target.
type field struct {
	key  string // yaml key; flag is the same with '-' for '_'
	help string
	ptr  any
}

func (c *Config) fields() []field {
	return []field{
		{"listen", "address to listen on (host:port)", &c.Listen},
		{"data_dir", "directory for the SQLite database, master key and admin token", &c.DataDir},
		{"database_url", "postgres://… URL; empty means SQLite in the data directory", &c.DatabaseURL},
		{"master_key_file", "master key file (default <data-dir>/master.key); replicas must share it", &c.MasterKeyFile},
		{"tls_cert_file", "TLS certificate (PEM)", &c.TLSCertFile},
		{"tls_key_file", "TLS private key (PEM)", &c.TLSKeyFile},
		{"tls_self_signed", "serve TLS with a generated self-signed certificate (labs only)", &c.TLSSelfSigned},
		{"log_level", "debug, info, warn or error", &c.LogLevel},
		{"log_format", "text or json", &c.LogFormat},
		{"trust_proxy_headers", "honour X-Forwarded-For/-Proto from trusted_proxies (loopback when that is empty)", &c.TrustProxyHeaders},
		{"trusted_proxies", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-* headers count", &c.TrustedProxies},
		{"shutdown_timeout", "how long to drain requests on SIGTERM", &c.ShutdownTimeout},
		{"read_header_timeout", "how long a client may take to send the request headers", &c.ReadHeaderTimeout},
		{"read_body_timeout", "how long a client may take to send a request body (408 beyond)", &c.ReadBodyTimeout},
		{"idle_timeout", "how long an idle keep-alive connection stays open", &c.IdleTimeout},
		{"public_url", "external base URL (scheme://host[:port]) of this server, for OIDC redirects", &c.PublicURL},
		{"allowed_origins", "comma-separated Origins allowed to make cookie-authenticated changes (CSRF)", &c.AllowedOrigins},
		{"public_rate_limit", "unauthenticated calls per second per client address (0 = unlimited)", &c.PublicRateLimit},
		{"public_burst", "burst of unauthenticated calls per client address", &c.PublicBurst},
		{"audit_checkpoint_every", "sign an audit chain checkpoint after this many new entries", &c.AuditCheckpointEvery},
		{"audit_checkpoint_interval", "sign an audit chain checkpoint at least this often while the chain grows", &c.AuditCheckpointInterval},
		{"stun_listen", "comma-separated UDP addresses of the STUN responder (empty = off)", &c.STUNListen},
		{"stun_advertise", "comma-separated host:port STUN servers told to nodes (default: public URL host + stun_listen ports)", &c.STUNAdvertise},
		{"mesh_key_rotation_interval", "rotate a node's WireGuard key once it is this old (0 = never on schedule)", &c.MeshKeyRotationInterval},
		{"secrets_backend", "where secret values live: embedded (sealed in the database under kek_file) or openbao (KV v2 at openbao_addr)", &c.SecretsBackend},
		{"openbao_addr", "OpenBao base URL, e.g. https://bao.example:8200; authenticate with the token in env " + openBaoTokenEnv + ", openbao_token_file, or openbao_role_id + openbao_secret_id_file", &c.OpenBaoAddr},
		{"openbao_token_file", "file holding an OpenBao token (re-read when OpenBao refuses the token, e.g. after an agent rotated it)", &c.OpenBaoTokenFile},
		{"openbao_role_id", "OpenBao AppRole role id (with openbao_secret_id_file); the role logs in at auth/approle and again when its token expires", &c.OpenBaoRoleID},
		{"openbao_secret_id_file", "file holding the OpenBao AppRole secret id (read at each login)", &c.OpenBaoSecretIDFile},
		{"openbao_namespace", "OpenBao namespace for every request (empty = the root namespace)", &c.OpenBaoNamespace},
		{"openbao_kv_mount", "OpenBao KV v2 mount holding secret values", &c.OpenBaoKVMount},
		{"openbao_kv_prefix", "path below the KV mount that plexsphere owns: values live at <mount>/data/<prefix>/<domain>/<project>/<name>", &c.OpenBaoKVPrefix},
		{"openbao_ca_cert", "PEM file of CAs trusted for OpenBao's TLS certificate (default: the system roots)", &c.OpenBaoCACert},
		{"secret_fetch_rate", "secret fetches per second per node (burst 4×; beyond: 429 per_node_rate_limited)", &c.SecretFetchRate},
		{"secret_fetch_domain_rate", "secret fetches per second per Domain (burst 4×; beyond: 429 per_domain_rate_limited)", &c.SecretFetchDomainRate},
		{"openbao_transit_mount", "OpenBao Transit mount for openbao_transit_key", &c.OpenBaoTransitMount},
		{"openbao_transit_key", "wrap the master key with this OpenBao Transit key (an existing plain master key file is wrapped in place at start); empty = a plain key file", &c.OpenBaoTransitKey},
		{"secrets_watch_interval", "how often OpenBao KV metadata is read to find versions written outside plexsphere (at least 1s)", &c.SecretsWatchInterval},
		{"node_log_retention", "how long node log lines and host audit events are kept, deleted in bounded batches (at least 1h)", &c.NodeLogRetention},
		{"metrics_retention", "how long node metric samples are kept in the embedded TSDB under <data-dir>/tsdb (at least 1h)", &c.MetricsRetention},
		{"alert_eval_interval", "how often alert rules are evaluated and their webhook notifications sent (at least 1s)", &c.AlertEvalInterval},
		{"alert_webhook_allow_private", "let alert rule webhooks reach loopback, link-local, private (RFC 1918, ULA), 100.64.0.0/10, unspecified and multicast addresses (on-premises receivers; refused by default)", &c.AlertWebhookAllowPrivate},
		{"metrics_remote_write_url", "Prometheus remote-write URL (…/api/v1/write) that ingested node samples are also sent to (empty = off)", &c.MetricsRemoteWriteURL},
		{"metrics_query_url", "base URL of a Prometheus HTTP API (below which /api/v1/query is) that metrics queries are proxied to, confined (empty = the embedded TSDB)", &c.MetricsQueryURL},
		{"metrics_remote_mode", "both (embedded TSDB and remote-write) or remote (remote-write only; needs metrics_query_url)", &c.MetricsRemoteMode},
		{"metrics_remote_bearer_token_file", "file holding the bearer token for metrics_remote_write_url and metrics_query_url (re-read per request)", &c.MetricsRemoteBearerTokenFile},
		{"loki_push_url", "Loki push API URL (…/loki/api/v1/push) that node log lines are also sent to (empty = off)", &c.LokiPushURL},
		{"loki_bearer_token_file", "file holding the bearer token for loki_push_url (re-read per request)", &c.LokiBearerTokenFile},
		{"loki_tenant_id", "X-Scope-OrgID sent to loki_push_url (multi-tenant Loki; empty = none)", &c.LokiTenantID},
		{"admin_token_max_ttl", "longest lifetime of an API token an admin issues for another principal (beyond: 422 ttl_exceeds_policy; at least 1h)", &c.AdminTokenMaxTTL},
		{"state_drift_after", "how long a node may enforce another policy ruleset than the one it was sent before it counts as drifted and executions skip it (at least 10s)", &c.StateDriftAfter},
		{"kek_file", "key-encryption key file of the embedded secrets backend (default <data-dir>/secrets-kek); replicas must share it", &c.KEKFile},
		{"session_max_ttl", "longest mediated-access session (requests above it are clamped; at most 30m)", &c.SessionMaxTTL},
		{"session_default_ttl", "lifetime of a session whose request names none", &c.SessionDefaultTTL},
		{"session_max_live", "live sessions per Domain (beyond: 429 session_limit_exceeded)", &c.SessionMaxLive},
		{"session_issue_rate", "session issuances per minute per Domain (burst 60; beyond: 429 session_limit_exceeded)", &c.SessionIssueRate},
		{"session_recording_max", "largest stored ssh recording in bytes (longer ones are cut and marked truncated)", &c.SessionRecordingMax},
		{"session_gateway_port", "UDP port of the session gateway's WireGuard socket (0 = any free port)", &c.SessionGatewayPort},
	}
}

// BindFlags registers one flag per key, with the defaults as shown values.
func BindFlags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String("config", "", "YAML configuration file (env PLEXSPHERE_CONFIG)")
	for _, f := range d.fields() {
		name, help := strings.ReplaceAll(f.key, "_", "-"), f.help+" (env PLEXSPHERE_"+strings.ToUpper(f.key)+")"
		switch p := f.ptr.(type) {
		case *string:
			fs.String(name, *p, help)
		case *bool:
			fs.Bool(name, *p, help)
		case *time.Duration:
			fs.Duration(name, *p, help)
		case *[]string:
			fs.StringSlice(name, *p, help)
		case *int:
			fs.Int(name, *p, help)
		}
	}
}

// Load decodes the configuration: defaults, then the YAML file, then the
// environment, then flags the user set.
func Load(fs *pflag.FlagSet, env func(string) string) (Config, error) {
	c := Defaults()
	path, _ := fs.GetString("config")
	if !fs.Changed("config") && env("PLEXSPHERE_CONFIG") != "" {
		path = env("PLEXSPHERE_CONFIG")
	}
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return c, err
		}
	}
	if tok := env(openBaoTokenEnv); tok != "" {
		c.OpenBaoToken = Secret(strings.TrimSpace(tok))
	}
	for _, f := range c.fields() {
		name, envName := strings.ReplaceAll(f.key, "_", "-"), "PLEXSPHERE_"+strings.ToUpper(f.key)
		if fs.Changed(name) {
			if err := set(f.ptr, fs.Lookup(name).Value.String()); err != nil {
				return c, fmt.Errorf("config: flag --%s: %w", name, err)
			}
		} else if v := env(envName); v != "" {
			if err := set(f.ptr, v); err != nil {
				return c, fmt.Errorf("config: %s: %w", envName, err)
			}
		}
	}
	return c, c.Validate()
}

func (c *Config) loadFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

func set(ptr any, v string) error {
	switch p := ptr.(type) {
	case *string:
		*p = v
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 15s, got %q", v)
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a whole number ≥ 0, got %q", v)
		}
		*p = n
	case *[]string:
		*p = nil
		for _, o := range strings.Split(strings.Trim(v, "[]"), ",") {
			if o = strings.TrimSpace(o); o != "" {
				*p = append(*p, o)
			}
		}
	}
	return nil
}

// Validate checks every key and fills derived defaults.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen: want host:port, got %q", c.Listen)
	}
	if c.DataDir == "" {
		return errors.New("config: data_dir must not be empty")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("config: database_url must start with postgres:// or postgresql://")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("config: tls_cert_file and tls_key_file go together")
	}
	if c.TLSSelfSigned && c.TLSCertFile != "" {
		return errors.New("config: tls_self_signed excludes tls_cert_file/tls_key_file")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log_level: want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("config: log_format: want text or json, got %q", c.LogFormat)
	}
	if c.PublicRateLimit < 0 || c.PublicBurst < 1 {
		return errors.New("config: public_rate_limit must be ≥ 0 and public_burst ≥ 1")
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("config: shutdown_timeout must be positive")
	}
	if c.ReadHeaderTimeout <= 0 || c.ReadBodyTimeout <= 0 || c.IdleTimeout <= 0 {
		return errors.New("config: read_header_timeout, read_body_timeout and idle_timeout must be positive")
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		return fmt.Errorf("config: trusted_proxies: %w", err)
	}
	switch {
	case len(c.TrustedProxies) > 0:
		c.TrustProxyHeaders = true
	case c.TrustProxyHeaders:
		c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
	}
	for _, l := range append(append([]string{}, c.STUNListen...), c.STUNAdvertise...) {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return fmt.Errorf("config: stun_listen/stun_advertise: want host:port, got %q", l)
		}
	}
	if c.AuditCheckpointEvery < 1 || c.AuditCheckpointInterval <= 0 {
		return errors.New("config: audit_checkpoint_every must be ≥ 1 and audit_checkpoint_interval positive")
	}
	if c.MeshKeyRotationInterval < 0 {
		return errors.New("config: mesh_key_rotation_interval must not be negative (0 turns the schedule off)")
	}
	if c.PublicURL != "" {
		if err := checkOrigin(strings.TrimRight(c.PublicURL, "/")); err != nil {
			return fmt.Errorf("config: public_url: %w", err)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	for i, o := range c.AllowedOrigins {
		o = strings.TrimRight(o, "/")
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("config: allowed_origins: %w", err)
		}
		c.AllowedOrigins[i] = o
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	return c.validateSecrets()
}

// validateSecrets checks the secrets backend and OpenBao keys.
func (c *Config) validateSecrets() error {
	switch c.SecretsBackend {
	case "embedded", "openbao":
	default:
		return fmt.Errorf("config: secrets_backend: want embedded or openbao, got %q", c.SecretsBackend)
	}
	if c.SessionMaxTTL <= 0 || c.SessionMaxTTL > 30*time.Minute || c.SessionDefaultTTL <= 0 || c.SessionDefaultTTL > c.SessionMaxTTL {
		return fmt.Errorf("config: session_max_ttl (%s) must be in (0, 30m] and session_default_ttl (%s) in (0, session_max_ttl]",
			c.SessionMaxTTL, c.SessionDefaultTTL)
	}
	if c.SessionMaxLive < 1 || c.SessionIssueRate < 1 || c.SessionRecordingMax < 1<<10 || c.SessionGatewayPort < 0 || c.SessionGatewayPort > 65535 {
		return fmt.Errorf("config: session_max_live and session_issue_rate must be at least 1, session_recording_max at least 1024, session_gateway_port 0–65535")
	}
	if c.SecretFetchRate < 1 || c.SecretFetchDomainRate < 1 {
		return fmt.Errorf("config: secret_fetch_rate and secret_fetch_domain_rate: want at least 1, got %d and %d",
			c.SecretFetchRate, c.SecretFetchDomainRate)
	}
	if c.AdminTokenMaxTTL < time.Hour {
		return fmt.Errorf("config: admin_token_max_ttl: want at least 1h, got %v", c.AdminTokenMaxTTL)
	}
	if c.StateDriftAfter < 10*time.Second {
		return fmt.Errorf("config: state_drift_after: want at least 10s, got %v", c.StateDriftAfter)
	}
	if c.NodeLogRetention < time.Hour {
		return fmt.Errorf("config: node_log_retention: want at least 1h, got %v", c.NodeLogRetention)
	}
	if c.MetricsRetention < time.Hour {
		return fmt.Errorf("config: metrics_retention: want at least 1h, got %v", c.MetricsRetention)
	}
	if c.AlertEvalInterval < time.Second {
		return fmt.Errorf("config: alert_eval_interval: want at least 1s, got %v", c.AlertEvalInterval)
	}
	if err := c.validateTelemetryPush(); err != nil {
		return err
	}
	if c.SecretsWatchInterval < time.Second {
		return fmt.Errorf("config: secrets_watch_interval: want at least 1s, got %v", c.SecretsWatchInterval)
	}
	if c.KEKFile == "" {
		c.KEKFile = filepath.Join(c.DataDir, "secrets-kek")
	}
	if c.SecretsBackend != "openbao" && c.OpenBaoTransitKey == "" {
		return nil
	}
	user := "secrets_backend openbao"
	if c.SecretsBackend != "openbao" {
		user = "openbao_transit_key"
	}
	if u, err := url.Parse(c.OpenBaoAddr); c.OpenBaoAddr == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("config: openbao_addr: %s needs OpenBao's URL (http(s)://host[:port]), got %q", user, c.OpenBaoAddr)
	}
	n := 0
	for _, set := range []bool{c.OpenBaoToken != "", c.OpenBaoTokenFile != "", c.OpenBaoRoleID != "" || c.OpenBaoSecretIDFile != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("config: openbao_token_file/openbao_role_id: %s needs exactly one OpenBao authentication: env %s, openbao_token_file, or openbao_role_id with openbao_secret_id_file", user, openBaoTokenEnv)
	}
	if (c.OpenBaoRoleID == "") != (c.OpenBaoSecretIDFile == "") {
		return errors.New("config: openbao_role_id and openbao_secret_id_file go together")
	}
	if c.OpenBaoKVMount == "" || c.OpenBaoKVPrefix == "" || c.OpenBaoTransitMount == "" {
		return errors.New("config: openbao_kv_mount, openbao_kv_prefix and openbao_transit_mount must not be empty")
	}
	return nil
}

// TrustedProxyPrefixes is TrustedProxies parsed (Validate checked them).
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	ps, _ := parsePrefixes(c.TrustedProxies)
	return ps
}

// parsePrefixes reads CIDRs, taking a bare address as its own /32 or /128.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("want a CIDR or an IP address, got %q", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// SQLitePath is where the embedded database lives.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "plexsphere.db") }

// AdminTokenPath is where the first-start admin token is written.
func (c *Config) AdminTokenPath() string { return filepath.Join(c.DataDir, "admin-token") }

// checkOrigin accepts scheme://host[:port] with an http or https scheme.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("want scheme://host[:port], got %q", o)
	}
	return nil
}

// validateTelemetryPush checks the remote-write, query proxy and Loki
// push keys (issue 15).
func (c *Config) validateTelemetryPush() error {
	switch c.MetricsRemoteMode {
	case "both", "remote":
	default:
		return fmt.Errorf("config: metrics_remote_mode: want both or remote, got %q", c.MetricsRemoteMode)
	}
	if c.MetricsRemoteMode == "remote" && (c.MetricsRemoteWriteURL == "" || c.MetricsQueryURL == "") {
		return errors.New("config: metrics_remote_mode remote needs metrics_remote_write_url and metrics_query_url")
	}
	for key, v := range map[string]string{"metrics_remote_write_url": c.MetricsRemoteWriteURL,
		"metrics_query_url": c.MetricsQueryURL, "loki_push_url": c.LokiPushURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return fmt.Errorf("config: %s: want an http(s)://host URL, got %q", key, v)
		case u.User != nil:
			return fmt.Errorf("config: %s: no credentials in the URL; use the bearer token file", key)
		}
	}
	return nil
}
