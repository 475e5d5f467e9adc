package plexd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitFileCarriesActionSettings: the actions and hooks settings given
// at install reach the unit, --actions-disabled without a value included;
// settings from the config file stay there.
func TestUnitFileCarriesActionSettings(t *testing.T) {
	e := newEnv(t)
	unit := filepath.Join(t.TempDir(), "plexd.service")
	r := e.run("install", "--unit-path", unit, "--no-start", "--actions-disabled",
		"--actions-service-allow", "nginx, redis", "--actions-file-allow", "/var/log/,/etc/nginx",
		"--hooks-dir", "/srv/plexd hooks", "--hooks-user", "plexd-hooks")
	if r.code != ExitOK {
		t.Fatalf("install: %d %s", r.code, r.stderr)
	}
	raw, _ := os.ReadFile(unit)
	for _, want := range []string{"--actions-disabled true", "--actions-service-allow nginx,redis",
		"--actions-file-allow /var/log,/etc/nginx", `--hooks-dir "/srv/plexd hooks"`, "--hooks-user plexd-hooks"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("unit lacks %q:\n%s", want, raw)
		}
	}
	r = e.run("install", "--unit-path", unit, "--no-start")
	raw, _ = os.ReadFile(unit)
	if r.code != ExitOK || strings.Contains(string(raw), "--hooks-") || strings.Contains(string(raw), "--actions-") {
		t.Errorf("defaults written into the unit:\n%s", raw)
	}
}
