package plexctl

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxExecTimeout is the longest per-execution timeout the API accepts.
const maxExecTimeout = 600 * time.Second

var executionColumns = []column[apiclient.Execution]{
	{"ID", func(e apiclient.Execution) string { return e.ID }},
	{"ACTION", func(e apiclient.Execution) string { return e.Action }},
	{"TYPE", func(e apiclient.Execution) string { return e.Type }},
	{"STATUS", func(e apiclient.Execution) string { return e.Status }},
	{"SELECTOR", func(e apiclient.Execution) string { return e.Selector }},
	{"CREATED", func(e apiclient.Execution) string { return ts(e.CreatedAt) }},
}

func (a *app) execCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "exec",
		Aliases: []string{"executions", "execution"},
		Short:   "Run actions and hooks on nodes, and follow their executions",
		Long: `Run a built-in action or a declared hook on one node, a list of nodes or
every node a label selector matches, then follow, list, inspect and cancel
the executions.

A dispatch checks each target when it is made: nodes you may not operate,
nodes that do not declare the action and drifted nodes (an open integrity
violation; see 'plexctl integrity list') are skipped, and the skips are
listed with their reason. Skipped nodes do not fail a run.`,
		Example: `  plexctl exec run gather_info --project 0190c0de-… --node web-1 --wait
  plexctl exec run ping --project 0190c0de-… --selector 'env=prod,role in (web,api)' --max-in-flight 10 --wait
  plexctl exec list --project 0190c0de-… --status failed
  plexctl exec get --project 0190c0de-… 0190c0de-…-e7ec`,
	})
	cmd.AddCommand(a.execRunCommand(), a.execListCommand(), a.execGetCommand(), a.execWatchCommand(),
		a.execCancelCommand())
	return cmd
}

// runFlags are the flags of 'plexctl exec run'.
type runFlags struct {
	project, selector, typ, idempotencyKey string
	nodes, params                          []string
	timeout                                time.Duration
	maxInFlight, stopAfterFailures, batch  int
	includeDrifted, dryRun, wait           bool
}

func (a *app) execRunCommand() *cobra.Command {
	var rf runFlags
	cmd := calls(&cobra.Command{
		Use:   "run ACTION (--node N ... | --selector EXPR)",
		Short: "Run an action or hook on nodes; --wait follows the results",
		Long: `Run ACTION (a built-in such as gather_info, ping, service.restart, file.read,
diagnostics.bundle, or with --type hook a hook the nodes declare) on the
nodes --node names (ids or names, repeatable) or on every node of the
Project --selector matches at dispatch time.

Without --wait, plexctl prints the execution id and returns; follow it
with 'plexctl exec watch' or 'plexctl exec get'. With --wait, each node's
result is printed as it becomes final (status, exit code, duration and the
first lines of its output), a progress line is drawn when stderr is a
terminal, and a per-node summary ends the run. The exit code is 0 only when
every target succeeded; skipped nodes are listed but do not fail the run.

--dry-run resolves and checks the targets and prints what would run and
what would be skipped, without running anything. Rollout controls:
--max-in-flight bounds how many targets run at once, --batch-size runs the
targets in batches (the next starts once every target of the one before has
ended), --stop-after-failures cancels the targets not yet started once that
many failed. Drifted nodes (an open integrity violation, or a policy ruleset
other than the one sent, for longer than the server's state_drift_after)
are skipped unless --include-drifted.`,
		Example: `  # One node, by name, and wait for its result:
  plexctl exec run gather_info --project 0190c0de-… --node web-1 --wait

  # A fleet, ten at a time, stopping after three failures:
  plexctl exec run service.restart --project 0190c0de-… --selector 'role=web' \
      --param unit=nginx.service --max-in-flight 10 --stop-after-failures 3 --wait

  # A canary batch of 5, then batches of 5 once each has ended:
  plexctl exec run service.restart --project 0190c0de-… --selector 'role=web' \
      --param unit=nginx.service --batch-size 5 --stop-after-failures 1 --wait

  # What would run, without running it:
  plexctl exec run diagnostics.bundle --project 0190c0de-… --selector 'env=prod' --dry-run

  # A hook, including drifted nodes, final execution as JSON:
  plexctl exec run rotate-logs --type hook --project 0190c0de-… --node web-1 --node web-2 \
      --include-drifted --wait -o json`,
		Args: exactArgs("ACTION"),
	}, "DispatchExecution", "PreviewExecution", "GetExecution")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		return a.execRun(cmd.Context(), args[0], rf)
	})
	addProjectFlag(cmd, &rf.project)
	f := cmd.Flags()
	f.StringSliceVar(&rf.nodes, "node", nil, "target node id or name (repeatable, or comma-separated)")
	f.StringVar(&rf.selector, "selector", "", "target every node of the Project this label selector matches")
	f.StringVar(&rf.typ, "type", "", "builtin (the server's default) or hook")
	f.StringArrayVar(&rf.params, "param", nil, "action parameter name=value (repeatable)")
	f.DurationVar(&rf.timeout, "timeout", 0, "per-target timeout, whole seconds up to 10m (0: the server's default)")
	f.IntVar(&rf.maxInFlight, "max-in-flight", 0, "run on at most this many nodes at once (0: all)")
	f.IntVar(&rf.stopAfterFailures, "stop-after-failures", 0, "cancel targets not yet started after this many failed (0: never)")
	f.IntVar(&rf.batch, "batch-size", 0, "run in batches of this many nodes: a batch starts once the one before has ended (0: one batch)")
	f.BoolVar(&rf.includeDrifted, "include-drifted", false, "also run on drifted nodes (open integrity violation, or diverged policy state)")
	f.BoolVar(&rf.dryRun, "dry-run", false, "print the targets and skips, run nothing")
	f.BoolVar(&rf.wait, "wait", false, "follow the results until every target is final; exit 1 unless all succeeded")
	f.StringVar(&rf.idempotencyKey, "idempotency-key", "", "a repeat with the same key answers the original execution")
	return cmd
}

