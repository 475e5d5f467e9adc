package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/version"
)

// Limits of the executor (§12.5).
const (
	// MaxConcurrent is how many executions run at once; more are
	// rejected with max_concurrent_reached.
	MaxConcurrent = 5
	// MaxOutput caps stdout and stderr each; Truncated marks a cut stream.
	MaxOutput = 1 << 20
	Truncated = "\n...[truncated]"
	// HookPath is the whole PATH of a hook's environment.
	HookPath = "/usr/sbin:/usr/bin:/sbin:/bin"
	// maxSeen bounds the persisted execution ids.
	maxSeen = 4096
	// maxRejects bounds the rejection acks waiting to be sent.
	maxRejects = 64
)

// ControlPlane is what the executor calls on the control plane.
// *cpclient.Client implements it.
type ControlPlane interface {
	ExecutionAck(ctx context.Context, nodeID, execID string, ack nodeproto.ExecutionAck) error
	ExecutionResult(ctx context.Context, nodeID, execID string, r nodeproto.ExecutionResult) error
	PutCapabilities(ctx context.Context, nodeID string, caps nodeproto.Capabilities) error
	IntegrityViolation(ctx context.Context, nodeID string, v nodeproto.IntegrityViolation) error
}

// NodeStatus is what the built-ins read about the running node.
type NodeStatus struct {
	MeshIP    string
	PeerCount int
	// Detail is plexd's status document (agent.Status), written as
	// status.json into diagnostics bundles; nil leaves it out.
	Detail any
}

// ExecFunc runs the system command name (looked up in PATH) with args,
// writing its output to stdout and stderr, and returns its exit code. A
// command that is not installed yields an error wrapping exec.ErrNotFound.
type ExecFunc func(ctx context.Context, name string, args []string, stdout, stderr io.Writer) (int, error)

// Options configures an Executor.
type Options struct {
	NodeID       string       // required
	ControlPlane ControlPlane // required
	// DataDir keeps the seen execution ids and undelivered results
	// (under DataDir/actions); "" keeps them in memory only.
	DataDir string
	// Disabled rejects every request with actions_disabled.
	Disabled bool
	// ServiceAllow lists the units service.restart may restart.
	ServiceAllow []string
	// FileAllow lists the absolute path prefixes file.read may read.
	FileAllow []string
	// HooksDir holds the hook manifests (*.yaml, *.yml); "" has no hooks.
	HooksDir string
	// HookUser runs hooks when plexd is root; "" (or plexd not root)
	// runs them as plexd's own user.
	HookUser string
	// Status reports the node for gather_info and diagnostics.bundle;
	// nil reports nothing.
	Status func() NodeStatus
	// Logs are the recent log lines of diagnostics.bundle; nil has none.
	Logs *LogRing
	// Exec runs ping and systemctl; real processes when nil.
	Exec ExecFunc
	// BinaryPath and BinaryChecksum name and hash the binary on disk
	// (os.Executable and its SHA-256 when empty/nil). StartChecksum gives
	// the running binary's checksum once at Run (BinaryChecksum when nil),
	// so a caller can share one hash with the agent.
	BinaryPath     string
	BinaryChecksum func() (string, error)
	StartChecksum  func() (string, error)
	// Version is the binary version reported (version.Version when "").
	Version string
	// HooksPoll is how often the hooks directory is re-read (30 s);
	// IntegrityInterval how often the binary is re-hashed (5 min).
	HooksPoll, IntegrityInterval time.Duration
	// RetryMin and RetryMax bound the result delivery backoff (1 s, 1 min).
	RetryMin, RetryMax time.Duration
	Clock              clock.Clock
	Logger             *slog.Logger
}

