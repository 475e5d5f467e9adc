package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestActionsDefaults(t *testing.T) {
	file := writeFile(t, "")
	cfg, err := Load(Sources{File: file, Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Actions
	if a.Disabled || len(a.ServiceAllow) != 0 || len(a.FileAllow) != 0 || a.HooksUser != DefaultHooksUser ||
		a.HooksDir != filepath.Join(filepath.Dir(file), "hooks.d") {
		t.Errorf("defaults %+v", a)
	}
	cfg, err = Load(Sources{File: "", Hostname: host, Env: env(map[string]string{})})
	if err != nil {
		t.Skipf("no default config: %v", err)
	}
	if cfg.File == "" && cfg.Actions.HooksDir != "/etc/plexd/hooks.d" {
		t.Errorf("hooks dir without a config file: %s", cfg.Actions.HooksDir)
	}
}

// TestActionsLayers: YAML lists and bools in the file, strings in the
// environment and flags, flags winning.
func TestActionsLayers(t *testing.T) {
	file := writeFile(t, `
actions_disabled: true
actions_service_allow: [nginx, postgresql@16-main.service]
actions_file_allow: [/var/log/, /etc/nginx]
hooks_dir: /srv/hooks
hooks_user: plexd-hooks
`)
	cfg, err := Load(Sources{File: file, Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Actions
	if !a.Disabled || !slices.Equal(a.ServiceAllow, []string{"nginx", "postgresql@16-main.service"}) ||
		!slices.Equal(a.FileAllow, []string{"/var/log", "/etc/nginx"}) || a.HooksDir != "/srv/hooks" || a.HooksUser != "plexd-hooks" {
		t.Errorf("file layer %+v", a)
	}
	cfg, err = Load(Sources{File: file, Hostname: host,
		Env:   env(map[string]string{"PLEXD_ACTIONS_SERVICE_ALLOW": "redis", "PLEXD_ACTIONS_DISABLED": "0"}),
		Flags: map[Key]string{KeyActionsFileAllow: "/tmp,/opt/app", KeyHooksUser: "nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	a = cfg.Actions
	if a.Disabled || !slices.Equal(a.ServiceAllow, []string{"redis"}) || !slices.Equal(a.FileAllow, []string{"/tmp", "/opt/app"}) || a.HooksUser != "nobody" {
		t.Errorf("env and flags %+v", a)
	}
}

func TestActionsValidation(t *testing.T) {
	for name, c := range map[string]struct {
		flags map[Key]string
		want  string
	}{
		"disabled word":   {map[Key]string{KeyActionsDisabled: "maybe"}, "actions_disabled"},
		"unit option":     {map[Key]string{KeyActionsServiceAllow: "--force"}, "actions_service_allow"},
		"unit shell":      {map[Key]string{KeyActionsServiceAllow: "a;b"}, "actions_service_allow"},
		"relative prefix": {map[Key]string{KeyActionsFileAllow: "var/log"}, "actions_file_allow"},
		"root hooks":      {map[Key]string{KeyHooksUser: "root"}, "hooks_user"},
		"bad user":        {map[Key]string{KeyHooksUser: "a:b"}, "hooks_user"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(Sources{File: writeFile(t, ""), Flags: c.flags, Hostname: host})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one naming %q", err, c.want)
			}
		})
	}
}
