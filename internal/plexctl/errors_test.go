package plexctl

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func TestAPIErrorRendering(t *testing.T) {
	h := newHarness(t)
	h.srv.Problem("DELETE /v1/domains/{id}", apiv1.Problem{Status: 409, Code: "domain_not_empty",
		Title: "Conflict", Detail: "the domain still has 2 projects", ChildCounts: &apiv1.ChildCounts{Projects: 2, Nodes: 1}})
	h.srv.Problem("GET /v1/projects/{id}", apiv1.Problem{Status: 403, Code: "permission_denied",
		Title: "Forbidden", Detail: "missing project#read", Reason: "insufficient_relation", CorrelationID: "corr-9"})
	h.srv.Problem("POST /v1/domains", apiv1.Problem{Status: 400, Code: "invalid_body", Title: "Bad Request",
		Detail: "the body is invalid", Errors: []apiv1.ProblemDetail{{Location: "body.mesh_cidr", Message: "not a CIDR"}}})

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"domains", "delete", "d1"},
			"Error: Conflict: the domain still has 2 projects (code domain_not_empty)\n  children: projects 2, nodes 1\n"},
		{[]string{"projects", "get", "p1"},
			"Error: Forbidden: missing project#read (code permission_denied)\n  reason: insufficient_relation\n  correlation id: corr-9\n"},
		{[]string{"domains", "create", "--name", "A", "--slug", "a", "--mesh-cidr", "x"},
			"Error: Bad Request: the body is invalid (code invalid_body)\n  - body.mesh_cidr: not a CIDR\n"},
	}
	for _, tc := range cases {
		r := h.run(tc.args...)
		if r.code != ExitError {
			t.Errorf("%q: exit %d, want 1", tc.args, r.code)
		}
		if r.stderr != tc.want {
			t.Errorf("%q: stderr\n%q\nwant\n%q", tc.args, r.stderr, tc.want)
		}
		if r.stdout != "" {
			t.Errorf("%q: stdout %q on error", tc.args, r.stdout)
		}
	}
}

func TestNonProblemErrorRendering(t *testing.T) {
	h := newHarness(t)
	h.srv.Handle("GET /v1/auth/whoami", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	})
	r := h.run("whoami")
	if r.code != ExitError || r.stderr != "Error: Bad Gateway: upstream connect error (HTTP 502)\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServerUnreachable(t *testing.T) {
	h := newHarness(t)
	h.env[envServer] = "http://127.0.0.1:1"
	r := h.run("whoami")
	if r.code != ExitError || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "/v1/auth/whoami") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{"nope"},
		{"domains", "lst"},
		{"domains", "get"},
		{"domains", "get", "a", "b"},
		{"domains", "list", "--bogus"},
		{"-o", "xml", "domains", "list"},
		{"domains", "create", "--name", "x"},
		{"domains", "update", "d1"},
		{"domains", "create", "--name", "x", "--slug", "x", "--mesh-cidr", "y", "--stale-after", "9s"},
		{"domains", "list", "--limit", "-1"},
		{"domains", "list", "--limit", "many"},
		{"audit", "list"},
		{"audit", "list", "--domain", "d", "--platform"},
		{"audit", "list", "--platform", "--from", "yesterday"},
		{"audit", "get", "0", "--platform"},
		{"audit", "export", "--platform", "--resume"},
		{"audit", "export", "--platform", "--file", "f", "--resume", "--from-seq", "3"},
		{"labels", "list", "not-a-ref"},
		{"resources", "list"},
		{"resources", "create", "--project", "p", "--kind", "vm", "--parameters", "{bad"},
		{"tokens", "issue", "--env", "dev", "--ttl", "1.5s"},
		{"completion", "tcsh"},
		{"help", "nope"},
	}
	for _, args := range cases {
		h := newHarness(t)
		r := h.run(args...)
		if r.code != ExitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, ExitUsage, r.stderr)
			continue
		}
		if !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "--help' for usage.") {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
		if n := len(h.srv.Requests()); n != 0 {
			t.Errorf("%q: %d requests sent on a usage error", args, n)
		}
	}
}

func TestSuggestion(t *testing.T) {
	r := newHarness(t).run("domains", "lst")
	if !strings.Contains(r.stderr, "did you mean list") {
		t.Errorf("stderr %q", r.stderr)
	}
}
