package mutants

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMutantsAreKilled applies every row of List with `go test -overlay`
// and requires its tests to fail. It runs only with PLEXSPHERE_MUTANTS=1
// (scripts/test sets it; it takes minutes). PLEXSPHERE_MUTANT=<regexp>
// restricts it to the rows whose ID matches. The environment is inherited,
// so PLEXSPHERE_TEST_POSTGRES_URL reaches the mutated packages' tests.
//
// Before the mutants, each distinct package and -run regexp runs once
// unmutated and must pass with at least one test run: a mutant "killed" by
// a broken or absent test proves nothing.
func TestMutantsAreKilled(t *testing.T) {
	if os.Getenv("PLEXSPHERE_MUTANTS") != "1" {
		t.Skip("mutation testing takes minutes; set PLEXSPHERE_MUTANTS=1 to run it (scripts/test does)")
	}
	root := moduleRoot(t)
	rows := selected(t)

	type key struct{ pkg, run string }
	seen := map[key]bool{}
	for _, m := range rows {
		k := key{m.Pkg, m.Run}
		if seen[k] {
			continue
		}
		seen[k] = true
		start := time.Now()
		out, err := goTest(root, "", m.Pkg, m.Run)
		if err != nil || strings.Contains(out, "no tests to run") {
			t.Fatalf("baseline %s -run %s does not pass unmutated (%v):\n%s", m.Pkg, m.Run, err, out)
		}
		t.Logf("baseline %-22s -run %-48s ok       %s", m.Pkg, m.Run, time.Since(start).Round(time.Millisecond))
	}

	dir := t.TempDir()
	for i, m := range rows {
		start := time.Now()
		overlay := writeMutant(t, root, dir, i, m)
		out, err := goTest(root, overlay, m.Pkg, m.Run)
		d := time.Since(start).Round(time.Millisecond)
		switch verdict(out, err) {
		case "killed":
			t.Logf("mutant %-32s killed   %s", m.ID, d)
		case "invalid":
			t.Errorf("mutant %-32s not a valid mutant (does not build) %s:\n%s", m.ID, d, out)
		default:
			t.Errorf("mutant %-32s SURVIVED %s: %s\n%s -run %s passes with it", m.ID, d, m.Why, m.Pkg, m.Run)
		}
	}
}

// verdict classifies a mutated run: a build failure is not a kill, and a
// non-zero exit counts only with a test failure in the output.
func verdict(out string, err error) string {
	switch {
	case strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]"):
		return "invalid"
	case err != nil && (strings.Contains(out, "--- FAIL") || strings.Contains(out, "panic: ")):
		return "killed"
	}
	return "survived"
}

func selected(t *testing.T) []Mutant {
	filter := os.Getenv("PLEXSPHERE_MUTANT")
	re, err := regexp.Compile(filter)
	if err != nil {
		t.Fatalf("PLEXSPHERE_MUTANT: %v", err)
	}
	var rows []Mutant
	for _, m := range List {
		if re.MatchString(m.ID) {
			rows = append(rows, m)
		}
	}
	if len(rows) == 0 {
		t.Fatalf("no mutant matches PLEXSPHERE_MUTANT=%q", filter)
	}
	return rows
}

// writeMutant writes the mutated copy of m.File and an overlay naming it,
// and returns the overlay's path. A snippet that does not occur exactly
// once is a stale row.
func writeMutant(t *testing.T, root, dir string, i int, m Mutant) string {
	t.Helper()
	src := filepath.Join(root, filepath.FromSlash(m.File))
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("mutant %s: %v", m.ID, err)
	}
	if n := strings.Count(string(b), m.Orig); n != 1 {
		t.Fatalf("stale mutant %s: its snippet occurs %d times in %s (the code moved: update the row)", m.ID, n, m.File)
	}
	mutated := filepath.Join(dir, fmt.Sprintf("%02d_%s", i, filepath.Base(m.File)))
	if err := os.WriteFile(mutated, []byte(strings.Replace(string(b), m.Orig, m.Repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(map[string]map[string]string{"Replace": {src: mutated}})
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, fmt.Sprintf("%02d_overlay.json", i))
	if err := os.WriteFile(overlay, js, 0o644); err != nil {
		t.Fatal(err)
	}
	return overlay
}

func goTest(root, overlay, pkg, run string) (string, error) {
	args := []string{"test", "-count=1", "-timeout=5m"}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, "-run", run, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
