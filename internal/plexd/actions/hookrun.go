package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Errors of a hook run (result status "error").
var (
	ErrChecksumRequired = errors.New("hook requests must carry the hook's checksum (§12.5)")
	ErrChecksumMismatch = errors.New("hook checksum mismatch")
	ErrHookMissing      = errors.New("hook executable missing")
)

// reloadHooks re-reads the hooks directory and replaces the hook set. It
// reports whether the set changed.
func (e *Executor) reloadHooks(ctx context.Context) bool {
	hooks, errs := LoadHooks(e.opts.HooksDir, func(name string) bool { _, ok := e.builtins[name]; return ok })
	for _, err := range errs {
		e.log.LogAttrs(ctx, slog.LevelWarn, "hook manifest skipped", slog.String(logkey.Error, err.Error()))
	}
	set := make(map[string]*action, len(hooks))
	var sig strings.Builder
	for _, h := range hooks {
		set[h.Name] = e.hookAction(h)
		fmt.Fprintf(&sig, "%q %q %q %q %v %v\n", h.Name, h.Description, h.Command, h.Checksum, h.Params, h.Timeout)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	changed := sig.String() != e.hookSig
	e.hooks, e.hookSig = set, sig.String()
	return changed
}

// hookAction wraps a hook as an action.
func (e *Executor) hookAction(h *Hook) *action {
	return &action{name: h.Name, description: h.Description, params: h.Params, hook: h,
		run: func(ctx context.Context, x *execution, stdout, stderr io.Writer) (int, error) {
			return e.runHook(ctx, x, h, stdout, stderr)
		}}
}

// runHook verifies the hook's executable against its manifest and the
// request, then runs it as the hook user in a fresh working directory with
// a clean environment.
func (e *Executor) runHook(ctx context.Context, x *execution, h *Hook, stdout, stderr io.Writer) (int, error) {
	if x.req.Checksum == "" {
		return -1, ErrChecksumRequired
	}
	if err := e.verifyHook(x, h); err != nil {
		return -1, err
	}
	u, err := hookUser(e.opts.HookUser)
	if err != nil {
		return -1, err
	}
	dir, err := os.MkdirTemp("", "plexd-hook-")
	if err != nil {
		return -1, fmt.Errorf("hook working directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := chownTo(dir, u); err != nil {
		return -1, fmt.Errorf("hook working directory: %w", err)
	}
	env := hookEnv(e.opts.NodeID, x.req.ExecutionID, x.req.Parameters)
	return runProcess(ctx, procSpec{path: h.Command, env: env, dir: dir, user: u}, stdout, stderr)
}

// verifyHook hashes the executable right before the run: it must match
// the manifest, and the request's checksum must match it too. Either
// mismatch is reported as an integrity violation.
func (e *Executor) verifyHook(x *execution, h *Hook) error {
	fi, err := os.Stat(h.Command)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrHookMissing, h.Command)
	}
	if err != nil {
		return fmt.Errorf("hook %s: %w", h.Name, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("hook %s: %s is not a regular file writable only by its owner", h.Name, h.Command)
	}
	actual, err := fileChecksum(h.Command)
	if err != nil {
		return fmt.Errorf("hook %s: %w", h.Name, err)
	}
	v := nodeproto.IntegrityViolation{Type: nodeproto.IntegrityHook, Path: h.Command, ActualChecksum: actual}
	switch {
	case actual != h.Checksum:
		v.ExpectedChecksum = h.Checksum
		v.Detail = "hook " + h.Name + ": the executable does not match its manifest checksum"
	case x.req.Checksum != h.Checksum:
		v.ExpectedChecksum = x.req.Checksum
		v.Detail = "hook " + h.Name + ": the requested checksum differs from the installed hook"
	default:
		return nil
	}
	e.violation(e.base, v) // not bounded by the execution's timeout
	return fmt.Errorf("%w: %s", ErrChecksumMismatch, v.Detail)
}

// hookEnv is a hook's whole environment: PATH, the node and execution
// ids and one PLEXD_PARAM_<NAME> per parameter, sorted.
func hookEnv(nodeID, execID string, params map[string]string) []string {
	env := []string{"PATH=" + HookPath, "PLEXD_NODE_ID=" + nodeID, "PLEXD_EXECUTION_ID=" + execID}
	for name, v := range params {
		env = append(env, ParamEnv(name)+"="+v)
	}
	slices.Sort(env[3:])
	return env
}

// hookSandbox describes, for the capability manifest, how hooks run.
func (e *Executor) hookSandbox() string {
	if u, err := hookUser(e.opts.HookUser); err == nil && u != nil {
		return "user=" + u.name + ",env=clean,cwd=temp"
	}
	return "user=plexd,env=clean,cwd=temp"
}
