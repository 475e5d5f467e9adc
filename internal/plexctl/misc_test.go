package plexctl

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// TestEveryCommandHasHelpWithExample walks the whole tree.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	a := newApp(nil, io.Discard, io.Discard, func(string) string { return "" })
	var walk func(c *cobra.Command)
	count := 0
	walk = func(c *cobra.Command) {
		count++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no Short", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := a.rootCommand()
	walk(root)
	if count < 40 {
		t.Errorf("walked %d commands; the tree is smaller than expected", count)
	}
	h := newHarness(t)
	for _, args := range [][]string{{"--help"}, {"audit", "export", "--help"}, {"help", "labels", "preview"}, {"domains"}} {
		r := h.run(args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%q: exit %d, stdout %.80q", args, r.code, r.stdout)
		}
	}
	if r := h.run("audit", "export", "--help"); !strings.Contains(r.stdout, "Examples:") ||
		!strings.Contains(r.stdout, "--resume") {
		t.Errorf("export help lacks its example:\n%s", r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	h := newHarness(t)
	markers := map[string]string{
		"bash": "__start_plexctl", "zsh": "#compdef plexctl", "fish": "complete -c plexctl",
		"powershell": "Register-ArgumentCompleter",
	}
	for shell, marker := range markers {
		r := h.ok("completion", shell)
		if !strings.Contains(r.stdout, marker) {
			t.Errorf("%s completion lacks %q", shell, marker)
		}
	}
}

func TestVersion(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("GET /v1/version", 200, apiv1.Version{Version: "v1.4.0", Commit: "abc123", Date: "2025-05-01"})
	r := h.ok("version")
	if !strings.Contains(r.stdout, "Client version:  dev") ||
		!strings.Contains(r.stdout, "Server version:  v1.4.0 (commit abc123, built 2025-05-01)") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if h.srv.Last().Header.Get("Authorization") != "" {
		t.Error("the public version endpoint got a credential")
	}
	var v versionView
	if err := json.Unmarshal([]byte(h.ok("version", "-o", "json").stdout), &v); err != nil || v.Server.Commit != "abc123" {
		t.Errorf("json: %+v, %v", v, err)
	}
	before := len(h.srv.Requests())
	delete(h.env, envServer)
	if r := h.ok("version", "--client"); strings.Contains(r.stdout, "Server") || len(h.srv.Requests()) != before {
		t.Errorf("--client contacted the server or printed it:\n%s", r.stdout)
	}
	if r := h.run("version"); r.code != ExitError || !strings.Contains(r.stdout, "Client version") {
		t.Errorf("no server: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestPreviewRendersTreeAndErrors(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("POST /v1/labels/selectors/preview", 200, apiv1.SelectorPreview{AST: &apiv1.SelectorNode{Op: "and",
		Children: []apiv1.SelectorNode{
			{Op: "eq", Key: "platform/env", Value: ptr("prod")},
			{Op: "in", Key: "tier", Values: []string{"web", "api"}},
			{Op: "absent", Key: "quarantined"},
		}}})
	r := h.ok("labels", "preview", "platform/env=prod, tier in (web, api), !quarantined")
	want := "and\n  eq platform/env \"prod\"\n  in tier (\"web\", \"api\")\n  absent quarantined\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}

	h = newHarness(t)
	h.srv.JSON("POST /v1/labels/selectors/preview", 200, apiv1.SelectorPreview{
		Errors: []apiv1.SelectorError{{Position: 6, Message: "expected a value"}}})
	r = h.run("labels", "preview", "énv= ,x")
	if r.code != ExitError || r.stdout != "énv= ,x\n     ^ 6: expected a value\n" {
		t.Errorf("exit %d, stdout:\n%q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "1 syntax error") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestVerifyDivergenceFails(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("POST /v1/domains/{id}/audit/verify", 200, apiv1.AuditVerifyResult{OK: false, DivergentSeq: 17,
		ExpectedHash: "aa", ObservedHash: "bb", Reason: "entry_hash mismatch", SegmentFrom: 1, SegmentTo: 40, EntriesLooked: 17})
	r := h.run("audit", "verify", "--domain", dID)
	if r.code != ExitError || !strings.Contains(r.stdout, "Divergent seq:    17") ||
		!strings.Contains(r.stderr, "diverges at seq 17") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr: %q", r.code, r.stdout, r.stderr)
	}
	h.srv.JSON("POST /v1/platform/audit/verify", 200, apiv1.AuditVerifyResult{OK: true, SegmentFrom: 1, SegmentTo: 9, EntriesLooked: 9})
	if r := h.ok("audit", "verify", "--platform"); strings.Contains(r.stdout, "Divergent") || !strings.Contains(r.stdout, "OK:               true") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func TestTokenIssueShowsPlaintextOnce(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("POST /v1/auth/tokens", 201, apiv1.IssuedToken{ID: "t1", Plaintext: "psk_prod_NEW", EnvPrefix: "prod"})
	r := h.ok("tokens", "issue", "--env", "prod")
	if !strings.Contains(r.stdout, "Token:") || !strings.Contains(r.stdout, "psk_prod_NEW") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "not shown again") {
		t.Errorf("stderr %q", r.stderr)
	}
	var got apiv1.IssuedToken
	if err := json.Unmarshal([]byte(h.ok("tokens", "issue", "--env", "prod", "-o", "json").stdout), &got); err != nil ||
		got.Plaintext != "psk_prod_NEW" {
		t.Errorf("json: %+v, %v", got, err)
	}
}

func TestDeleteMessageOnlyInTableMode(t *testing.T) {
	h := newHarness(t)
	h.srv.Status("DELETE /v1/auth/tokens/{id}", 204)
	if r := h.ok("tokens", "revoke", "t1"); r.stdout != "token \"t1\" revoked\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if r := h.ok("tokens", "revoke", "t1", "-o", "json"); r.stdout != "" {
		t.Errorf("json stdout %q", r.stdout)
	}
}

func TestWhoamiTable(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("GET /v1/auth/whoami", 200, apiv1.Whoami{PrincipalType: "user", Subject: "user:0190",
		Email: "ops@example.com", AMR: []string{"pwd", "otp"}})
	want := "Principal type:  user\nSubject:         user:0190\nDomain:          -\nEmail:           ops@example.com\n" +
		"ACR:             -\nAMR:             pwd, otp\n"
	if r := h.ok("whoami"); r.stdout != want {
		t.Errorf("stdout:\n%q\nwant\n%q", r.stdout, want)
	}
}

func TestRunWithNilArgsDoesNotReadOSArgs(t *testing.T) {
	var out strings.Builder
	code := Run(t.Context(), nil, nil, &out, io.Discard, func(string) string { return "" })
	if code != ExitOK || !strings.Contains(out.String(), "Usage:") {
		t.Errorf("exit %d, stdout %.60q", code, out.String())
	}
}
