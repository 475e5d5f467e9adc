package mutants

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
	jobs := parallelism(t)

	// Stale rows first: writing every overlay checks each snippet before
	// anything slow runs.
	dir := t.TempDir()
	overlays := make([]string, len(rows))
	for i, m := range rows {
		overlays[i] = writeMutant(t, root, dir, i, m)
	}

	type key struct{ pkg, run string }
	var baselines []key
	seen := map[key]bool{}
	for _, m := range rows {
		if k := (key{m.Pkg, m.Run}); !seen[k] {
			seen[k] = true
			baselines = append(baselines, k)
		}
	}
	broken := make([]string, len(baselines))
	forEach(len(baselines), jobs, func(i int) {
		k := baselines[i]
		start := time.Now()
		out, err := goTest(root, "", k.pkg, k.run)
		if err != nil || strings.Contains(out, "no tests to run") {
			broken[i] = fmt.Sprintf("baseline %s -run %s does not pass unmutated (%v):\n%s", k.pkg, k.run, err, out)
			return
		}
		t.Logf("baseline %-22s -run %-48s ok       %s", k.pkg, k.run, time.Since(start).Round(time.Millisecond))
	})
	for _, b := range broken {
		if b != "" {
			t.Fatal(b)
		}
	}

	forEach(len(rows), jobs, func(i int) {
		m := rows[i]
		start := time.Now()
		out, err := goTest(root, overlays[i], m.Pkg, m.Run)
		d := time.Since(start).Round(time.Millisecond)
		switch verdict(out, err) {
		case "killed":
			t.Logf("mutant %-32s killed   %s", m.ID, d)
		case "invalid":
			t.Errorf("mutant %-32s not a valid mutant (does not build) %s:\n%s", m.ID, d, out)
		default:
			t.Errorf("mutant %-32s SURVIVED %s: %s\n%s -run %s passes with it", m.ID, d, m.Why, m.Pkg, m.Run)
		}
	})
}

// parallelism is how many `go test` runs go at once:
// PLEXSPHERE_MUTANT_JOBS, else 2 (the runs wait on databases and timers
// as much as on the CPU, so two overlap well even on two cores).
func parallelism(t *testing.T) int {
	v := os.Getenv("PLEXSPHERE_MUTANT_JOBS")
	if v == "" {
		return 2
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 32 {
		t.Fatalf("PLEXSPHERE_MUTANT_JOBS=%q: want a number from 1 to 32", v)
	}
	return n
}

// forEach calls fn(0..n-1) on at most jobs goroutines and waits.
func forEach(n, jobs int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
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
