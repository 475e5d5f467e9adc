package plexctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// Default size of a terminal opened from a pipe.
const (
	defaultTermCols = 80
	defaultTermRows = 24
)

// issueOptions are the flags of 'plexctl sessions issue' and of the
// issuing form of 'plexctl sessions terminal'.
type issueOptions struct {
	resource, user, publicKey string
	terminal                  bool
	allow                     []string
	ttl                       time.Duration
}

func (a *app) sessionsIssueCommand() *cobra.Command {
	var (
		project string
		o       issueOptions
	)
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue an ssh session for a Resource (for the browser terminal with --terminal)",
		Long: `Issue an ssh session for a Resource, as USER on its node.

With --terminal the control plane holds the session's key: the session is
used from the dashboard's browser terminal or 'plexctl sessions terminal'.
Otherwise the session accepts one OpenSSH public key: --public-key FILE,
or plexctl's own managed key (the one 'plexctl ssh' uses).

The answer holds the session's token once (shown with -o json or -o yaml,
never in the table). 'plexctl ssh' and 'plexctl tcp' issue and attach in
one step; this command is for the terminal and for scripts.`,
		Example: `  plexctl sessions issue --project 0190c0de-… --resource 0190c0de-…-7e50 --user deploy --terminal
  plexctl sessions issue --project 0190c0de-… --resource 0190c0de-…-7e50 --user root --ttl 10m -o json
  plexctl sessions issue --project 0190c0de-… --resource 0190c0de-…-7e50 --user deploy --public-key ~/.ssh/id_ed25519.pub`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		iss, err := a.issueSSH(cmd.Context(), c, project, o)
		if err != nil {
			return err
		}
		return printFields(a, iss, sessionFields(&iss.Session))
	})
	addProjectFlag(cmd, &project)
	o.flags(cmd, true)
	_ = cmd.MarkFlagRequired("resource")
	_ = cmd.MarkFlagRequired("user")
	return calls(cmd, "IssueSession")
}

// flags registers the issuance flags; key adds --terminal and
// --public-key, which only 'sessions issue' chooses between.
func (o *issueOptions) flags(cmd *cobra.Command, key bool) {
	f := cmd.Flags()
	f.StringVar(&o.resource, "resource", "", "Resource id to issue the session for")
	f.StringVar(&o.user, "user", "", "login user on the node")
	f.DurationVar(&o.ttl, "ttl", 0, "requested session lifetime, e.g. 10m (server default and maximum apply)")
	f.StringArrayVar(&o.allow, "allow-command", nil, "restrict the session to this exact command line (repeatable)")
	if key {
		f.BoolVar(&o.terminal, "terminal", false, "issue the session for the browser terminal: the control plane holds its key")
		f.StringVar(&o.publicKey, "public-key", "", "OpenSSH public key file the session accepts (default: plexctl's managed key)")
	}
}

// issueSSH issues the ssh session o describes.
func (a *app) issueSSH(ctx context.Context, c *apiclient.Client, project string, o issueOptions) (*apiclient.IssuedSession, error) {
	if o.terminal && o.publicKey != "" {
		return nil, usagef("use --terminal or --public-key, not both")
	}
	in := apiclient.IssueSessionRequest{
		ResourceID: o.resource, Kind: apiclient.SessionKindSSH,
		Target:              apiclient.SessionTarget{SSH: &apiclient.SSHTarget{User: o.user, AllowedCommands: o.allow}},
		RequestedTTLSeconds: ttlSeconds(o.ttl), Terminal: o.terminal,
	}
	switch {
	case o.terminal:
	case o.publicKey != "":
		b, err := os.ReadFile(o.publicKey)
		if err != nil {
			return nil, fmt.Errorf("read the public key: %w", err)
		}
		in.PublicKey = strings.TrimSpace(string(b))
	default:
		_, pub, err := a.ensureSSHKey()
		if err != nil {
			return nil, err
		}
		in.PublicKey = pub
	}
	if o.ttl < 0 {
		return nil, usagef("--ttl must not be negative")
	}
	iss, err := c.IssueSession(ctx, project, in)
	if err != nil {
		return nil, terminalError(err)
	}
	return iss, nil
}

