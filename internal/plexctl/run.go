package plexctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// Exit codes of Run.
const (
	ExitOK    = 0 // success
	ExitError = 1 // the command failed: API error, I/O error, failed check
	ExitUsage = 2 // the command line was wrong
)

// Run executes plexctl with args (without the program name) and returns the
// exit code. env looks up environment variables (os.Getenv when nil). Output
// goes to stdout, diagnostics and errors to stderr.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	return newApp(stdin, stdout, stderr, env).run(ctx, args)
}

// app is one invocation of plexctl: its I/O, environment and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            func(string) string
	now            func() time.Time
	httpClient     *http.Client // nil: the apiclient default
	hooks          accessHooks  // process and timing seams of the access commands
	// tty reports whether a writer is a terminal (nil: ask the OS); it
	// decides whether 'exec run --wait' draws a progress line.
	tty func(io.Writer) bool

	flags globalFlags
	// running is set when a command's own action starts; an error before
	// that came from parsing or validating the command line.
	running bool
	api     *apiclient.Client
}

// globalFlags are the persistent flags of the root command.
type globalFlags struct {
	server  string
	token   string
	context string
	output  string
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, env func(string) string) *app {
	if env == nil {
		env = os.Getenv
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, env: env, now: time.Now}
}

func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	return a.report(cmd, err)
}

// usageError marks a wrong command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCodeError ends plexctl with a given exit code, e.g. the one of the
// ssh client it ran, and prints nothing.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// report prints err and returns the exit code for it.
func (a *app) report(cmd *cobra.Command, err error) int {
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	var ue *usageError
	usage := errors.As(err, &ue) || !a.running
	fmt.Fprintln(a.stderr, "Error: "+renderError(err))
	if !usage {
		return ExitError
	}
	if cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ExitUsage
}

// renderError is "<title>: <detail> (code <code>)" for an API error, with
// the problem's pointers to offending input and authorization context on
// the following lines; other errors render as themselves.
func renderError(err error) string {
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(e.Title)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Code != "" {
		b.WriteString(" (code " + e.Code + ")")
	} else {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	for _, d := range e.Errors {
		b.WriteString("\n  - ")
		if d.Location != "" {
			b.WriteString(d.Location + ": ")
		}
		b.WriteString(d.Message)
	}
	if c := childCounts(e); c != "" {
		b.WriteString("\n  children: " + c)
	}
	if e.Reason != "" {
		b.WriteString("\n  reason: " + e.Reason)
	}
	if e.CorrelationID != "" {
		b.WriteString("\n  correlation id: " + e.CorrelationID)
	}
	if e.RetryAfter > 0 {
		b.WriteString("\n  retry after: " + e.RetryAfter.String())
	}
	return sanitize(b.String(), true)
}

// childCounts lists the non-zero delete-guard counts of a problem.
func childCounts(e *apiclient.Error) string {
	var parts []string
	add := func(name string, n int) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, n))
		}
	}
	if c := e.ChildCounts; c != nil {
		add("projects", c.Projects)
		add("groups", c.Groups)
		add("identities", c.Identities)
		add("idp_bindings", c.IdPBindings)
		add("nodes", c.Nodes)
	}
	if c := e.ProjectCounts; c != nil {
		add("resources", c.Resources)
		add("nodes", c.Nodes)
		add("relation_tuples", c.RelationTuples)
	}
	return strings.Join(parts, ", ")
}
