package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedenceFlagsEnvFileDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:7000\ndata_dir: /from/file\nlog_level: warn\nshutdown_timeout: 3s\n"), 0o600)
	env := envOf(map[string]string{"PLEXSPHERE_CONFIG": file, "PLEXSPHERE_DATA_DIR": "/from/env", "PLEXSPHERE_LOG_LEVEL": "debug"})
	c, err := Load(flags(t, "--log-level", "error"), env)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Listen: "127.0.0.1:7000", DataDir: "/from/env", LogLevel: "error", LogFormat: "text",
		ShutdownTimeout: 3 * time.Second, MasterKeyFile: "/from/env/master.key", PublicRateLimit: 20, PublicBurst: 200}
	want.AuditCheckpointEvery, want.AuditCheckpointInterval = 1000, time.Minute
	want.STUNListen = []string{":3478", ":3479"}
	want.ReadHeaderTimeout, want.ReadBodyTimeout, want.IdleTimeout = 10*time.Second, 30*time.Second, 2*time.Minute
	want.SecretsBackend, want.SecretsWatchInterval, want.KEKFile = "embedded", 30*time.Second, "/from/env/secrets-kek"
	want.SecretFetchRate, want.SecretFetchDomainRate, want.StateDriftAfter = 20, 2000, 5*time.Minute
	want.AdminTokenMaxTTL = 90 * 24 * time.Hour
	want.MetricsRetention = 15 * 24 * time.Hour
	want.AlertEvalInterval = 30 * time.Second
	want.MetricsRemoteMode = "both"
	want.NodeLogRetention = 7 * 24 * time.Hour
	want.SessionMaxTTL, want.SessionDefaultTTL, want.SessionMaxLive, want.SessionIssueRate, want.SessionRecordingMax = 15*time.Minute, 10*time.Minute, 100, 60, 64<<20
	want.OpenBaoKVMount, want.OpenBaoKVPrefix, want.OpenBaoTransitMount = "secret", "plexsphere", "transit"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	d, err := Load(flags(t), envOf(nil))
	if err != nil || d.Listen != "127.0.0.1:8080" || d.SQLitePath() != filepath.Join("plexsphere-data", "plexsphere.db") {
		t.Fatalf("defaults: %+v %v", d, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:1\nlisten_addr: x\n"), 0o600)
	cases := []struct {
		fs   *pflag.FlagSet
		env  map[string]string
		want string
	}{
		{flags(t, "--config", file), nil, "listen_addr"},
		{flags(t, "--listen", "nope"), nil, "listen"},
		{flags(t), map[string]string{"PLEXSPHERE_TLS_SELF_SIGNED": "maybe"}, "PLEXSPHERE_TLS_SELF_SIGNED"},
		{flags(t, "--database-url", "mysql://x"), nil, "database_url"},
		{flags(t, "--tls-cert-file", "c.pem"), nil, "tls_cert_file"},
		{flags(t, "--log-format", "xml"), nil, "log_format"},
	}
	for _, c := range cases {
		_, err := Load(c.fs, envOf(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
	}
}

func TestAllowedOriginsAndPublicURL(t *testing.T) {
	env := envOf(map[string]string{"PLEXSPHERE_ALLOWED_ORIGINS": "https://a.example, http://localhost:8080/",
		"PLEXSPHERE_PUBLIC_URL": "https://ps.example/"})
	c, err := Load(flags(t), env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AllowedOrigins, []string{"https://a.example", "http://localhost:8080"}) || c.PublicURL != "https://ps.example" {
		t.Fatalf("got %q %q", c.AllowedOrigins, c.PublicURL)
	}
	for _, bad := range []string{"ftp://x", "https://a.example/path", "a.example"} {
		if _, err := Load(flags(t, "--allowed-origins", bad), envOf(nil)); err == nil || !strings.Contains(err.Error(), "allowed_origins") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Issue 7 row 14: trusted_proxies takes CIDRs and addresses and turns proxy
// headers on; trust_proxy_headers alone trusts loopback only; anything else
// is refused naming the key.
func TestTrustedProxies(t *testing.T) {
	c, err := Load(flags(t), envOf(map[string]string{"PLEXSPHERE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,::ffff:198.51.100.0/120"}))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.TrustedProxyPrefixes())
	if !c.TrustProxyHeaders || got != "[10.0.0.0/8 192.0.2.7/32 198.51.100.0/24]" {
		t.Fatalf("trusted proxies %s, trust %v", got, c.TrustProxyHeaders)
	}
	c, err = Load(flags(t, "--trust-proxy-headers"), envOf(nil))
	if err != nil || fmt.Sprint(c.TrustedProxyPrefixes()) != "[127.0.0.0/8 ::1/128]" {
		t.Fatalf("trust_proxy_headers alone: %v %v", c.TrustedProxyPrefixes(), err)
	}
	if c, _ = Load(flags(t), envOf(nil)); len(c.TrustedProxyPrefixes()) != 0 || c.TrustProxyHeaders {
		t.Fatalf("default trusts %v", c.TrustedProxyPrefixes())
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example"} {
		if _, err := Load(flags(t, "--trusted-proxies", bad), envOf(nil)); err == nil || !strings.Contains(err.Error(), "trusted_proxies") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Load(flags(t, "--read-body-timeout", "0s"), envOf(nil)); err == nil || !strings.Contains(err.Error(), "read_body_timeout") {
		t.Errorf("zero read_body_timeout: %v", err)
	}
}

// Issue 11: the secrets backend and OpenBao settings follow flags > env >
// file; the OpenBao token comes from the environment only and never prints.
func TestOpenBaoSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("secrets_backend: openbao\nopenbao_addr: https://file.example:8200\nopenbao_kv_prefix: from-file\nsecrets_watch_interval: 5s\n"), 0o600)
	env := envOf(map[string]string{"PLEXSPHERE_CONFIG": file, "PLEXSPHERE_OPENBAO_ADDR": "https://env.example:8200",
		"PLEXSPHERE_OPENBAO_TOKEN": " s.env-token\n", "PLEXSPHERE_OPENBAO_NAMESPACE": "team-a"})
	c, err := Load(flags(t, "--openbao-kv-mount", "kv", "--openbao-transit-key", "plexsphere-master"), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretsBackend != "openbao" || c.OpenBaoAddr != "https://env.example:8200" || string(c.OpenBaoToken) != "s.env-token" ||
		c.OpenBaoNamespace != "team-a" || c.OpenBaoKVMount != "kv" || c.OpenBaoKVPrefix != "from-file" ||
		c.OpenBaoTransitMount != "transit" || c.OpenBaoTransitKey != "plexsphere-master" || c.SecretsWatchInterval != 5*time.Second {
		t.Fatalf("got %+v", c)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "token", c.OpenBaoToken, "config", c)
	for _, shown := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.OpenBaoToken), logs.String()} {
		if strings.Contains(shown, "s.env-token") {
			t.Fatalf("the token prints: %s", shown)
		}
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	BindFlags(fs)
	if fs.Lookup("openbao-token") != nil {
		t.Error("a flag takes the OpenBao token")
	}
	for _, name := range []string{"openbao-addr", "openbao-token-file", "openbao-role-id", "openbao-secret-id-file", "openbao-namespace",
		"openbao-kv-mount", "openbao-kv-prefix", "openbao-transit-mount", "openbao-transit-key", "openbao-ca-cert",
		"secrets-backend", "secrets-watch-interval", "kek-file"} {
		if f := fs.Lookup(name); f == nil || !strings.Contains(f.Usage, "PLEXSPHERE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))) {
			t.Errorf("flag --%s missing or without its env name", name)
		}
	}
	os.WriteFile(file, []byte("openbao_token: s.in-file\n"), 0o600)
	if _, err := Load(flags(t, "--config", file), envOf(nil)); err == nil || !strings.Contains(err.Error(), "openbao_token") {
		t.Errorf("a token in the file: %v", err)
	}
}

func TestOpenBaoValidation(t *testing.T) {
	tok := map[string]string{"PLEXSPHERE_OPENBAO_TOKEN": "s.t"}
	cases := []struct {
		args []string
		env  map[string]string
		want string // "" = valid
	}{
		{[]string{"--secrets-backend", "vault"}, nil, "secrets_backend"},
		{[]string{"--secrets-backend", "openbao"}, tok, "openbao_addr"},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "bao:8200"}, tok, "openbao_addr"},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200"}, nil, "exactly one"},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200", "--openbao-token-file", "/t"}, tok, "exactly one"},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200", "--openbao-role-id", "r"}, nil, "openbao_secret_id_file"},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200", "--openbao-secret-id-file", "/s"}, nil, "openbao_role_id"},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200", "--openbao-role-id", "r", "--openbao-secret-id-file", "/s"}, nil, ""},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200", "--openbao-token-file", "/t"}, nil, ""},
		{[]string{"--secrets-backend", "openbao", "--openbao-addr", "https://bao:8200"}, tok, ""},
		{[]string{"--openbao-transit-key", "mk"}, tok, "openbao_transit_key needs"},
		{[]string{"--openbao-transit-key", "mk", "--openbao-addr", "https://bao:8200"}, tok, ""},
		{[]string{"--secrets-watch-interval", "500ms"}, nil, "secrets_watch_interval"},
		{nil, nil, ""},
	}
	for _, c := range cases {
		_, err := Load(flags(t, c.args...), envOf(c.env))
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v %v: %v, want %q", c.args, c.env, err, c.want)
		}
	}
	c, err := Load(flags(t, "--kek-file", "/keys/kek"), envOf(nil))
	if err != nil || c.KEKFile != "/keys/kek" {
		t.Errorf("kek_file flag: %q %v", c.KEKFile, err)
	}
}

