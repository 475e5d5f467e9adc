package plexctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigLifecycle(t *testing.T) {
	h := newHarness(t)
	h.env[envConfig] = ""
	h.env["XDG_CONFIG_HOME"] = t.TempDir()
	path := filepath.Join(h.env["XDG_CONFIG_HOME"], "plexctl", "config.yaml")

	h.ok("config", "set-context", "dev", "--server", "http://localhost:8080", "--token", "psk_dev_one")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %04o, want 0600", st.Mode().Perm())
	}
	if r := h.run("config", "current-context"); r.code != ExitError || !strings.Contains(r.stderr, "no current context") {
		t.Errorf("current-context before use: exit %d, %q", r.code, r.stderr)
	}
	h.ok("config", "set-context", "prod", "--server", "https://p.example.com", "--token-file", "rel.psk", "--use")
	if out := h.ok("config", "current-context").stdout; out != "prod\n" {
		t.Errorf("current-context = %q", out)
	}
	h.ok("config", "use-context", "dev")
	// Changing only the token keeps the server; a token replaces a token file.
	h.ok("config", "set-context", "prod", "--token", "psk_prod_two")

	cfg := readConfigFile(t, path)
	if cfg.CurrentContext != "dev" || len(cfg.Contexts) != 2 {
		t.Fatalf("config = %+v", cfg)
	}
	prod := cfg.find("prod")
	if prod.Server != "https://p.example.com" || prod.Token != "psk_prod_two" || prod.TokenFile != "" {
		t.Errorf("prod = %+v", prod)
	}

	r := h.ok("config", "delete-context", "dev")
	if !strings.Contains(r.stderr, "current context") {
		t.Errorf("deleting the current context gave no warning: %q", r.stderr)
	}
	cfg = readConfigFile(t, path)
	if cfg.CurrentContext != "" || cfg.find("dev") != nil {
		t.Errorf("after delete: %+v", cfg)
	}
	if r := h.run("config", "use-context", "dev"); r.code != ExitError {
		t.Errorf("use-context of a deleted context: exit %d", r.code)
	}
}

func TestSetContextTokenFileIsAbsolute(t *testing.T) {
	h := newHarness(t)
	h.ok("config", "set-context", "x", "--server", "http://localhost", "--token-file", "tok.psk")
	sc := readConfigFile(t, h.cfg).find("x")
	if !filepath.IsAbs(sc.TokenFile) || filepath.Base(sc.TokenFile) != "tok.psk" {
		t.Errorf("token-file = %q", sc.TokenFile)
	}
}

func TestSetContextUsageErrors(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{
		{"config", "set-context", "new"}, // a new context needs --server
		{"config", "set-context", "x", "--server", "ftp://h"},
		{"config", "set-context", "x", "--server", "http://h", "--token", "a", "--token-file", "b"},
		{"config", "set-context", "bad name", "--server", "http://h"},
		{"config", "set-context"},
	} {
		if r := h.run(args...); r.code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, r.code, ExitUsage, r.stderr)
		}
	}
	if _, err := os.Stat(h.cfg); !os.IsNotExist(err) {
		t.Errorf("a failed set-context wrote the config: %v", err)
	}
}

func TestConfigWarnsAboutLoosePermissions(t *testing.T) {
	h := newHarness(t)
	h.writeConfig("contexts:\n  - name: a\n    server: http://h\n    token: psk_x\n")
	if err := os.Chmod(h.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := h.ok("config", "get-contexts"); !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("no warning: %q", r.stderr)
	}
	h.ok("config", "use-context", "a")
	if st, _ := os.Stat(h.cfg); st.Mode().Perm() != 0o600 {
		t.Errorf("rewritten config mode = %04o", st.Mode().Perm())
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, in := range []string{
		"contexts:\n  - name: a\n    server: x\n  - name: a\n    server: y\n",
		"contexts:\n  - name: a\n    token: t\n    token-file: f\n",
		"contexts:\n  - server: x\n",
		"curent-context: a\n",
		"contexts: {}\n",
	} {
		if _, err := parseConfig([]byte(in)); err == nil {
			t.Errorf("parseConfig(%q) accepted", in)
		}
	}
	cfg, err := parseConfig(nil)
	if err != nil || cfg.CurrentContext != "" || len(cfg.Contexts) != 0 {
		t.Errorf("empty config = %+v, %v", cfg, err)
	}
}

// FuzzParseConfig: any accepted config survives a save/parse round trip
// unchanged, and nothing panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("current-context: a\ncontexts:\n  - name: a\n    server: http://h\n    token: psk_1\n"))
	f.Add([]byte("contexts:\n  - name: b\n    server: https://x\n    token-file: /t\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig(data)
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := saveConfig(path, cfg); err != nil {
			t.Fatalf("save: %v", err)
		}
		again := readConfigFile(t, path)
		if again.CurrentContext != cfg.CurrentContext || len(again.Contexts) != len(cfg.Contexts) {
			t.Fatalf("round trip changed the config: %+v -> %+v", cfg, again)
		}
		for i := range cfg.Contexts {
			if again.Contexts[i] != cfg.Contexts[i] {
				t.Fatalf("context %d: %+v -> %+v", i, cfg.Contexts[i], again.Contexts[i])
			}
		}
	})
}

func readConfigFile(t *testing.T, path string) *config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
