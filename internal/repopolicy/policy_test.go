package repopolicy

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func TestEveryPackageHasADocComment(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(out)) {
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range pkgs {
			documented := false
			for _, f := range p.Files {
				documented = documented || f.Doc != nil
			}
			if !documented {
				t.Errorf("package %s (%s) has no doc comment", name, dir)
			}
		}
	}
}

func TestGofmtClean(t *testing.T) {
	out, err := exec.Command("gofmt", "-l", root(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt: %v %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Fatalf("not gofmt-clean:\n%s", s)
	}
}

func TestNoReplaceInGoMod(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "replace") {
			t.Fatalf("go.mod has a replace directive: %s", line)
		}
	}
}

// clientSide are the only module packages plexd and plexctl may link.
var clientSide = []string{
	"internal/apiclient", "internal/apiv1", "internal/plexctl", "internal/plexd", "internal/nodeproto",
	"internal/envelope", "internal/canonjson", "internal/selector", "internal/version", "internal/stun", "internal/relaywire",
	"internal/accesstoken", "cmd/",
}

func TestClientBinariesLinkNoServerPackage(t *testing.T) {
	const mod = "github.com/plexsphere/plexsphere/"
	for _, bin := range []string{"./cmd/plexctl", "./cmd/plexd"} {
		if _, err := os.Stat(filepath.Join(root(t), bin)); err != nil {
			continue // not built yet
		}
		cmd := exec.Command("go", "list", "-deps", bin)
		cmd.Dir = root(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", bin, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, mod) {
				continue
			}
			rel := strings.TrimPrefix(dep, mod)
			ok := false
			for _, allowed := range clientSide {
				ok = ok || rel == allowed || strings.HasPrefix(rel, allowed+"/") || strings.HasPrefix(rel, allowed) && strings.HasSuffix(allowed, "/")
			}
			if !ok {
				t.Errorf("%s links control-plane package %s", bin, rel)
			}
		}
	}
}
