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

	"golang.org/x/term"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Polling of 'exec run --wait': every pollMin while results arrive,
// backing off to pollMax while nothing changes; up to maxPollErrors
// transient failures in a row are retried.
const (
	pollMin       = 500 * time.Millisecond
	pollMax       = 2 * time.Second
	maxPollErrors = 5
)

// Output excerpts of a streamed result.
const (
	excerptLines = 3
	excerptWidth = 160
	progressBar  = 24
)

// waiter follows ex until it is done, feeding every target state to t,
// and returns the final execution.
type waiter func(ctx context.Context, c *apiclient.Client, project string, ex *apiclient.Execution,
	t *tracker) (*apiclient.Execution, error)

// follow runs wait, streaming results to stdout (stderr with -o json or
// yaml), then prints the summary (or the final execution per -o). It
// fails unless every target succeeded.
func (a *app) follow(ctx context.Context, c *apiclient.Client, project string, ex *apiclient.Execution,
	names map[string]string, wait waiter) error {
	names = a.withNodeNames(ctx, c, names, targetIDs(ex.Targets))
	out := a.stdout
	if a.flags.output != formatTable {
		out = a.stderr
	}
	var tty io.Writer
	if a.isTerminal(a.stderr) {
		tty = a.stderr
	}
	t := &tracker{out: out, tty: tty, names: names, state: map[string]apiclient.ExecutionTarget{},
		reported: map[string]bool{}}
	final, err := wait(ctx, c, project, ex, t)
	t.clear()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting; execution %s goes on (see 'plexctl exec get --project %s %s')",
				ex.ID, project, ex.ID)
		}
		return err
	}
	if a.flags.output != formatTable {
		if err := a.encode(final); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(a.stdout)
		if err := writeTable(a.stdout, final.Targets, targetColumns(names)); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s: %s", final.Status, countText(final.Targets))
		if len(final.Skipped) > 0 {
			fmt.Fprintf(a.stdout, "; %d skipped", len(final.Skipped))
		}
		fmt.Fprintln(a.stdout)
	}
	return outcome(final)
}

// outcome is nil when every target succeeded.
func outcome(ex *apiclient.Execution) error {
	bad := 0
	for _, t := range ex.Targets {
		if t.Status != apiclient.ExecutionSucceeded {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d target(s) did not succeed", bad, len(ex.Targets))
	}
	return nil
}

// done reports whether an execution needs no more following.
func done(ex *apiclient.Execution) bool {
	if apiclient.ExecutionFinal(ex.Status) {
		return true
	}
	for _, t := range ex.Targets {
		if !apiclient.ExecutionFinal(t.Status) {
			return false
		}
	}
	return len(ex.Targets) > 0
}

// pollExecution follows ex by reading it again and again.
func (a *app) pollExecution(ctx context.Context, c *apiclient.Client, project string, ex *apiclient.Execution,
	t *tracker) (*apiclient.Execution, error) {
	interval, failures := pollMin, 0
	for {
		if t.update(ex.Targets) {
			interval = pollMin
		} else {
			interval = min(interval*2, pollMax)
		}
		if done(ex) {
			return ex, nil
		}
		if err := a.sleep(ctx, interval); err != nil {
			return ex, err
		}
		next, err := c.GetExecution(ctx, project, ex.ID)
		if err != nil {
			if ctx.Err() == nil && transient(err) && failures < maxPollErrors {
				failures++
				continue
			}
			return ex, err
		}
		ex, failures = next, 0
	}
}

// transient reports whether a failed read is worth retrying: no answer,
// 429 or a server error.
func transient(err error) bool {
	st := apiclient.StatusCode(err)
	return st == 0 || st == http.StatusTooManyRequests || st >= 500
}

// streamExecution follows ex over the server's progress stream, then
// reads it whole; should the stream end early (it is bounded), polling
// takes over.
func (a *app) streamExecution(ctx context.Context, c *apiclient.Client, project string, ex *apiclient.Execution,
	t *tracker) (*apiclient.Execution, error) {
	t.update(ex.Targets)
	if done(ex) {
		return ex, nil
	}
	s, err := c.StreamExecution(ctx, project, ex.ID)
	if err != nil {
		return ex, err
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ex, err
		}
		if ev.Target != nil {
			t.update([]apiclient.ExecutionTarget{*ev.Target})
		}
	}
	final, err := c.GetExecution(ctx, project, ex.ID)
	if err != nil {
		return ex, err
	}
	if !done(final) {
		return a.pollExecution(ctx, c, project, final, t)
	}
	t.update(final.Targets)
	return final, nil
}

// tracker prints each target's result once it is final, and keeps a
// progress line on a terminal.
type tracker struct {
	out   io.Writer // result lines
	tty   io.Writer // the progress line; nil when stderr is not a terminal
	names map[string]string

	state    map[string]apiclient.ExecutionTarget
	order    []string
	reported map[string]bool
	drawn    bool
}

// update records target states, prints the newly final ones and redraws
// the progress line. It reports whether any target changed.
func (t *tracker) update(targets []apiclient.ExecutionTarget) bool {
	changed := false
	for _, x := range targets {
		old, seen := t.state[x.NodeID]
		if !seen {
			t.order = append(t.order, x.NodeID)
		}
		if !seen || old.Status != x.Status || !old.UpdatedAt.Equal(x.UpdatedAt) {
			changed = true
		}
		t.state[x.NodeID] = x
		if apiclient.ExecutionFinal(x.Status) && !t.reported[x.NodeID] {
			t.reported[x.NodeID] = true
			t.clear()
			t.printResult(x)
		}
	}
	t.draw()
	return changed
}

