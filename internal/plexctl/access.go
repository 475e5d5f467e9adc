package plexctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// This file holds what the mediated-access commands (ssh, tcp, kube,
// sessions) share: the process seams, node resolution, refusal messages
// and the byte splice over an attached session.

// envExecutable overrides the path of the plexctl binary written into
// ProxyCommand lines and kubeconfig exec entries (default: this process's
// executable). Harnesses that run plexctl in process point it at a built
// binary.
const envExecutable = "PLEXCTL_EXECUTABLE"

// nodeSuffix is the host-name suffix of 'plexctl ssh config' (Host
// *.plexsphere): it is stripped before a node is looked up.
const nodeSuffix = ".plexsphere"

// accessHooks are the seams tests replace; nil fields take the defaults.
type accessHooks struct {
	// exec runs a program with the given argv and environment on plexctl's
	// stdio and returns its exit code.
	exec func(ctx context.Context, argv, env []string) (int, error)
	// sleep waits d or until ctx ends (asciicast playback).
	sleep func(ctx context.Context, d time.Duration) error
	// termSize is the local terminal's size for 'sessions terminal'.
	termSize func() (cols, rows int)
	// resizes delivers a value each time the local terminal's size
	// changes, until ctx ends (default: SIGWINCH when stdin is a terminal).
	resizes func(ctx context.Context) <-chan struct{}
}

func (a *app) execProgram(ctx context.Context, argv, env []string) (int, error) {
	if a.hooks.exec != nil {
		return a.hooks.exec(ctx, argv, env)
	}
	// Not CommandContext: an interrupt reaches the child through the
	// terminal, and plexctl waits for it to finish.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, a.stdin, a.stdout, a.stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return 0, nil
}

func (a *app) sleep(ctx context.Context, d time.Duration) error {
	if a.hooks.sleep != nil {
		return a.hooks.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// executable is the plexctl binary to name in ProxyCommand and exec
// credential entries.
func (a *app) executable() (string, error) {
	if p := a.env(envExecutable); p != "" {
		return p, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate the plexctl binary (set %s): %w", envExecutable, err)
	}
	return p, nil
}

// globalArgs are the connection flags a child plexctl (ProxyCommand, exec
// credential plugin) needs to reach the same server as this one. The
// token is never among them: it travels in the environment or the config.
func (a *app) globalArgs() []string {
	var out []string
	if a.flags.server != "" {
		out = append(out, "--server", a.flags.server)
	}
	if a.flags.context != "" {
		out = append(out, "--context", a.flags.context)
	}
	return out
}

// childEnv is the environment of a child process: this process's, with
// the variables plexctl reads taken from plexctl's own environment (which
// tests replace) and --token passed as PLEXSPHERE_TOKEN so that it never
// appears on a command line.
func (a *app) childEnv() []string {
	env := os.Environ()
	set := func(k, v string) {
		prefix := k + "="
		out := env[:0:0]
		for _, kv := range env {
			if !strings.HasPrefix(kv, prefix) {
				out = append(out, kv)
			}
		}
		env = out
		if v != "" {
			env = append(env, prefix+v)
		}
	}
	for _, k := range []string{envServer, envToken, envConfig, envExecutable, "XDG_CONFIG_HOME", "HOME"} {
		set(k, a.env(k))
	}
	if a.flags.token != "" {
		set(envToken, a.flags.token)
	}
	return env
}

// resolveNode finds the node an operator names: a node id, or a node name
// (optionally with the .plexsphere suffix), within project when set. The
// node must belong to a Resource, the object sessions are issued for.
func resolveNode(ctx context.Context, c *apiclient.Client, ref, project string) (*apiv1.Node, error) {
	ref = strings.TrimSuffix(ref, nodeSuffix)
	if ref == "" {
		return nil, usagef("node name or id is empty")
	}
	var (
		n   *apiv1.Node
		err error
	)
	if isUUID(ref) {
		n, err = c.GetNode(ctx, ref)
	} else {
		n, err = findNodeByName(ctx, c, ref, project)
	}
	if apiclient.StatusCode(err) == http.StatusNotFound {
		return nil, fmt.Errorf("node %s not found (see 'plexctl nodes list')", ref)
	}
	if err != nil {
		return nil, err
	}
	if project != "" && n.ProjectID != project {
		return nil, fmt.Errorf("node %s belongs to project %s, not %s", ref, n.ProjectID, project)
	}
	if n.ResourceID == "" || n.ProjectID == "" {
		return nil, fmt.Errorf("node %s is not attached to a Resource: sessions are issued for Resources", ref)
	}
	return n, nil
}

// findNodeByName lists the nodes and reads those named name.
func findNodeByName(ctx context.Context, c *apiclient.Client, name, project string) (*apiv1.Node, error) {
	var found []apiv1.Node
	list := func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.NodeSummary], error) {
		return c.ListNodes(ctx, "", o)
	}
	for s, err := range apiclient.Items(ctx, apiclient.ListOptions{}, list) {
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(s.Name, name) {
			continue
		}
		n, err := c.GetNode(ctx, s.ID)
		if apiclient.StatusCode(err) == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if project == "" || n.ProjectID == project {
			found = append(found, *n)
		}
	}
	where := ""
	if project != "" {
		where = " in project " + project
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no node named %q%s (see 'plexctl nodes list')", name, where)
	case 1:
		return &found[0], nil
	}
	ids := make([]string, len(found))
	for i, n := range found {
		ids[i] = n.ID
	}
	return nil, fmt.Errorf("%d nodes are named %q%s (%s): name one by id or pass --project",
		len(found), name, where, strings.Join(ids, ", "))
}