// request checks the flags that need no server and builds the body,
// without the targets named by --node (those need resolving).
func (rf runFlags) request(action string) (apiclient.DispatchExecutionRequest, error) {
	in := apiclient.DispatchExecutionRequest{Action: action, Type: rf.typ, Selector: rf.selector,
		MaxInFlight: rf.maxInFlight, StopAfterFailures: rf.stopAfterFailures, BatchSize: rf.batch, IncludeDrifted: rf.includeDrifted,
		IdempotencyKey: rf.idempotencyKey}
	switch {
	case strings.TrimSpace(action) == "":
		return in, usagef("ACTION is empty")
	case len(rf.nodes) == 0 && rf.selector == "":
		return in, usagef("name the targets with --node or --selector")
	case len(rf.nodes) > 0 && rf.selector != "":
		return in, usagef("--node and --selector exclude each other")
	case rf.maxInFlight < 0 || rf.stopAfterFailures < 0 || rf.batch < 0:
		return in, usagef("--max-in-flight, --stop-after-failures and --batch-size must not be negative")
	case rf.timeout < 0 || rf.timeout%time.Second != 0 || rf.timeout > maxExecTimeout:
		return in, usagef("--timeout must be whole seconds between 1s and %s, e.g. 5m", maxExecTimeout)
	case rf.dryRun && rf.wait:
		return in, usagef("--dry-run runs nothing: it cannot --wait")
	}
	if err := oneOf("--type", rf.typ, "builtin", "hook"); err != nil {
		return in, err
	}
	in.TimeoutSeconds = int(rf.timeout / time.Second)
	params, err := parseParams(rf.params)
	if err != nil {
		return in, err
	}
	in.Parameters = params
	return in, nil
}

// parseParams turns name=value pairs into the parameters object (string
// values: the server passes every parameter to the node as a string).
func parseParams(pairs []string) (json.RawMessage, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("invalid --param %q: use name=value", p)
		}
		if _, dup := m[k]; dup {
			return nil, usagef("--param %s is given twice", k)
		}
		m[k] = v
	}
	return json.Marshal(m)
}

func (a *app) execRun(ctx context.Context, action string, rf runFlags) error {
	in, err := rf.request(action)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	names, err := a.setTargets(ctx, c, rf, &in)
	if err != nil {
		return err
	}
	if rf.dryRun {
		pv, err := c.PreviewExecution(ctx, rf.project, in)
		if err != nil {
			return err
		}
		return a.printPreview(ctx, c, pv, names)
	}
	ex, err := c.DispatchExecution(ctx, rf.project, in)
	if err != nil {
		return err
	}
	if !rf.wait {
		return a.printDispatched(ctx, c, rf.project, ex, names)
	}
	fmt.Fprintf(a.stderr, "Execution %s: %s on %d node(s)\n", ex.ID, sanitize(ex.Action, false), len(ex.Targets))
	a.printSkipped(ctx, c, ex.Skipped, names)
	return a.follow(ctx, c, rf.project, ex, names, a.pollExecution)
}

