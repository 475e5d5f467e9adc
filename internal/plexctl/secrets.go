package plexctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxSecretValue is the largest value the server stores (512 KiB): a
// larger one is refused before anything is sent.
const maxSecretValue = 512 << 10

var secretColumns = []column[apiv1.SecretSummary]{
	{"NAME", func(s apiv1.SecretSummary) string { return s.Name }},
	{"VERSION", func(s apiv1.SecretSummary) string { return strconv.FormatInt(s.CurrentVersion, 10) }},
}

var secretVersionColumns = []column[apiv1.SecretVersion]{
	{"VERSION", func(v apiv1.SecretVersion) string { return strconv.FormatInt(v.Version, 10) }},
	{"CREATED", func(v apiv1.SecretVersion) string { return ts(v.CreatedAt) }},
	{"DESTROYED", func(v apiv1.SecretVersion) string { return tsp(v.DestroyedAt) }},
}

var secretBindingColumns = []column[apiv1.SecretBinding]{
	{"ID", func(b apiv1.SecretBinding) string { return b.ID }},
	{"NODE", func(b apiv1.SecretBinding) string { return b.NodeID }},
	{"SELECTOR", func(b apiv1.SecretBinding) string { return b.Selector }},
	{"MATCHED", func(b apiv1.SecretBinding) string { return strconv.Itoa(b.MatchedNodes) }},
	{"CREATED BY", func(b apiv1.SecretBinding) string { return b.CreatedBy }},
	{"CREATED", func(b apiv1.SecretBinding) string { return ts(b.CreatedAt) }},
}

// isTerminal reports whether f is an *os.File on a character device (a
// terminal, in practice). A variable so that tests can stand in a terminal.
var isTerminal = func(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (a *app) secretCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "secret",
		Aliases: []string{"secrets"},
		Short:   "Manage a Project's secrets: write-only values delivered to bound nodes",
		Long: `Secrets are named, versioned values of a Project. A name matches
^[a-z][a-z0-9_-]{0,62}$; a value is any bytes, at most 512 KiB. Every put
adds a version. Values are write-only: list, get, versions and bindings show
metadata, and only reveal reads a value back (permission secret-reveal,
audited).

A binding delivers the secret to one node (--node) or to the Project's nodes
a label selector matches (--selector); each node fetches it sealed to its own
key. See docs/secrets.md.

A value is never taken from the command line, where shell history and ps
would keep it: put reads it from a file or from standard input.`,
		Example: `  plexctl secret put db-password --project 0190c0de-… --file ./db-password
  plexctl secret bind db-password --project 0190c0de-… --selector role=db
  plexctl secret list --project 0190c0de-…
  plexctl secret reveal db-password --project 0190c0de-… --out ./db-password.copy`,
	})
	cmd.AddCommand(a.secretPutCommand(), a.secretListCommand(), a.secretGetCommand(), a.secretVersionsCommand(),
		a.secretDeleteCommand(), a.secretRevealCommand(), a.secretBindCommand(), a.secretUnbindCommand(),
		a.secretBindingsCommand())
	return cmd
}

// putArgs takes the secret's name only, and says why when given more.
func putArgs(_ *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usagef("put takes one argument, the secret's NAME: a value is never read from the command line, " +
			"where shell history and ps would keep it; use --file PATH or --from-stdin")
	}
	return exactArgs("NAME")(nil, args)
}

func (a *app) secretPutCommand() *cobra.Command {
	var (
		project, file string
		fromStdin     bool
		expected      int64
	)
	cmd := calls(&cobra.Command{
		Use:   "put NAME (--file PATH | --from-stdin)",
		Short: "Write a new version of a secret, reading the value from a file or stdin",
		Long: `Write a new version of a secret; the secret is created by its first put.

The value is read from --file or, with --from-stdin, from standard input,
and stored byte for byte: a trailing newline in the file is part of the
value (write it with printf, or echo -n). When standard input is a terminal,
type the value and end it with Ctrl-D; one trailing newline is dropped. An
empty value is refused. There is deliberately no flag or argument that takes
the value itself.

--expected-version N writes only if the secret is at version N (0: only if
it does not exist yet); otherwise the write fails with
secret_version_conflict and nothing changes.`,
		Example: `  plexctl secret put db-password --project 0190c0de-… --file ./db-password
  openssl rand 32 | plexctl secret put api-key --project 0190c0de-… --from-stdin
  plexctl secret put tls-key --project 0190c0de-… --file key.pem --expected-version 3 -o json`,
		Args: putArgs,
	}, "PutProjectSecret")
	projectFlag(cmd, &project)
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "read the value from this file")
	f.BoolVar(&fromStdin, "from-stdin", false, "read the value from standard input")
	f.Int64Var(&expected, "expected-version", 0, "write only if the secret is at this version (0: only if it does not exist)")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		switch {
		case file == "" && !fromStdin:
			return usagef("give the value with --file PATH or --from-stdin (never on the command line)")
		case file != "" && fromStdin:
			return usagef("give --file or --from-stdin, not both")
		}
		var cas *int64
		if cmd.Flags().Changed("expected-version") {
			if expected < 0 {
				return usagef("--expected-version must be 0 or more")
			}
			cas = &expected
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		val, err := a.readSecretValue(file)
		if err != nil {
			return err
		}
		defer clear(val)
		res, err := c.PutSecret(cmd.Context(), project, args[0], val, cas)
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(res)
		}
		fmt.Fprintf(a.stdout, "wrote %s version %d\n", sanitize(res.Name, false), res.CurrentVersion)
		return nil
	})
	return cmd
}