// nodeLabel names a node for messages: its name, else its id.
func nodeLabel(n *apiv1.Node) string {
	if n.Name != "" {
		return n.Name
	}
	return n.ID
}

// accessError explains a refused issuance or attach; other errors pass
// through. The problem itself follows the explanation.
func accessError(err error) error {
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return err
	}
	var why string
	switch {
	case e.Code == "step_up_required":
		why = "this Resource requires a step-up: your sign-in does not meet the IdP binding's required " +
			"acr/amr. Sign in again with a stronger method ('plexctl login') and retry"
		if acr := challengeParam(e.Challenge, "acr_values"); acr != "" {
			why += " (required acr: " + acr + ")"
		}
	case e.Status == http.StatusForbidden:
		why = "access denied: you need the connect permission on this Resource (resource#connect); " +
			"ask an operator of the Project to grant it"
	case e.Code == "session_limit_exceeded":
		why = "session limit reached: the Domain's cap on live sessions or on issuances per minute is full; " +
			"close a session or retry later"
	case e.Code == "resource_has_no_node":
		why = "the Resource has no live node to connect to"
	case e.Code == "session_not_active":
		why = "the session is no longer active (revoked or expired)"
	case strings.HasSuffix(e.Code, "_not_provisioned"):
		why = "this control plane does not serve mediated access sessions"
	default:
		return err
	}
	return fmt.Errorf("%s\n  %s", why, renderError(err))
}

// challengeParam extracts one auth-param of a WWW-Authenticate challenge.
func challengeParam(challenge, name string) string {
	_, rest, ok := strings.Cut(challenge, name+"=")
	if !ok {
		return ""
	}
	if v, ok := strings.CutPrefix(rest, `"`); ok {
		v, _, _ = strings.Cut(v, `"`)
		return v
	}
	v, _, _ := strings.Cut(rest, ",")
	return strings.TrimSpace(v)
}

// streamError explains how an attached session ended: nil for a normal
// end, else why the server closed it.
func streamError(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	code, reason, ok := apiclient.CloseReason(err)
	if !ok {
		return fmt.Errorf("session stream: %w", err)
	}
	reason = sanitize(reason, false)
	if strings.Contains(reason, "revoked") {
		return fmt.Errorf("the session was revoked (%s): the connection is closed", reason)
	}
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("the server closed the session: %s (WebSocket status %d)", reason, code)
}

// sessionEnd explains the normal end of an attached session when the
// session was revoked: the gateway may close the stream like any other
// end, so the session's status tells. Any failure to read it (no
// project#observe, say) is not an error.
func sessionEnd(ctx context.Context, c *apiclient.Client, projectID, sessionID string) error {
	if ctx.Err() != nil {
		return nil // interrupted: the operator ended it
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := c.GetSession(ctx, projectID, sessionID)
	if err != nil || s.Status != "revoked" {
		return nil
	}
	return fmt.Errorf("the session was revoked (%s): the connection is closed", firstOf(s.RevokeReason, "no reason given"))
}

// splice copies local input to the attached session and the session's
// output to out until either side ends. Local end of input closes the
// session (WebSocket has no half-close); the session's end ends the
// splice once its output is written. It returns why the session ended
// (streamError) or a local I/O error.
func splice(conn net.Conn, in io.Reader, out io.Writer) error {
	fromRemote := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, conn)
		fromRemote <- err
	}()
	fromLocal := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		fromLocal <- err
	}()
	select {
	case err := <-fromRemote:
		conn.Close()
		return streamError(err)
	case lerr := <-fromLocal:
		conn.Close()
		rerr := <-fromRemote
		if _, _, closed := apiclient.CloseReason(rerr); closed {
			return streamError(rerr) // the server ended it first
		}
		if lerr != nil && !errors.Is(lerr, net.ErrClosed) {
			return fmt.Errorf("local input: %w", lerr)
		}
		return nil
	}
}

// isUUID reports whether s has the 8-4-4-4-12 hex form of an id.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}
