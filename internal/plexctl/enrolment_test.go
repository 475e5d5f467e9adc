package plexctl

import (
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// Issue 8 (plexctl parity): bootstrap tokens had no plexctl command.
// "bootstrap-tokens create" prints the psb_ plaintext once (table and
// JSON); list and get show metadata only; revoke ends the token.
func TestBootstrapTokenCommands(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l := newLive(t, b)
			_, pid := l.project("acme", "100.70.0.0/16")

			// The command line exactly: --env defaults to "default".
			r := l.ok(nil, "bootstrap-tokens", "create", "--project", pid, "--ttl", "1h", "--max-uses", "5")
			shown := tokenLine(t, r.stdout)
			if !strings.HasPrefix(shown, "psb_default_") || !strings.Contains(r.stderr, "not shown again") {
				t.Fatalf("create: stdout %q stderr %q", r.stdout, r.stderr)
			}
			var def struct {
				QualifiedKey string `json:"qualified_key"`
			}
			l.ok(&def, "-o", "json", "labels", "definitions", "create", "--scope", "platform", "--key", "role",
				"--applies-to", "node")
			var issued apiv1.IssuedBootstrapToken
			l.ok(&issued, "-o", "json", "bootstrap-tokens", "create", "--project", pid, "--env", "dev",
				"--ttl", "1h", "--max-uses", "5", "--label", def.QualifiedKey+"=web")
			if !strings.HasPrefix(issued.Token, "psb_dev_") || issued.ExpiresAt.Sub(issued.IssuedAt) != time.Hour {
				t.Fatalf("create -o json: %+v", issued)
			}

			// Metadata only: no plaintext on list or get, in any format.
			for _, format := range []string{"table", "json", "yaml"} {
				r := l.ok(nil, "-o", format, "bootstrap-tokens", "list", "--project", pid)
				if strings.Contains(r.stdout, shown) || strings.Contains(r.stdout, issued.Token) {
					t.Fatalf("list -o %s shows a plaintext:\n%s", format, r.stdout)
				}
			}
			r = l.ok(nil, "bootstrap-tokens", "list", "--project", pid)
			if strings.Count(r.stdout, "0/5") != 2 || strings.Count(r.stdout, "active") != 2 {
				t.Fatalf("list:\n%s", r.stdout)
			}

			// The token enrols nodes: uses count up.
			l.register(issued.Token, "web-1")
			var got apiv1.BootstrapToken
			l.ok(&got, "-o", "json", "bootstrap-tokens", "get", issued.TokenID, "--project", pid)
			if got.ID != issued.TokenID || got.Uses != 1 || got.MaxUses != 5 || got.Labels[def.QualifiedKey] != "web" {
				t.Fatalf("get: %+v", got)
			}

			r = l.ok(nil, "bootstrap-tokens", "revoke", issued.TokenID, "--project", pid)
			if r.stdout != `bootstrap token "`+issued.TokenID+`" revoked`+"\n" {
				t.Fatalf("revoke: %q", r.stdout)
			}
			r = l.ok(nil, "bootstrap-tokens", "get", issued.TokenID, "--project", pid)
			if !strings.Contains(r.stdout, "revoked") || !strings.Contains(r.stdout, "1/5") {
				t.Fatalf("get after revoke:\n%s", r.stdout)
			}
			if r := l.run("bootstrap-tokens", "revoke", issued.TokenID, "--project", pid); r.code != ExitError {
				t.Fatalf("second revoke: exit %d %s", r.code, r.stderr)
			}
		})
	}
}

// tokenLine returns the value of the "Token:" row of a key/value view.
func tokenLine(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Token:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Token row in:\n%s", out)
	return ""
}