// readSecretValue reads a value from file, or from stdin when file is
// empty, byte for byte; from a terminal, one trailing newline is dropped.
func (a *app) readSecretValue(file string) ([]byte, error) {
	var r io.Reader = a.stdin
	from, tty := "stdin", false
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read the value: %w", err)
		}
		defer f.Close()
		r, from = f, file
	} else if tty = isTerminal(a.stdin); tty {
		fmt.Fprintln(a.stderr, "reading value from stdin (end with Ctrl-D)")
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSecretValue+1))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("read the value from %s: %w", from, err)
	}
	if tty && bytes.HasSuffix(b, []byte{'\n'}) {
		b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	}
	switch {
	case len(b) > maxSecretValue:
		clear(b)
		return nil, fmt.Errorf("the value from %s is larger than 512 KiB, the most a secret holds", from)
	case len(b) == 0 && tty:
		return nil, fmt.Errorf("no value typed: type it and end with Ctrl-D, or use --file PATH")
	case len(b) == 0:
		return nil, fmt.Errorf("the value from %s is empty: refusing to write an empty secret", from)
	}
	return b, nil
}

func (a *app) secretListCommand() *cobra.Command {
	var pf pageFlags
	var project string
	cmd := calls(&cobra.Command{
		Use:   "list",
		Short: "List a Project's secrets: names and current versions, never values",
		Example: `  plexctl secret list --project 0190c0de-…
  plexctl secret list --project 0190c0de-… --limit 50 -o json`,
		Args: exactArgs(),
	}, "ListProjectSecrets")
	listCommand(a, cmd, &pf, secretColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.SecretSummary] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.SecretSummary], error) {
			return c.ListSecrets(ctx, project, o)
		}
	})
	projectFlag(cmd, &project)
	return cmd
}

func (a *app) secretGetCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "get NAME",
		Short:   "Show a secret's metadata: current version, bindings, times (never the value)",
		Example: `  plexctl secret get db-password --project 0190c0de-…`,
		Args:    exactArgs("NAME"),
	}, "GetProjectSecret")
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		s, err := c.GetSecret(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return printFields(a, s, []field{
			{"Name", s.Name},
			{"Project", s.ProjectID},
			{"Current version", strconv.FormatInt(s.CurrentVersion, 10)},
			{"Bindings", strconv.Itoa(s.Bindings)},
			{"Created", ts(s.CreatedAt)},
			{"Updated", ts(s.UpdatedAt)},
		})
	})
	return cmd
}

func (a *app) secretVersionsCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "versions NAME",
		Short:   "List a secret's versions (no values)",
		Example: `  plexctl secret versions db-password --project 0190c0de-…`,
		Args:    exactArgs("NAME"),
	}, "ListProjectSecretVersions")
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.ListSecretVersions(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return printList(a, l, secretVersionColumns)
	})
	return cmd
}

func (a *app) secretDeleteCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "delete NAME",
		Short:   "Destroy every version of a secret and its bindings; bound nodes stop receiving it",
		Example: `  plexctl secret delete db-password --project 0190c0de-…`,
		Args:    exactArgs("NAME"),
	}, "DeleteProjectSecret")
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.DeleteSecret(cmd.Context(), project, args[0]); err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(map[string]string{"name": args[0], "project_id": project, "status": "deleted"})
		}
		fmt.Fprintf(a.stdout, "secret %q deleted\n", args[0])
		return nil
	})
	return cmd
}