// setTargets fills the request's node_id or node_ids from --node and
// returns the names operators used, by node id.
func (a *app) setTargets(ctx context.Context, c *apiclient.Client, rf runFlags, in *apiclient.DispatchExecutionRequest) (map[string]string, error) {
	names := map[string]string{}
	var ids []string
	for _, ref := range rf.nodes {
		ref = strings.TrimSuffix(strings.TrimSpace(ref), nodeSuffix)
		if ref == "" {
			return nil, usagef("--node is empty")
		}
		id := ref
		if !isUUID(ref) {
			n, err := findNodeByName(ctx, c, ref, rf.project)
			if err != nil {
				return nil, err
			}
			id, names[n.ID] = n.ID, nodeLabel(n)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	switch len(ids) {
	case 0:
	case 1:
		in.NodeID = ids[0]
	default:
		in.NodeIDs = ids
	}
	return names, nil
}

// printDispatched reports a dispatch that is not waited for: the id on
// stdout (or the execution per -o), the skips on stderr.
func (a *app) printDispatched(ctx context.Context, c *apiclient.Client, project string, ex *apiclient.Execution,
	names map[string]string) error {
	if a.flags.output != formatTable {
		return a.encode(ex)
	}
	fmt.Fprintln(a.stdout, ex.ID)
	fmt.Fprintf(a.stderr, "Dispatched %s to %d node(s); follow it with 'plexctl exec watch --project %s %s'\n",
		sanitize(ex.Action, false), len(ex.Targets), project, ex.ID)
	a.printSkipped(ctx, c, ex.Skipped, names)
	return nil
}

// printSkipped lists the skipped nodes with their reason on stderr.
func (a *app) printSkipped(ctx context.Context, c *apiclient.Client, skipped []apiclient.SkippedTarget, names map[string]string) {
	if len(skipped) == 0 {
		return
	}
	names = a.withNodeNames(ctx, c, names, skippedIDs(skipped))
	fmt.Fprintf(a.stderr, "Skipped %d node(s):\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(a.stderr, "  %s: %s\n", nodeText(s.NodeID, names), skipReason(s))
	}
}

func skippedIDs(skipped []apiclient.SkippedTarget) []string {
	ids := make([]string, len(skipped))
	for i, s := range skipped {
		ids[i] = s.NodeID
	}
	return ids
}

// skipReason explains why a node was skipped.
func skipReason(s apiclient.SkippedTarget) string {
	switch s.Reason {
	case "insufficient_relation":
		return "insufficient_relation (you may not operate this node)"
	case "action_not_declared":
		return "action_not_declared (the node does not declare this action or hook)"
	case "drifted":
		why := "open integrity violation"
		if s.Detail != "" {
			why = sanitize(s.Detail, false)
		}
		return "drifted (" + why + "; --include-drifted runs anyway)"
	}
	return sanitize(s.Reason, false)
}

// previewView is the table rendering of a dry run.
type previewView struct {
	NodeID, Name, Reason string
}

func (a *app) printPreview(ctx context.Context, c *apiclient.Client, pv *apiclient.DispatchPreview, names map[string]string) error {
	if a.flags.output != formatTable {
		return a.encode(pv)
	}
	names = a.withNodeNames(ctx, c, names, append(slices.Clone(pv.Targets), skippedIDs(pv.Skipped)...))
	rows := make([]previewView, 0, len(pv.Targets)+len(pv.Skipped))
	for _, id := range pv.Targets {
		rows = append(rows, previewView{NodeID: id, Name: names[id], Reason: "would run"})
	}
	for _, s := range pv.Skipped {
		rows = append(rows, previewView{NodeID: s.NodeID, Name: names[s.NodeID], Reason: "skip: " + skipReason(s)})
	}
	if err := writeTable(a.stdout, rows, []column[previewView]{
		{"NODE", func(v previewView) string { return v.NodeID }},
		{"NAME", func(v previewView) string { return v.Name }},
		{"PLAN", func(v previewView) string { return v.Reason }},
	}); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Dry run: would run on %d node(s), skip %d; nothing was run.\n", len(pv.Targets), len(pv.Skipped))
	return nil
}

func (a *app) execListCommand() *cobra.Command {
	var (
		pf      pageFlags
		project string
		filter  apiclient.ExecutionFilter
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the executions of a Project, oldest first",
		Example: `  plexctl exec list --project 0190c0de-…
  plexctl exec list --project 0190c0de-… --status failed --action service.restart -o json`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, executionColumns, func(c *apiclient.Client) apiclient.PageFunc[apiclient.Execution] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiclient.Execution], error) {
			return c.ListExecutions(ctx, project, filter, o)
		}
	})
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := oneOf("--status", filter.Status, apiclient.ExecutionStatuses...); err != nil {
			return err
		}
		return run(cmd, args)
	}
	addProjectFlag(cmd, &project)
	f := cmd.Flags()
	f.StringVar(&filter.Status, "status", "", "only executions in this status: "+strings.Join(apiclient.ExecutionStatuses, ", "))
	f.StringVar(&filter.ActionName, "action", "", "only executions of this action or hook")
	return calls(cmd, "ListExecutions")
}

