package apidocs_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

// TestDocsPageInBrowser opens /v1/docs in headless Chromium (Debian's
// chromium package; skipped where it is not installed, except in CI): the page renders
// (a screenshot far larger than a blank one), the browser reports no
// Content-Security-Policy violation, and the requests the page makes (from
// the browser's network log) all go to the control plane.
func TestDocsPageInBrowser(t *testing.T) {
	bin := browsertest.ChromiumPath()
	switch {
	case bin == "" && os.Getenv("CI") != "":
		t.Fatal("chromium is not installed (scripts/test installs it)")
	case bin == "":
		t.Skip("chromium is not installed")
	}
	e := apptest.Start(t, apptest.SQLite)
	dir := t.TempDir()
	shot, netlog := filepath.Join(dir, "docs.png"), filepath.Join(dir, "net.json")
	out, err := exec.CommandContext(t.Context(), bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-default-apps", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0", "--window-size=1280,900", "--virtual-time-budget=15000",
		"--log-net-log="+netlog, "--screenshot="+shot, e.URL+"/v1/docs").CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "CONSOLE") && (strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Uncaught")) {
			t.Errorf("browser console: %s", line)
		}
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 50_000 {
		t.Errorf("the page did not render (screenshot %v, %v)", fi, err)
	}
	raw, err := os.ReadFile(netlog)
	if err != nil {
		t.Fatal(err)
	}
	// The page's own requests are those it initiated; Chromium's background
	// traffic (updates, accounts) has no initiator and is not the page's.
	var log struct {
		Events []struct {
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		t.Fatalf("network log: %v", err)
	}
	var fetched []string
	for _, ev := range log.Events {
		u, _ := ev.Params["url"].(string)
		if init, _ := ev.Params["initiator"].(string); init != e.URL || u == "" {
			continue
		}
		fetched = append(fetched, u)
		if !strings.HasPrefix(u, e.URL+"/") {
			t.Errorf("the page contacted another origin: %s", u)
		}
	}
	for _, want := range []string{"/v1/docs/assets/rapidoc-min.js", "/v1/openapi.json"} {
		if !slices.Contains(fetched, e.URL+want) {
			t.Errorf("the page did not fetch %s (fetched %v)", want, fetched)
		}
	}
}