func (a *app) secretRevealCommand() *cobra.Command {
	var (
		project, out string
		version      int64
	)
	cmd := calls(&cobra.Command{
		Use:   "reveal NAME",
		Short: "Read a secret's value back (permission secret-reveal; audited)",
		Long: `Read a secret's value back: the current version, or --version N.

The value goes to standard output exactly as stored, with nothing added (no
trailing newline), or with --out to FILE, which is replaced atomically and
created readable by you only (0600). -o json or yaml prints the value as
standard base64 with its name and version.

Every reveal is audited. It needs the secret-reveal permission on the
Project; a browser session needs a recent step-up, an API token does not.`,
		Example: `  plexctl secret reveal db-password --project 0190c0de-… --out ./db-password
  plexctl secret reveal db-password --project 0190c0de-… --version 2 | sha256sum
  plexctl secret reveal db-password --project 0190c0de-… -o json`,
		Args: exactArgs("NAME"),
	}, "RevealProjectSecret")
	projectFlag(cmd, &project)
	f := cmd.Flags()
	f.Int64Var(&version, "version", 0, "reveal this version (default: the current one)")
	f.StringVar(&out, "out", "", "write the value to this file (mode 0600) instead of standard output")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if version < 0 {
			return usagef("--version must be 1 or more (0: the current one)")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.RevealSecret(cmd.Context(), project, args[0], version)
		if err != nil {
			return err
		}
		defer clear(r.Value)
		if out != "" {
			return a.revealToFile(r, out)
		}
		if isTerminal(a.stdout) {
			fmt.Fprintln(a.stderr, "Warning: printing a secret value to the terminal; use --out FILE or a pipe to keep it off screen")
		}
		if a.flags.output != formatTable {
			return a.encode(r)
		}
		_, err = a.stdout.Write(r.Value)
		return err
	})
	return cmd
}

// revealToFile writes a revealed value to path and reports it.
func (a *app) revealToFile(r *apiclient.RevealedSecret, path string) error {
	if err := writePrivateFile(path, r.Value); err != nil {
		return fmt.Errorf("write the value: %w", err)
	}
	if a.flags.output != formatTable {
		return a.encode(map[string]any{"name": r.Name, "version": r.Version, "file": path})
	}
	fmt.Fprintf(a.stdout, "wrote %s version %d to %s\n", sanitize(r.Name, false), r.Version, path)
	return nil
}

// writePrivateFile replaces path with data atomically: a temporary file
// in the same directory (os.CreateTemp makes it 0600), renamed over path,
// so that the file is never readable by others nor seen half written.
func writePrivateFile(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func (a *app) secretBindCommand() *cobra.Command {
	var project string
	var in apiv1.SecretBindingRequest
	cmd := calls(&cobra.Command{
		Use:   "bind NAME (--node ID | --selector EXPR)",
		Short: "Deliver a secret to a node, or to the Project's nodes a label selector matches",
		Long: `Deliver a secret to one node of the Project (--node) or to the Project's
nodes a label selector matches (--selector, e.g. role=db; see 'plexctl
labels preview'). A selector binding follows the labels: nodes that come to
match receive the secret, nodes that stop matching no longer do.

Prints the binding's id (for unbind) and how many nodes it matches now.`,
		Example: `  plexctl secret bind db-password --project 0190c0de-… --selector 'role=db,env=prod'
  plexctl secret bind db-password --project 0190c0de-… --node 0190c0de-0000-7000-8000-000000000007`,
		Args: exactArgs("NAME"),
	}, "CreateSecretBinding")
	projectFlag(cmd, &project)
	cmd.Flags().StringVar(&in.NodeID, "node", "", "deliver to this node (id)")
	cmd.Flags().StringVar(&in.Selector, "selector", "", "deliver to the Project's nodes this label selector matches")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if (in.NodeID == "") == (in.Selector == "") {
			return usagef("give exactly one of --node and --selector")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		b, err := c.CreateSecretBinding(cmd.Context(), project, args[0], in)
		if err != nil {
			return err
		}
		if err := printFields(a, b, []field{
			{"Binding", b.ID},
			{"Node", b.NodeID},
			{"Selector", b.Selector},
			{"Matched nodes", strconv.Itoa(b.MatchedNodes)},
		}); err != nil {
			return err
		}
		if b.MatchedNodes == 0 {
			fmt.Fprintln(a.stderr, "Note: the binding matches no node now; nodes receive the secret once they match.")
		}
		return nil
	})
	return cmd
}

func (a *app) secretUnbindCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "unbind NAME BINDING_ID",
		Short:   "Stop delivering a secret through one binding",
		Example: `  plexctl secret unbind db-password 0190c0de-0000-7000-8000-0000000000b1 --project 0190c0de-…`,
		Args:    exactArgs("NAME", "BINDING_ID"),
	}, "DeleteSecretBinding")
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.DeleteSecretBinding(cmd.Context(), project, args[0], args[1]); err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(map[string]string{"name": args[0], "binding_id": args[1], "status": "deleted"})
		}
		fmt.Fprintf(a.stdout, "binding %q of secret %q deleted\n", args[1], args[0])
		return nil
	})
	return cmd
}

func (a *app) secretBindingsCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "bindings NAME",
		Short:   "List a secret's bindings and how many nodes each matches",
		Example: `  plexctl secret bindings db-password --project 0190c0de-…`,
		Args:    exactArgs("NAME"),
	}, "ListSecretBindings")
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.ListSecretBindings(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return printList(a, l, secretBindingColumns)
	})
	return cmd
}
