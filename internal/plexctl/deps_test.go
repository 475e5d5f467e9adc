package plexctl

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/plexsphere/plexsphere"

// TestDependenciesStayClientSide: plexctl links no control-plane package
// (DESIGN.md §2), and apiclient links nothing outside the standard library
// but apiv1 and the WebSocket client of session attach.
func TestDependenciesStayClientSide(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not found")
	}
	check := func(pkg string, allowed map[string]bool, allowThirdParty []string) {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case allowed[dep]:
			case strings.HasPrefix(dep, module+"/"):
				t.Errorf("%s links %s", pkg, dep)
			case !hasAnyPrefix(dep, allowThirdParty):
				t.Errorf("%s links third-party %s", pkg, dep)
			}
		}
	}
	// nodeproto is the stdlib-only wire-type package; apiv1 reuses its
	// session target shapes.
	client := map[string]bool{module + "/internal/apiclient": true, module + "/internal/apiv1": true,
		module + "/internal/nodeproto": true}
	ws := []string{"github.com/coder/websocket"}
	check(module+"/internal/apiclient", client, ws)
	cli := map[string]bool{module + "/internal/plexctl": true, module + "/cmd/plexctl": true}
	for k := range client {
		cli[k] = true
	}
	check(module+"/cmd/plexctl", cli, append(ws, "github.com/spf13/cobra", "github.com/spf13/pflag",
		"gopkg.in/yaml.v3", "github.com/inconshreveable/mousetrap",
		"golang.org/x/crypto/ssh", "golang.org/x/crypto/internal", "golang.org/x/crypto/curve25519",
		"golang.org/x/crypto/chacha20", "golang.org/x/crypto/blowfish", "golang.org/x/crypto/cryptobyte",
		"golang.org/x/sys/cpu", "golang.org/x/term", "golang.org/x/sys/unix", "golang.org/x/sys/windows",
		"golang.org/x/sys/plan9"))
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}
