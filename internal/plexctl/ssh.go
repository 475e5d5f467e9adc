package plexctl

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// sshOptions are the flags of 'plexctl ssh'.
type sshOptions struct {
	project   string
	proxy     bool
	login     string
	ttl       time.Duration
	allow     []string
	sshBinary string
	sshArgs   []string
}

func (a *app) sshCommand() *cobra.Command {
	var o sshOptions
	cmd := &cobra.Command{
		Use:   "ssh [flags] [USER@]NODE [COMMAND...]",
		Short: "Open an SSH session to a node through the control plane",
		Long: `Open an SSH session to a node through the control plane's session gateway.

NODE is a node id, or a node name (looked up among the nodes you can see,
within --project when given; a ".plexsphere" suffix is ignored). USER is
the login user on the node (default: -l, else $USER); the node must allow
it (plexd --access-ssh-users).

plexctl keeps its own Ed25519 key in its config directory and sends its
public half with each session request: the node accepts exactly that key
for exactly that session. By default plexctl runs the system ssh client
with this key, with itself as ProxyCommand, and a host key alias
plexsphere-<node id>; the remaining arguments are the remote command.
Flags go before NODE. The exit code is ssh's.

With --proxy, plexctl is the ProxyCommand: it issues an ssh session,
attaches to it and copies stdin/stdout until either side closes. Use it
from ssh_config (see 'plexctl ssh config') so that plain ssh, scp, sftp
and rsync work:

  Host *.plexsphere
      ProxyCommand plexctl ssh --proxy %r@%h
      IdentityFile ~/.config/plexctl/ssh/id_ed25519

A denial (403), a step-up requirement (401 step_up_required), a full
session budget (session_limit_exceeded) and a revoked session end with a
message on stderr and a non-zero exit code.`,
		Example: `  plexctl ssh web-1
  plexctl ssh root@web-1 -- journalctl -u plexd -n 50
  plexctl ssh --project 0190c0de-… deploy@web-1 uptime
  plexctl ssh --ssh-arg=-L --ssh-arg=8080:localhost:80 web-1
  ssh -o ProxyCommand='plexctl ssh --proxy %r@%h' web-1.plexsphere`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("expected [USER@]NODE")
			}
			if o.proxy && len(args) != 1 {
				return usagef("--proxy takes exactly one argument, USER@NODE (ProxyCommand ... --proxy %%r@%%h)")
			}
			return nil
		},
	}
	// Everything after NODE is the remote command, flags included.
	cmd.Flags().SetInterspersed(false)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		user, node := splitUserHost(args[0])
		if user == "" {
			user = firstOf(o.login, a.env("USER"))
		}
		if user == "" {
			return usagef("no login user: use USER@NODE or -l USER")
		}
		if node == "" {
			return usagef("no node in %q", args[0])
		}
		if o.ttl < 0 {
			return usagef("--ttl must not be negative")
		}
		if o.proxy {
			return a.sshProxy(cmd.Context(), o, user, node)
		}
		command := args[1:]
		if len(command) > 0 && command[0] == "--" {
			command = command[1:]
		}
		return a.sshExec(cmd.Context(), o, user, node, command)
	})
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "Project id: look NODE up in this Project only")
	f.BoolVar(&o.proxy, "proxy", false, "be the ProxyCommand: relay the session on stdin/stdout")
	f.StringVarP(&o.login, "login", "l", "", "login user on the node (default $USER)")
	f.DurationVar(&o.ttl, "ttl", 0, "requested session lifetime, e.g. 10m (server default and maximum apply)")
	f.StringArrayVar(&o.allow, "allow-command", nil, "restrict the session to this exact command line (repeatable)")
	f.StringVar(&o.sshBinary, "ssh-binary", "ssh", "ssh client to run")
	f.StringArrayVar(&o.sshArgs, "ssh-arg", nil, "extra argument for the ssh client (repeatable)")
	cmd.AddCommand(a.sshConfigCommand())
	return calls(cmd, "listNodes", "getNode", "IssueSession", "AttachSession", "GetSession")
}

// splitUserHost splits "user@host" at the last @.
func splitUserHost(s string) (user, host string) {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// sshExec runs the system ssh client with plexctl as its ProxyCommand.
func (a *app) sshExec(ctx context.Context, o sshOptions, user, ref string, command []string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	node, err := resolveNode(ctx, c, ref, o.project)
	if err != nil {
		return err
	}
	key, _, err := a.ensureSSHKey()
	if err != nil {
		return err
	}
	self, err := a.executable()
	if err != nil {
		return err
	}
	proxy := append([]string{self}, a.globalArgs()...)
	proxy = append(proxy, "ssh", "--proxy", "--project", node.ProjectID)
	if o.ttl > 0 {
		proxy = append(proxy, "--ttl", o.ttl.String())
	}
	for _, c := range o.allow {
		proxy = append(proxy, "--allow-command", c)
	}
	proxy = append(proxy, user+"@"+node.ID)
	argv := []string{o.sshBinary,
		"-o", "ProxyCommand=" + proxyCommandLine(proxy),
		"-i", key,
		"-o", "IdentitiesOnly=yes",
		"-o", "HostKeyAlias=" + hostKeyAlias(node),
		// A node's SSH host key is its own (plexd's, in its data
		// directory): trusted on first use and pinned per node id in
		// plexctl's own known_hosts, so a changed key is refused.
		"-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile=" + knownHosts(key),
	}
	argv = append(argv, o.sshArgs...)
	argv = append(argv, "--", user+"@"+node.ID)
	argv = append(argv, command...)
	code, err := a.execProgram(ctx, argv, a.childEnv())
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitCodeError{code: code}
	}
	return nil
}

