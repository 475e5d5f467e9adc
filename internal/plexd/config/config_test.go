package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func host() (string, error) { return "sys-host", nil }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plexd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence: every setting comes from the highest layer that sets it.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
server: https://file.example
data_dir: /file/data
hostname: file-host
mode: bridge
heartbeat_interval: 10s
log_level: warn
metadata:
  team: blue
`)
	cfg, err := Load(Sources{
		File: file,
		Env: env(map[string]string{
			"PLEXD_SERVER": "https://env.example", "PLEXD_DATA_DIR": "/env/data", "PLEXD_BOOTSTRAP_TOKEN": "env-token",
		}),
		Flags:    map[Key]string{KeyServer: "https://flag.example/", KeyMode: "node"},
		Hostname: host,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"server":    {cfg.Server, "https://flag.example"}, // flag beats env and file; trailing / trimmed
		"data_dir":  {cfg.DataDir, "/env/data"},           // env beats file
		"hostname":  {cfg.Hostname, "file-host"},          // file beats the system default
		"mode":      {cfg.Mode, "node"},                   // flag beats file
		"token":     {cfg.Token, "env-token"},
		"log_level": {cfg.LogLevel, "warn"},
		"socket":    {cfg.Socket, DefaultSocket}, // default
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", k, v[0], v[1])
		}
	}
	if cfg.HeartbeatInterval != 10*time.Second || cfg.ReconcileInterval != DefaultReconcileInterval {
		t.Errorf("intervals %v %v", cfg.HeartbeatInterval, cfg.ReconcileInterval)
	}
	if cfg.Metadata["team"] != "blue" {
		t.Errorf("metadata %v", cfg.Metadata)
	}
	if cfg.Origin[KeyServer] != LayerFlag || cfg.Origin[KeyDataDir] != LayerEnv || cfg.Origin[KeyHostname] != LayerFile {
		t.Errorf("origins %v", cfg.Origin)
	}
}

// TestNoMandatorySettings: with nothing configured every command that does
// not talk to the control plane still gets a valid config.
func TestNoMandatorySettings(t *testing.T) {
	cfg, err := Load(Sources{File: writeFile(t, ""), Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != DefaultDataDir || cfg.Mode != ModeNode || cfg.Hostname != "sys-host" || cfg.Server != "" {
		t.Errorf("defaults %+v", cfg)
	}
	err = cfg.RequireServer()
	if err == nil || !strings.Contains(err.Error(), "--server") || !strings.Contains(err.Error(), "PLEXD_SERVER") {
		t.Errorf("RequireServer: %v, want the flag and variable named", err)
	}
	// The default file is optional; an explicit one must exist.
	if _, err := Load(Sources{File: filepath.Join(t.TempDir(), "missing.yaml"), Hostname: host}); err == nil {
		t.Error("a missing explicit config file was accepted")
	}
	if _, err := Load(Sources{Env: env(map[string]string{EnvConfigFile: "/nonexistent/x.yaml"}), Hostname: host}); err == nil {
		t.Error("a missing PLEXD_CONFIG file was accepted")
	}
}

func TestValidation(t *testing.T) {
	for name, c := range map[string]struct {
		file  string
		flags map[Key]string
		want  string
	}{
		"unknown key":      {file: "sever: https://x\n", want: "sever"},
		"bad mode":         {flags: map[Key]string{KeyMode: "router"}, want: "mode"},
		"bad url":          {flags: map[Key]string{KeyServer: "ftp://x"}, want: "server"},
		"bad duration":     {flags: map[Key]string{KeyHeartbeatInterval: "soon"}, want: "heartbeat_interval"},
		"negative":         {flags: map[Key]string{KeyReconcileInterval: "-1s"}, want: "reconcile_interval"},
		"bad token":        {flags: map[Key]string{KeyToken: "tab\there"}, want: "token"},
		"bad metadata key": {file: "metadata:\n  \"../x\": y\n", want: "metadata"},
		"bad log level":    {flags: map[Key]string{KeyLogLevel: "loud"}, want: "log_level"},
		"yaml type":        {file: "server: [1]\n", want: "config file"},
		"bad group":        {flags: map[Key]string{KeySecretsGroup: "wheel:0"}, want: "secrets_group"},
		"dash group":       {file: "secrets_group: -x\n", want: "secrets_group"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(Sources{File: writeFile(t, c.file), Flags: c.flags, Hostname: host})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one naming %q", err, c.want)
			}
		})
	}
}

// TestSecretsGroup: the group defaults to plexd-secrets and can be set in
// any layer.
func TestSecretsGroup(t *testing.T) {
	cfg, err := Load(Sources{File: writeFile(t, ""), Hostname: host})
	if err != nil || cfg.SecretsGroup != "plexd-secrets" {
		t.Fatalf("default %q %v", cfg.SecretsGroup, err)
	}
	cfg, err = Load(Sources{File: writeFile(t, "secrets_group: vault-readers\n"), Hostname: host,
		Env: env(map[string]string{"PLEXD_SECRETS_GROUP": "app_secrets"})})
	if err != nil || cfg.SecretsGroup != "app_secrets" || cfg.Origin[KeySecretsGroup] != LayerEnv {
		t.Fatalf("env over file: %q %v", cfg.SecretsGroup, err)
	}
}

func TestEnvNames(t *testing.T) {
	want := map[Key]string{KeyServer: "PLEXD_SERVER", KeyDataDir: "PLEXD_DATA_DIR", KeyToken: "PLEXD_BOOTSTRAP_TOKEN",
		KeyHostname: "PLEXD_HOSTNAME", KeyMode: "PLEXD_MODE", KeyTokenFile: "PLEXD_TOKEN_FILE"}
	for k, v := range want {
		if k.Env() != v {
			t.Errorf("%s.Env() = %s, want %s", k, k.Env(), v)
		}
	}
	if KeyDataDir.Flag() != "data-dir" || KeyTokenFile.Flag() != "token-file" {
		t.Error("flag names")
	}
}

// FuzzParseFile: the config file parser never panics.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("server: https://x\nmetadata:\n  a: b\n"))
	f.Add([]byte("{"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseFile(data)
	})
}