// Executor runs action requests for one node. Run must be running for
// acks, results and capabilities to be sent.
type Executor struct {
	opts     Options
	log      *slog.Logger
	clk      clock.Clock
	builtins map[string]*action
	out      *outbox
	rejects  chan nodeproto.ExecutionAck
	base     context.Context // ends at shutdown; every execution runs under it
	stop     context.CancelFunc
	execs    sync.WaitGroup // running executions

	// mu guards everything below.
	mu       sync.Mutex
	seen     *seenSet
	running  map[string]*execution
	shutting bool
	hooks    map[string]*action // by name, from the hooks directory
	hookSig  string             // fingerprint of the manifests last read
	binary   binaryState
}

// execution is one accepted request.
type execution struct {
	req    nodeproto.ActionRequest
	act    *action
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// action is a built-in or a hook as the executor runs it.
type action struct {
	name, description string
	params            []nodeproto.ActionParam
	hook              *Hook // nil for built-ins
	// run does the work; a non-nil error is an "error" result.
	run func(ctx context.Context, x *execution, stdout, stderr io.Writer) (int, error)
}

// Causes of a cancelled execution.
var (
	errCancelled = errors.New("cancelled by request")
	errShutdown  = errors.New("plexd is shutting down")
)

// New validates opts, fills defaults and loads the persisted state.
func New(opts Options) (*Executor, error) {
	switch {
	case opts.NodeID == "":
		return nil, errors.New("actions: Options.NodeID is required")
	case opts.ControlPlane == nil:
		return nil, errors.New("actions: Options.ControlPlane is required")
	}
	fillDefaults(&opts)
	for _, p := range opts.FileAllow {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("actions: Options.FileAllow: %q is not absolute", p)
		}
	}
	stateDir := ""
	if opts.DataDir != "" {
		stateDir = filepath.Join(opts.DataDir, "actions")
		if err := os.MkdirAll(filepath.Join(stateDir, "results"), 0o700); err != nil {
			return nil, fmt.Errorf("actions: %w", err)
		}
	}
	e := &Executor{opts: opts, log: opts.Logger, clk: clock.OrReal(opts.Clock),
		rejects: make(chan nodeproto.ExecutionAck, maxRejects), running: map[string]*execution{}}
	e.base, e.stop = context.WithCancel(context.Background())
	var err error
	if e.seen, err = loadSeen(stateDir, maxSeen); err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	if e.out, err = loadOutbox(stateDir); err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	e.builtins = e.builtinActions()
	e.reloadHooks(context.Background())
	return e, nil
}

func fillDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Exec == nil {
		o.Exec = execSystem
	}
	if o.BinaryChecksum == nil {
		o.BinaryChecksum = executableChecksum
	}
	if o.StartChecksum == nil {
		o.StartChecksum = o.BinaryChecksum
	}
	if o.BinaryPath == "" {
		o.BinaryPath, _ = os.Executable()
	}
	if o.Version == "" {
		o.Version = version.Version
	}
	if o.Status == nil {
		o.Status = func() NodeStatus { return NodeStatus{} }
	}
	o.HooksPoll = orDuration(o.HooksPoll, 30*time.Second)
	o.IntegrityInterval = orDuration(o.IntegrityInterval, 5*time.Minute)
	o.RetryMin = orDuration(o.RetryMin, time.Second)
	o.RetryMax = orDuration(o.RetryMax, time.Minute)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Submit takes one action_request: it rejects it (ack with a reason) or
// accepts it and runs it in the background. It never blocks on the
// control plane. Requests without a valid execution id are dropped.
func (e *Executor) Submit(ctx context.Context, req nodeproto.ActionRequest) {
	if !nodeproto.ValidID(req.ExecutionID) {
		e.log.LogAttrs(ctx, slog.LevelWarn, "action request dropped: no valid execution id")
		return
	}
	if !e.known(req.Action) {
		e.reloadHooks(ctx) // a hook installed since the last poll
	}
	x, reason := e.admit(ctx, req)
	if reason != "" {
		e.log.LogAttrs(ctx, slog.LevelInfo, "action request rejected", slog.String(keyExecutionID, req.ExecutionID),
			slog.String(keyAction, req.Action), slog.String(logkey.Reason, reason))
		select {
		case e.rejects <- nodeproto.ExecutionAck{ExecutionID: req.ExecutionID, Status: nodeproto.AckRejected, Reason: reason}:
		default:
			e.log.LogAttrs(ctx, slog.LevelWarn, "rejection ack dropped: queue full", slog.String(keyExecutionID, req.ExecutionID))
		}
		return
	}
	go e.execute(x)
}