// sshProxy issues an ssh session for the managed key and relays it on
// stdin/stdout. Nothing but the session's bytes may go to stdout.
func (a *app) sshProxy(ctx context.Context, o sshOptions, user, ref string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	node, err := resolveNode(ctx, c, ref, o.project)
	if err != nil {
		return err
	}
	_, pub, err := a.ensureSSHKey()
	if err != nil {
		return err
	}
	iss, err := c.IssueSession(ctx, node.ProjectID, apiclient.IssueSessionRequest{
		ResourceID: node.ResourceID, Kind: apiclient.SessionKindSSH,
		Target:              apiclient.SessionTarget{SSH: &apiclient.SSHTarget{User: user, AllowedCommands: o.allow}},
		RequestedTTLSeconds: ttlSeconds(o.ttl), PublicKey: pub,
	})
	if err != nil {
		return accessError(err)
	}
	conn, err := c.Attach(ctx, node.ProjectID, iss.SessionID, iss.Token)
	if err != nil {
		return accessError(err)
	}
	if err := splice(conn, a.stdin, a.stdout); err != nil {
		return err
	}
	return sessionEnd(ctx, c, node.ProjectID, iss.SessionID)
}

// ttlSeconds rounds a requested lifetime up to whole seconds (0: the
// server's default).
func ttlSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func hostKeyAlias(n *apiv1.Node) string { return "plexsphere-" + n.ID }

// proxyCommandLine renders argv for ssh's ProxyCommand, which ssh expands
// for %-tokens and hands to the shell: each word single-quoted, % doubled.
func proxyCommandLine(argv []string) string {
	words := make([]string, len(argv))
	for i, w := range argv {
		words[i] = strings.ReplaceAll(shellQuote(w), "%", "%%")
	}
	return strings.Join(words, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a *app) sshConfigCommand() *cobra.Command {
	var project, user string
	cmd := &cobra.Command{
		Use:   "config [NODE...]",
		Short: "Print an ssh_config block so that plain ssh, scp and sftp reach nodes",
		Long: `Print ssh_config Host blocks that route through plexctl, for ~/.ssh/config.

Without NODE: one "Host *.plexsphere" block; "ssh web-1.plexsphere" then
looks web-1 up by name when it connects. With NODE arguments: one block
per node, "Host <name>.plexsphere plexsphere-<id>", pinned to the node id,
with a host key alias that survives renames. The managed key is created
if needed. Connection flags given here (--server, --context) are written
into the ProxyCommand; a --token is not: keep it in a saved context.`,
		Example: `  plexctl ssh config >> ~/.ssh/config
  plexctl ssh config --project 0190c0de-… --user deploy web-1 web-2
  scp ./app.tar deploy@web-1.plexsphere:/tmp/`,
		Args: cobra.ArbitraryArgs,
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		key, _, err := a.ensureSSHKey()
		if err != nil {
			return err
		}
		self, err := a.executable()
		if err != nil {
			return err
		}
		base := append([]string{self}, a.globalArgs()...)
		base = append(base, "ssh", "--proxy")
		if len(args) == 0 {
			if project != "" {
				base = append(base, "--project", project)
			}
			fmt.Fprint(a.stdout, sshConfigBlock("*"+nodeSuffix, "", proxyCommandLine(base)+" %r@%h", key, user))
			return nil
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		for _, ref := range args {
			n, err := resolveNode(cmd.Context(), c, ref, project)
			if err != nil {
				return err
			}
			hosts := hostKeyAlias(n)
			if n.Name != "" {
				hosts = n.Name + nodeSuffix + " " + hosts
			}
			proxy := append(append([]string{}, base...), "--project", n.ProjectID)
			fmt.Fprint(a.stdout, sshConfigBlock(hosts, hostKeyAlias(n), proxyCommandLine(proxy)+" %r@"+n.ID, key, user))
		}
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "Project id: look nodes up in this Project only")
	f.StringVar(&user, "user", "", "login user to write as User")
	return calls(cmd, "listNodes", "getNode")
}

// knownHosts is plexctl's known_hosts file, next to its managed key.
func knownHosts(key string) string { return filepath.Join(filepath.Dir(key), "known_hosts") }

// sshConfigBlock renders one Host block.
func sshConfigBlock(hosts, alias, proxy, key, user string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# plexsphere: written by 'plexctl ssh config'\nHost %s\n", hosts)
	if alias != "" {
		fmt.Fprintf(&b, "    HostKeyAlias %s\n", alias)
	}
	fmt.Fprintf(&b, "    ProxyCommand %s\n", proxy)
	fmt.Fprintf(&b, "    IdentityFile %s\n", sshConfigQuote(key))
	b.WriteString("    IdentitiesOnly yes\n")
	b.WriteString("    StrictHostKeyChecking accept-new\n")
	fmt.Fprintf(&b, "    UserKnownHostsFile %s\n", sshConfigQuote(knownHosts(key)))
	if user != "" {
		fmt.Fprintf(&b, "    User %s\n", sshConfigQuote(user))
	}
	return b.String() + "\n"
}

// sshConfigQuote double-quotes an ssh_config argument holding spaces.
func sshConfigQuote(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return strconv.Quote(s)
	}
	return s
}