// TestAlertWebhookAllowPrivate: off by default; the file, the environment
// and the flag turn it on, a flag set to false wins over the environment.
func TestAlertWebhookAllowPrivate(t *testing.T) {
	if c, err := Load(flags(t), envOf(nil)); err != nil || c.AlertWebhookAllowPrivate {
		t.Fatalf("default: %v %v", c.AlertWebhookAllowPrivate, err)
	}
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("alert_webhook_allow_private: true\n"), 0o600)
	if c, err := Load(flags(t, "--config", file), envOf(nil)); err != nil || !c.AlertWebhookAllowPrivate {
		t.Fatalf("file: %v %v", c.AlertWebhookAllowPrivate, err)
	}
	env := envOf(map[string]string{"PLEXSPHERE_ALERT_WEBHOOK_ALLOW_PRIVATE": "true"})
	if c, err := Load(flags(t), env); err != nil || !c.AlertWebhookAllowPrivate {
		t.Fatalf("env: %v %v", c.AlertWebhookAllowPrivate, err)
	}
	if c, err := Load(flags(t, "--alert-webhook-allow-private=false"), env); err != nil || c.AlertWebhookAllowPrivate {
		t.Fatalf("flag: %v %v", c.AlertWebhookAllowPrivate, err)
	}
	if _, err := Load(flags(t), envOf(map[string]string{"PLEXSPHERE_ALERT_WEBHOOK_ALLOW_PRIVATE": "maybe"})); err == nil ||
		!strings.Contains(err.Error(), "ALERT_WEBHOOK_ALLOW_PRIVATE") {
		t.Fatalf("bad env: %v", err)
	}
}
