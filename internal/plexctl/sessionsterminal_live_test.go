package plexctl

import (
	"bytes"
	"context"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/demonodes"
)

// Issue 13: against the real control plane, sessions issue --terminal
// issues a terminal session, and sessions terminal meets the server's own
// refusals before the upgrade: a session with the operator's key is not a
// terminal session, an unknown id is not found.
func TestSessionsTerminalAgainstControlPlane(t *testing.T) {
	l := newLive(t, apptest.SQLite)
	_, p := l.project("term", "100.74.0.0/16")
	var tok apiv1.IssuedBootstrapToken
	l.ok(&tok, "-o", "json", "bootstrap-tokens", "create", "--project", p, "--env", "prod")
	nodeID, _ := l.register(tok.Token, "web-1")
	var node apiv1.Node
	l.ok(&node, "-o", "json", "nodes", "get", nodeID)

	var term apiclient.IssuedSession
	l.ok(&term, "-o", "json", "sessions", "issue", "--project", p, "--resource", node.ResourceID, "--user", "root",
		"--terminal")
	if !term.Session.Terminal || term.Session.Kind != "ssh" {
		t.Fatalf("terminal session %+v", term.Session)
	}
	r := l.ok(nil, "sessions", "get", "--project", p, term.SessionID)
	if !strings.Contains(r.stdout, "Terminal:") || !strings.Contains(r.stdout, "yes") {
		t.Errorf("sessions get:\n%s", r.stdout)
	}

	var plain apiclient.IssuedSession
	l.ok(&plain, "-o", "json", "sessions", "issue", "--project", p, "--resource", node.ResourceID, "--user", "root")
	if plain.Session.Terminal {
		t.Fatalf("plain session %+v", plain.Session)
	}
	r = l.run("sessions", "terminal", "--project", p, plain.SessionID)
	if r.code != ExitError || !strings.Contains(r.stderr, "session_not_terminal") ||
		!strings.Contains(r.stderr, "the session accepts its operator's own key") {
		t.Errorf("terminal of a plain session: exit %d\n%s", r.code, r.stderr)
	}
	r = l.run("sessions", "terminal", "--project", p, "0190c0de-0000-7000-8000-00000000dead")
	if r.code != ExitError || !strings.Contains(r.stderr, "session_not_found") {
		t.Errorf("terminal of an unknown session: exit %d\n%s", r.code, r.stderr)
	}
	// The node has no access listener here: the terminal session itself is
	// refused before the upgrade too, and plexctl says so.
	r = l.run("sessions", "terminal", "--project", p, term.SessionID)
	if r.code != ExitError || r.stdout != "" || !strings.Contains(r.stderr, "node_unreachable") {
		t.Errorf("terminal of an unreachable node: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
}

// Issue 13: sessions terminal to a real node — a demo plexd (agent core on
// netstack WireGuard, its access listener and SSH server) reached through
// the Project's session gateway: the piped commands run in the node's
// shell, and the shell's exit ends the command with 0.
func TestSessionsTerminalRealNode(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	l := newLive(t, apptest.SQLite)
	_, p := l.project("termnode", "100.75.0.0/16")
	var tok apiv1.IssuedBootstrapToken
	l.ok(&tok, "-o", "json", "bootstrap-tokens", "create", "--project", p, "--env", "prod")
	fleet, err := demonodes.Start(t.Context(), demonodes.Options{Server: l.e.URL, N: 1, Dir: t.TempDir(),
		HeartbeatInterval: time.Second, SSHAccount: me.Username,
		Issue: func(context.Context, int) (string, error) { return tok.Token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	l.e.Server.Gateways.SetWrap(fleet.Wrap)
	var node apiv1.Node
	l.ok(&node, "-o", "json", "nodes", "get", fleet.Nodes[0].ID)

	var out, errb bytes.Buffer
	a := newApp(strings.NewReader("echo term-$((6*7))\nexit 0\n"), &out, &errb, func(k string) string { return l.env[k] })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	code := a.run(ctx, []string{"sessions", "terminal", "--project", p, "--resource", node.ResourceID, "--user", demonodes.DemoSSHUser})
	if code != ExitOK || !strings.Contains(out.String(), "term-42") {
		t.Fatalf("sessions terminal: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}