// known reports whether name is a built-in or a loaded hook.
func (e *Executor) known(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lookupLocked(name) != nil
}

func (e *Executor) lookupLocked(name string) *action {
	if a, ok := e.builtins[name]; ok {
		return a
	}
	return e.hooks[name]
}

// admit decides the ack (§12.5) and registers an accepted execution. Every
// decided id is remembered, so a redelivered request is a duplicate.
func (e *Executor) admit(ctx context.Context, req nodeproto.ActionRequest) (*execution, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	act := e.lookupLocked(req.Action)
	reason := ""
	switch {
	case e.opts.Disabled:
		reason = nodeproto.AckReasonActionsDisabled
	case e.shutting:
		reason = nodeproto.AckReasonShuttingDown
	case e.seen.has(req.ExecutionID):
		return nil, nodeproto.AckReasonDuplicateExecutionID
	case act == nil:
		reason = nodeproto.AckReasonUnknownAction
	case len(e.running) >= MaxConcurrent && req.Action != BuiltinCancel:
		reason = nodeproto.AckReasonMaxConcurrent
	}
	if err := e.seen.add(req.ExecutionID); err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "persisting the execution id failed", slog.String(logkey.Error, err.Error()))
	}
	if reason != "" {
		return nil, reason
	}
	x := &execution{req: req, act: act}
	x.ctx, x.cancel = context.WithCancelCause(e.base)
	e.running[req.ExecutionID] = x
	e.execs.Add(1)
	return x, ""
}

// Cancel ends a running execution, whose result is then "cancelled". It
// reports whether the execution was running.
func (e *Executor) Cancel(executionID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.running[executionID]
	if ok {
		x.cancel(errCancelled)
	}
	return ok
}

// Running lists the ids of the executions running now, sorted.
func (e *Executor) Running() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.running))
	for id := range e.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Pending is the number of results not yet delivered.
func (e *Executor) Pending() int { return e.out.len() }

// execute acks, runs and queues the result of one accepted execution.
func (e *Executor) execute(x *execution) {
	defer e.execs.Done()
	defer func() {
		e.mu.Lock()
		delete(e.running, x.req.ExecutionID)
		e.mu.Unlock()
		x.cancel(nil)
	}()
	ack := nodeproto.ExecutionAck{ExecutionID: x.req.ExecutionID, Status: nodeproto.AckAccepted}
	if err := e.opts.ControlPlane.ExecutionAck(e.base, e.opts.NodeID, x.req.ExecutionID, ack); err != nil {
		e.log.LogAttrs(x.ctx, slog.LevelWarn, "execution ack failed", slog.String(keyExecutionID, x.req.ExecutionID), slog.String(logkey.Error, err.Error()))
	}
	res := e.perform(x)
	e.log.LogAttrs(x.ctx, slog.LevelInfo, "execution finished", slog.String(keyExecutionID, res.ExecutionID),
		slog.String(keyAction, x.req.Action), slog.String(keyStatus, res.Status), slog.Int(keyExitCode, res.ExitCode))
	for _, dropped := range e.out.add(res) {
		e.log.LogAttrs(x.ctx, slog.LevelWarn, "undelivered result dropped: queue full", slog.String(keyExecutionID, dropped))
	}
}