func (a *app) sessionsTerminalCommand() *cobra.Command {
	var (
		project string
		o       issueOptions
	)
	cmd := &cobra.Command{
		Use:   "terminal [SESSION_ID]",
		Short: "Open the terminal of a session: a shell on its node, through the control plane",
		Long: `Open the terminal of an ssh session issued with --terminal: the control
plane logs in to the node with the session's key, which it holds, and
relays a shell with a PTY over a WebSocket (what the dashboard's browser
terminal does). No local ssh client or key is involved.

With SESSION_ID, open that session's terminal. Without it, --resource and
--user issue a terminal session first (like 'plexctl sessions issue
--terminal') and open it.

When stdin is a terminal, plexctl puts it in raw mode (Ctrl-C, Ctrl-D and
the like go to the remote shell), sends its size and every change of it,
and restores it on exit. Otherwise (a pipe) the remote terminal is 80x24,
and the end of stdin sends Ctrl-D so that the shell exits after the piped
commands. The exit code is 0 when the shell exits; when the session is
revoked or expires the server's reason is printed and the exit code is 1.`,
		Example: `  plexctl sessions terminal --project 0190c0de-… 0190c0de-…-5e55
  plexctl sessions terminal --project 0190c0de-… --resource 0190c0de-…-7e50 --user deploy
  printf 'uptime\n' | plexctl sessions terminal --project 0190c0de-… 0190c0de-…-5e55`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		issuing := o.resource != "" || o.user != "" || o.ttl != 0 || len(o.allow) > 0
		switch {
		case len(args) == 1 && issuing:
			return usagef("give a SESSION_ID or --resource and --user, not both")
		case len(args) == 0 && (o.resource == "" || o.user == ""):
			return usagef("expected a SESSION_ID, or --resource and --user to issue a terminal session")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		sid := ""
		if len(args) == 1 {
			sid = args[0]
		} else {
			o.terminal = true
			iss, err := a.issueSSH(cmd.Context(), c, project, o)
			if err != nil {
				return err
			}
			sid = iss.SessionID
		}
		return a.runTerminal(cmd.Context(), c, project, sid)
	})
	addProjectFlag(cmd, &project)
	o.flags(cmd, false)
	return calls(cmd, "OpenSessionTerminal", "IssueSession")
}

// runTerminal opens the terminal of session sid and relays it on plexctl's
// stdio until the server closes it.
func (a *app) runTerminal(ctx context.Context, c *apiclient.Client, project, sid string) error {
	fd, tty := terminalFD(a.stdin)
	cols, rows := a.terminalSize(fd, tty)
	t, err := c.OpenTerminal(ctx, project, sid, cols, rows)
	if err != nil {
		return terminalError(err)
	}
	defer t.Close()
	if tty {
		old, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		defer term.Restore(fd, old) //nolint:errcheck // nothing better to do on exit
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		resized := a.terminalResizes(rctx, tty)
		for {
			select {
			case <-rctx.Done():
				return
			case _, ok := <-resized:
				if !ok {
					return
				}
				if c, r := a.terminalSize(fd, tty); c > 0 && r > 0 {
					_ = t.Resize(c, r)
				}
			}
		}
	}()
	go func() {
		_, err := io.Copy(t, a.stdin)
		if !tty && err == nil {
			// The end of piped input: Ctrl-D, so the shell exits.
			_, _ = t.Write([]byte{0x04})
		}
	}()
	_, err = io.Copy(a.stdout, t)
	if ctx.Err() != nil {
		return nil // interrupted: the operator ended it
	}
	return streamError(err)
}

// terminalFD returns the descriptor of in when it is a terminal.
func terminalFD(in io.Reader) (int, bool) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return -1, false
	}
	return int(f.Fd()), true
}

// terminalSize is the size to give the remote terminal: the local
// terminal's, else 80x24.
func (a *app) terminalSize(fd int, tty bool) (cols, rows int) {
	if a.hooks.termSize != nil {
		return a.hooks.termSize()
	}
	if tty {
		if c, r, err := term.GetSize(fd); err == nil && c > 0 && r > 0 {
			return c, r
		}
	}
	return defaultTermCols, defaultTermRows
}

// terminalResizes delivers a value each time the local terminal changes
// size (SIGWINCH), until ctx ends; nothing when stdin is not a terminal.
func (a *app) terminalResizes(ctx context.Context, tty bool) <-chan struct{} {
	if a.hooks.resizes != nil {
		return a.hooks.resizes(ctx)
	}
	if !tty {
		return nil
	}
	return notifyResize(ctx)
}

// terminalError explains a refused terminal or terminal issuance; other
// refusals are accessError's.
func terminalError(err error) error {
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return err
	}
	var why string
	switch e.Code {
	case "session_not_terminal":
		why = "the session accepts its operator's own key, not the control plane's: use 'plexctl ssh', " +
			"or issue a terminal session ('plexctl sessions terminal --resource R --user U')"
	case "session_not_ssh":
		why = "only ssh sessions have a terminal"
	case "terminal_unavailable":
		why = "this control plane has no browser terminal key configured"
	default:
		return accessError(err)
	}
	return fmt.Errorf("%s\n  %s", why, renderError(err))
}
