package dashboard_test

import (
	"context"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
	"github.com/plexsphere/plexsphere/internal/demonodes"
)

// TestBrowserTerminal opens a browser terminal to a node: a real demo
// plexd (agent core on netstack WireGuard with its access listener and
// SSH server) enrols in a Project; in the dashboard the operator issues an
// ssh session for the browser terminal, opens the terminal page, types a
// command into xterm.js and reads its output (and the PTY's size, fitted
// to the page); revoked, the session's terminal says it ended.
func TestBrowserTerminal(t *testing.T) {
	env := browsertest.Get(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	_, projectID := domainAndProject(t, env, "terminal", "100.94.0.0/24")
	var tok apiv1.IssuedBootstrapToken
	if st := post(t, env, "/v1/projects/"+projectID+"/bootstrap-tokens", apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "term"}, &tok); st != 201 {
		t.Fatalf("bootstrap token: %d", st)
	}
	fleet, err := demonodes.Start(context.Background(), demonodes.Options{Server: env.URL, N: 1, Dir: t.TempDir(),
		HeartbeatInterval: time.Second, SSHAccount: me.Username,
		Issue: func(context.Context, int) (string, error) { return tok.Token, nil }})
	if err != nil {
		t.Fatalf("demo node: %v", err)
	}
	t.Cleanup(fleet.Close)
	env.Server.Gateways.SetWrap(fleet.Wrap)

	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")
	p.Open("#/sessions?project_id=" + projectID)
	p.Wait("sessions-empty")
	p.Click("session-create")
	p.Wait("session-form")
	p.Fill("field-user", demonodes.DemoSSHUser)
	idtSelect(p, "field-ssh_key", "terminal")
	p.Click("session-form-submit")
	p.Wait("session-issued-terminal")
	href := browsertest.Eval[string](p, `document.querySelector('[data-testid="session-issued-terminal"]').href`)
	if !strings.Contains(href, "/ui/terminal.html?project_id="+projectID+"&session_id=") {
		t.Fatalf("terminal link %q", href)
	}
	sessionID := href[strings.LastIndex(href, "=")+1:]
	p.Shot("terminal-issued")

	// The terminal page (the link opens it in a tab of its own).
	p.Do(chromedp.Navigate(href))
	p.WaitFor(`document.querySelector('[data-testid="terminal-status"]').dataset.state === "open"`)
	typeLine(p, "echo term-$((6*7))")
	p.WaitFor(`document.querySelector('.xterm-rows')?.textContent.includes("term-42")`)
	typeLine(p, "stty size")
	p.WaitFor(`/\d+ \d+/.test(document.querySelector('.xterm-rows').textContent.split("stty size").pop())`)
	size := browsertest.Eval[string](p, `document.querySelector('.xterm-rows').textContent.split("stty size").pop().match(/(\d+) (\d+)/)[0]`)
	if size == "24 80" || size == "" {
		t.Errorf("the PTY is %q: the terminal did not send its fitted size", size)
	}
	if title := p.Text("terminal-title"); !strings.HasPrefix(title, demonodes.DemoSSHUser+"@") {
		t.Errorf("terminal title %q", title)
	}
	p.Shot("terminal-open")
	p.CheckAccessible()

	// Revoked (through the API, as from another tab), the terminal ends
	// with the reason.
	if st := post(t, env, "/v1/projects/"+projectID+"/sessions/"+sessionID+":revoke", map[string]string{"revoke_reason": "operator_request"}, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	p.WaitFor(`document.querySelector('[data-testid="terminal-status"]').dataset.state === "ended"`)
	if got := p.Text("terminal-status"); !strings.Contains(got, "Session ended") {
		t.Errorf("terminal status after revocation: %q", got)
	}
	p.Shot("terminal-revoked")
}

// typeLine types a command line into the focused xterm.js terminal as a
// browser does: the text as input (insertText, what xterm.js reads), then
// Enter as a key press (xterm.js handles it on keydown). chromedp's
// SendKeys also sends a char event per key, which xterm.js would read as
// a second copy.
func typeLine(p *browsertest.Page, text string) {
	p.T.Helper()
	enter := input.DispatchKeyEventParams{Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
	down, up := enter, enter
	down.Type, up.Type = input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp
	p.Do(chromedp.Focus(chromedp.CSS(".xterm-helper-textarea")), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
			return err
		}
		for _, k := range []input.DispatchKeyEventParams{down, up} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, k); err != nil {
				return err
			}
		}
		return nil
	}))
}
