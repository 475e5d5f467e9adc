package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestPlexctlDrivesTenancy runs the real plexsphere binary (SQLite, and
// PostgreSQL via --database-url) and drives it with the real plexctl binary
// using the admin token from <data-dir>/admin-token.
func TestPlexctlDrivesTenancy(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			var extra []string
			if u := apptest.DatabaseURL(t, b); u != "" {
				extra = []string{"--database-url", u}
			}
			s := startServer(t, extra...)
			env := []string{"PLEXSPHERE_URL=" + s.url, "PLEXSPHERE_TOKEN=" + s.token, "PLEXCTL_CONFIG=" + t.TempDir() + "/c.yaml"}
			ctl := func(args ...string) (string, string, int) { return run(t, env, "plexctl", args...) }
			jsonOf := func(out string) map[string]any {
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("not JSON: %s", out)
				}
				return m
			}
			out, errOut, code := ctl("domains", "create", "--name", "Acme", "--slug", "acme", "--mesh-cidr", "100.64.0.0/16", "-o", "json")
			if code != 0 {
				t.Fatalf("create domain: %d %s", code, errOut)
			}
			dom := jsonOf(out)["id"].(string)
			out, errOut, code = ctl("projects", "create", "--domain", dom, "--name", "Web", "--slug", "web", "-o", "json")
			if code != 0 {
				t.Fatalf("create project: %d %s", code, errOut)
			}
			proj := jsonOf(out)["id"].(string)
			out, errOut, code = ctl("resources", "create", "--project", proj, "--kind", "vm", "-o", "json")
			if code != 0 {
				t.Fatalf("create resource: %d %s", code, errOut)
			}
			res := jsonOf(out)["id"].(string)
			if out, _, code = ctl("domains", "list"); code != 0 || !strings.Contains(out, "acme") {
				t.Fatalf("list: %d %s", code, out)
			}
			if out, _, code = ctl("projects", "update", proj, "--name", "Web Tier", "-o", "json"); code != 0 || jsonOf(out)["name"] != "Web Tier" {
				t.Fatalf("update: %d %s", code, out)
			}
			if out, _, code = ctl("resources", "get", res, "-o", "yaml"); code != 0 || !strings.Contains(out, "kind: vm") {
				t.Fatalf("get resource: %d %s", code, out)
			}
			// Error paths: exit 1 with the problem's title, detail and code.
			_, errOut, code = ctl("domains", "create", "--name", "Dup", "--slug", "acme", "--mesh-cidr", "10.9.0.0/16")
			if code != 1 || !strings.Contains(errOut, "slug_conflict") {
				t.Fatalf("duplicate: %d %s", code, errOut)
			}
			_, errOut, code = ctl("domains", "delete", dom)
			if code != 1 || !strings.Contains(errOut, "domain_not_empty") {
				t.Fatalf("non-empty delete: %d %s", code, errOut)
			}
			_, errOut, code = run(t, []string{"PLEXSPHERE_URL=" + s.url, "PLEXSPHERE_TOKEN=psk_prod_wrong", "PLEXCTL_CONFIG=" + t.TempDir() + "/c.yaml"}, "plexctl", "domains", "list")
			if code != 1 || !strings.Contains(errOut, "unauthenticated") {
				t.Fatalf("bad token: %d %s", code, errOut)
			}
			for _, args := range [][]string{{"resources", "delete", res}, {"projects", "delete", proj}, {"domains", "delete", dom}} {
				if _, errOut, code = ctl(args...); code != 0 {
					t.Fatalf("%v: %d %s", args, code, errOut)
				}
			}
			if _, errOut, code = ctl("domains", "get", dom); code != 1 || !strings.Contains(errOut, "domain_not_found") {
				t.Fatalf("get deleted: %d %s", code, errOut)
			}
			// The audit trail of all of it verifies, through the API and offline.
			if out, errOut, code = ctl("audit", "verify", "--platform"); code != 0 {
				t.Fatalf("audit verify: %d %s %s", code, out, errOut)
			}
			export := t.TempDir() + "/audit.jsonl"
			if _, errOut, code = ctl("audit", "export", "--domain", dom, "--file", export); code != 0 {
				t.Fatalf("export: %d %s", code, errOut)
			}
			raw, _ := os.ReadFile(export)
			if n := strings.Count(string(raw), "\n"); n < 4 {
				t.Fatalf("export has %d lines:\n%s", n, raw)
			}
		})
	}
}