// perform runs the action under its timeout and builds the result.
func (e *Executor) perform(x *execution) nodeproto.ExecutionResult {
	start := e.clk.Now()
	stdout, stderr := newCapBuffer(MaxOutput), newCapBuffer(MaxOutput)
	code, err := -1, checkParams(x.act.params, x.req.Parameters)
	if err == nil {
		ctx, cancel := context.WithTimeout(x.ctx, e.timeout(x))
		code, err = x.act.run(ctx, x, stdout, stderr)
		err = classify(ctx, x.ctx, err)
		cancel()
	}
	res := nodeproto.ExecutionResult{ExecutionID: x.req.ExecutionID, ExitCode: code, Stdout: stdout.String(),
		Stderr: stderr.String(), TriggeredBy: x.req.TriggeredBy}
	switch {
	case errors.Is(err, errTimeout):
		res.Status = nodeproto.ResultTimeout
	case errors.Is(err, errCancelled), errors.Is(err, errShutdown):
		res.Status, res.Error = nodeproto.ResultCancelled, context.Cause(x.ctx).Error()
	case err != nil:
		res.Status, res.Error = nodeproto.ResultError, err.Error()
	case code != 0:
		res.Status = nodeproto.ResultFailed
	default:
		res.Status = nodeproto.ResultSuccess
	}
	now := e.clk.Now()
	res.Duration, res.FinishedAt = now.Sub(start).String(), now.UTC()
	return res
}

var errTimeout = errors.New("timed out")

// classify turns the end of an execution's contexts into its cause:
// cancellation (by request or shutdown) wins over the timeout, which
// wins over the action's own error.
func classify(run, exec context.Context, err error) error {
	switch {
	case exec.Err() != nil:
		return context.Cause(exec)
	case errors.Is(run.Err(), context.DeadlineExceeded):
		return errTimeout
	}
	return err
}

// timeout is the request's effective timeout, capped by the hook's.
func (e *Executor) timeout(x *execution) time.Duration {
	d := x.req.EffectiveTimeout()
	if x.act.hook != nil && x.act.hook.Timeout > 0 && x.act.hook.Timeout < d {
		d = x.act.hook.Timeout
	}
	return d
}

// Run sends acks, results and capabilities, watches the hooks directory
// and the binary, until ctx ends; it then refuses new requests, cancels
// the running executions and waits for their results to be queued.
func (e *Executor) Run(ctx context.Context) error {
	e.initBinary(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.deliver(ctx) })
	wg.Go(func() { e.sendRejects(ctx) })
	wg.Go(func() { e.capabilitiesLoop(ctx) })
	wg.Go(func() { e.integrityLoop(ctx) })
	<-ctx.Done()
	e.mu.Lock()
	e.shutting = true
	for _, x := range e.running {
		x.cancel(errShutdown)
	}
	e.mu.Unlock()
	e.stop() // pending acks and reports give up; results stay queued on disk
	e.execs.Wait()
	wg.Wait()
	return nil
}

// sendRejects posts the rejection acks in order.
func (e *Executor) sendRejects(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ack := <-e.rejects:
			if err := e.opts.ControlPlane.ExecutionAck(ctx, e.opts.NodeID, ack.ExecutionID, ack); err != nil {
				e.log.LogAttrs(ctx, slog.LevelWarn, "execution ack failed", slog.String(keyExecutionID, ack.ExecutionID), slog.String(logkey.Error, err.Error()))
			}
		}
	}
}

// violation reports an integrity violation, logging a failure.
func (e *Executor) violation(ctx context.Context, v nodeproto.IntegrityViolation) {
	v.Timestamp = e.clk.Now().UTC()
	e.log.LogAttrs(ctx, slog.LevelError, "integrity violation", slog.String(logkey.Kind, v.Type), slog.String(keyPath, v.Path),
		slog.String(logkey.Detail, v.Detail))
	if err := e.opts.ControlPlane.IntegrityViolation(ctx, e.opts.NodeID, v); err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "integrity violation report failed", slog.String(logkey.Error, err.Error()))
	}
}