func (a *app) execGetCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:   "get ID",
		Short: "Show an execution with every target's status, exit code, duration and detail",
		Long: `Show an execution and a row per target. -o json or -o yaml include each
target's captured stdout and stderr.`,
		Example: `  plexctl exec get --project 0190c0de-… 0190c0de-…-e7ec
  plexctl exec get --project 0190c0de-… 0190c0de-…-e7ec -o json | jq -r '.targets[].stdout'`,
		Args: exactArgs("ID"),
	}, "GetExecution")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		ex, err := c.GetExecution(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(ex)
		}
		if err := printFields(a, ex, executionFields(ex)); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout)
		names := a.withNodeNames(cmd.Context(), c, nil, append(targetIDs(ex.Targets), skippedIDs(ex.Skipped)...))
		if err := writeTable(a.stdout, ex.Targets, targetColumns(names)); err != nil {
			return err
		}
		a.printSkipped(cmd.Context(), c, ex.Skipped, names)
		return nil
	})
	addProjectFlag(cmd, &project)
	return cmd
}

func batchText(n int) string {
	if n > 0 {
		return fmt.Sprint(n)
	}
	return "one batch"
}

func executionFields(ex *apiclient.Execution) []field {
	maxInFlight := "all"
	if ex.MaxInFlight > 0 {
		maxInFlight = fmt.Sprint(ex.MaxInFlight)
	}
	return []field{
		{"ID", ex.ID},
		{"Action", ex.Action},
		{"Type", ex.Type},
		{"Status", ex.Status},
		{"Selector", ex.Selector},
		{"Max in flight", maxInFlight},
		{"Batch size", batchText(ex.BatchSize)},
		{"Targets", countText(ex.Targets)},
		{"Skipped", fmt.Sprint(len(ex.Skipped))},
		{"Project", ex.ProjectID},
		{"Created", ts(ex.CreatedAt)},
		{"Updated", ts(ex.UpdatedAt)},
	}
}

func (a *app) execWatchCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:   "watch ID",
		Short: "Follow an execution's results live until every target is final",
		Long: `Follow an execution over the server's progress stream: each target's result
is printed as it becomes final, with a progress line when stderr is a
terminal, then the per-node summary. The exit code is 0 only when every
target succeeded. Interrupting stops watching; the execution goes on.`,
		Example: `  plexctl exec watch --project 0190c0de-… 0190c0de-…-e7ec`,
		Args:    exactArgs("ID"),
	}, "StreamExecution", "GetExecution")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		ex, err := c.GetExecution(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return a.follow(cmd.Context(), c, project, ex, nil, a.streamExecution)
	})
	addProjectFlag(cmd, &project)
	return cmd
}

func (a *app) execCancelCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an execution: targets not started are cancelled, running ones told to stop",
		Long: `Cancel an execution. Targets not yet started are cancelled at once, running
targets are cancelled and their nodes told to stop. Cancelling a finished
execution changes nothing and shows it as it is.`,
		Example: `  plexctl exec cancel --project 0190c0de-… 0190c0de-…-e7ec`,
		Args:    exactArgs("ID"),
	}, "CancelExecution")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		ex, err := c.CancelExecution(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(ex)
		}
		fmt.Fprintf(a.stdout, "execution %s: %s (%s)\n", ex.ID, ex.Status, countText(ex.Targets))
		return nil
	})
	addProjectFlag(cmd, &project)
	return cmd
}