func (t *tracker) printResult(x apiclient.ExecutionTarget) {
	line := fmt.Sprintf("%-9s  %s", x.Status, nodeText(x.NodeID, t.names))
	if x.ExitCode != nil {
		line += fmt.Sprintf("  exit %d", *x.ExitCode)
	}
	if d := durationText(x.DurationMS); d != "" {
		line += "  " + d
	}
	if x.Detail != "" {
		line += "  (" + sanitize(x.Detail, false) + ")"
	}
	fmt.Fprintln(t.out, line)
	for _, l := range excerpt(x.Stdout) {
		fmt.Fprintln(t.out, "    stdout: "+l)
	}
	for _, l := range excerpt(x.Stderr) {
		fmt.Fprintln(t.out, "    stderr: "+l)
	}
}

// draw writes the progress line: a bar of final targets and the counts.
func (t *tracker) draw() {
	if t.tty == nil || len(t.order) == 0 {
		return
	}
	var final, ok, running int
	for _, id := range t.order {
		switch s := t.state[id].Status; {
		case s == apiclient.ExecutionSucceeded:
			final, ok = final+1, ok+1
		case apiclient.ExecutionFinal(s):
			final++
		case s == apiclient.ExecutionAck || s == apiclient.ExecutionStarted:
			running++
		}
	}
	filled := final * progressBar / len(t.order)
	fmt.Fprintf(t.tty, "\r\x1b[K[%s%s] %d/%d  %d ok  %d failed  %d running",
		strings.Repeat("#", filled), strings.Repeat(".", progressBar-filled),
		final, len(t.order), ok, final-ok, running)
	t.drawn = true
}

// clear erases the progress line, if drawn.
func (t *tracker) clear() {
	if t.drawn {
		fmt.Fprint(t.tty, "\r\x1b[K")
		t.drawn = false
	}
}

// excerpt returns the first lines of a target's output, each cut to one
// printable line, and a note of how many more there are.
func excerpt(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	var out []string
	for i, l := range lines {
		if i == excerptLines {
			out = append(out, fmt.Sprintf("… %d more line(s)", len(lines)-excerptLines))
			break
		}
		l = sanitize(strings.TrimSuffix(l, "\r"), false)
		if r := []rune(l); len(r) > excerptWidth {
			l = string(r[:excerptWidth]) + "…"
		}
		out = append(out, l)
	}
	return out
}

// targetColumns are the per-node rows of exec get and of the summary.
func targetColumns(names map[string]string) []column[apiclient.ExecutionTarget] {
	return []column[apiclient.ExecutionTarget]{
		{"NODE", func(x apiclient.ExecutionTarget) string { return x.NodeID }},
		{"NAME", func(x apiclient.ExecutionTarget) string { return names[x.NodeID] }},
		{"STATUS", func(x apiclient.ExecutionTarget) string { return x.Status }},
		{"EXIT", func(x apiclient.ExecutionTarget) string {
			if x.ExitCode == nil {
				return ""
			}
			return fmt.Sprint(*x.ExitCode)
		}},
		{"DURATION", func(x apiclient.ExecutionTarget) string { return durationText(x.DurationMS) }},
		{"DETAIL", func(x apiclient.ExecutionTarget) string { return x.Detail }},
	}
}

func durationText(ms *int64) string {
	if ms == nil {
		return ""
	}
	return (time.Duration(*ms) * time.Millisecond).String()
}

// countText is "3 targets: 2 succeeded, 1 failed", statuses in lifecycle
// order.
func countText(targets []apiclient.ExecutionTarget) string {
	n := map[string]int{}
	for _, t := range targets {
		n[t.Status]++
	}
	var parts []string
	for _, s := range apiclient.ExecutionStatuses {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	text := fmt.Sprintf("%d target(s)", len(targets))
	if len(parts) > 0 {
		text += ": " + strings.Join(parts, ", ")
	}
	return text
}

func targetIDs(targets []apiclient.ExecutionTarget) []string {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.NodeID
	}
	return ids
}

// nodeText names a node for a message: "name (id)" when its name is
// known, else the id.
func nodeText(id string, names map[string]string) string {
	if n := names[id]; n != "" {
		return sanitize(n, false) + " (" + id + ")"
	}
	return id
}

// withNodeNames returns names completed, best effort, with the names of
// ids from the node list; a failure to list leaves ids unnamed.
func (a *app) withNodeNames(ctx context.Context, c *apiclient.Client, names map[string]string, ids []string) map[string]string {
	out := map[string]string{}
	for k, v := range names {
		out[k] = v
	}
	missing := map[string]bool{}
	for _, id := range ids {
		if out[id] == "" {
			missing[id] = true
		}
	}
	if len(missing) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list := func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.NodeSummary], error) {
		return c.ListNodes(ctx, "", o)
	}
	for s, err := range apiclient.Items(ctx, apiclient.ListOptions{}, list) {
		if err != nil {
			break
		}
		if missing[s.ID] && s.Name != "" {
			out[s.ID] = s.Name
		}
	}
	return out
}

// isTerminal reports whether w is a terminal.
func (a *app) isTerminal(w io.Writer) bool {
	if a.tty != nil {
		return a.tty(w)
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
