package plexctl

import (
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
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