// Issue 8 (plexctl parity): nodes had no plexctl command. "nodes list"
// shows enrolled nodes with mesh IP and reachability, filters by Domain;
// get shows one node; delete decommissions it.
func TestNodeCommands(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l := newLive(t, b)
			d1, p1 := l.project("one", "100.71.0.0/16")
			_, p2 := l.project("two", "100.72.0.0/16")
			var t1, t2 apiv1.IssuedBootstrapToken
			l.ok(&t1, "-o", "json", "bootstrap-tokens", "create", "--project", p1, "--env", "prod")
			l.ok(&t2, "-o", "json", "bootstrap-tokens", "create", "--project", p2, "--env", "prod")
			n1, ip1 := l.register(t1.Token, "web-1")
			n2, ip2 := l.register(t2.Token, "db-1")

			r := l.ok(nil, "nodes", "list")
			for _, want := range []string{"MESH IP", "REACHABILITY", n1, ip1, n2, ip2} {
				if !strings.Contains(r.stdout, want) {
					t.Fatalf("nodes list lacks %q:\n%s", want, r.stdout)
				}
			}
			var all apiv1.List[apiv1.Node]
			l.ok(&all, "-o", "json", "nodes", "list")
			if len(all.Items) != 2 {
				t.Fatalf("nodes list -o json: %+v", all)
			}
			for _, n := range all.Items {
				if n.MeshIP == "" || n.Reachability.State == "" {
					t.Fatalf("node without mesh IP or reachability: %+v", n)
				}
			}

			var one apiv1.List[apiv1.Node]
			l.ok(&one, "-o", "json", "nodes", "list", "--domain", d1)
			if len(one.Items) != 1 || one.Items[0].ID != n1 || one.Items[0].MeshIP != ip1 {
				t.Fatalf("nodes list --domain: %+v", one)
			}

			var n apiv1.Node
			l.ok(&n, "-o", "json", "nodes", "get", n2)
			if n.ID != n2 || n.MeshIP != ip2 || n.ProjectID != p2 {
				t.Fatalf("nodes get: %+v", n)
			}
			r = l.ok(nil, "nodes", "get", n2)
			if !strings.Contains(r.stdout, "Mesh IP:") || !strings.Contains(r.stdout, ip2) {
				t.Fatalf("nodes get:\n%s", r.stdout)
			}

			l.ok(nil, "nodes", "delete", n2)
			r = l.ok(nil, "nodes", "list")
			if strings.Contains(r.stdout, n2) || !strings.Contains(r.stdout, n1) {
				t.Fatalf("nodes list after delete:\n%s", r.stdout)
			}
			if r := l.run("nodes", "get", n2); r.code == ExitOK {
				t.Fatalf("nodes get of a deleted node: %s", r.stdout)
			}
		})
	}
}

// Issue 8 (plexctl parity): signing keys had no plexctl command. "list"
// shows a Domain's keys; "rotate" rolls to a new key with a grace period.
func TestSigningKeyCommands(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l := newLive(t, b)
			d, _ := l.project("keys", "100.73.0.0/16")
			var before apiv1.List[apiv1.SigningKey]
			l.ok(&before, "-o", "json", "signing-keys", "list", "--domain", d)
			if len(before.Items) != 1 || before.Items[0].Status != "active" {
				t.Fatalf("keys before rotation: %+v", before)
			}
			old := before.Items[0].KID

			var rot apiv1.SigningKeyRotation
			start := time.Now()
			l.ok(&rot, "-o", "json", "signing-keys", "rotate", "--domain", d, "--grace", "48h")
			if rot.Active.KID == old || rot.Retiring.KID != old || rot.Retiring.NotAfter == nil {
				t.Fatalf("rotation: %+v", rot)
			}
			if end := rot.Retiring.NotAfter.Sub(start); end < 47*time.Hour || end > 49*time.Hour {
				t.Fatalf("--grace 48h: retiring key ends in %s", end)
			}
			r := l.ok(nil, "signing-keys", "list", "--domain", d)
			for _, want := range []string{rot.Active.KID, old, "active", "retiring"} {
				if !strings.Contains(r.stdout, want) {
					t.Fatalf("keys after rotation lack %q:\n%s", want, r.stdout)
				}
			}
			// A second rotation waits for the retiring key; without --grace
			// the server default applies.
			if r := l.run("signing-keys", "rotate", "--domain", d); r.code != ExitError ||
				!strings.Contains(r.stderr, "signing_key_rotation_in_progress") {
				t.Fatalf("rotation during grace: exit %d %s", r.code, r.stderr)
			}
			d2, _ := l.project("keys2", "100.74.0.0/16")
			l.ok(&rot, "-o", "json", "signing-keys", "rotate", "--domain", d2)
			if rot.Retiring.NotAfter == nil || rot.Retiring.NotAfter.Sub(start) < 23*time.Hour {
				t.Fatalf("default grace: %+v", rot.Retiring)
			}
			if r := l.run("signing-keys", "rotate", "--domain", d, "--grace", "1.5s"); r.code != ExitUsage {
				t.Fatalf("fractional grace: exit %d %s", r.code, r.stderr)
			}
			if r := l.run("signing-keys", "rotate"); r.code != ExitUsage || !strings.Contains(r.stderr, "domain") {
				t.Fatalf("rotate without --domain: exit %d %s", r.code, r.stderr)
			}
		})
	}
}

// Issue 8 (plexctl parity): rotation is a step-up operation; a refused
// caller is told so and how to get through, above the API's problem.
func TestSigningKeyRotateStepUpError(t *testing.T) {
	h := newHarness(t)
	h.srv.Problem("POST /v1/domains/{id}/signing-keys:rotate", apiv1.Problem{Status: 401, Code: "step_up_required",
		Title: "Unauthorized", Detail: "This operation requires a stronger sign-in."})
	r := h.run("signing-keys", "rotate", "--domain", "0190c0de-0000-7000-8000-000000000001")
	if r.code != ExitError || r.stdout != "" {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{"step-up operation", "plexctl login", "(code step_up_required)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
