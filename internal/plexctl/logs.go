package plexctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// logsCommand queries and follows node logs and host audit (issue 15).
func (a *app) logsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Query and follow node logs and host audit events (LogQL)",
		Long: `Query a Domain's node log lines, or with stream="audit" its node audit
events, with the LogQL subset of docs/observability.md: a stream selector
{label op "value", …} (labels node_id, project_id, hostname, source, unit,
severity; for audit action and outcome; ops = != =~ !~) and line filters
|= != |~ !~. Only the nodes you may read are searched.`,
		Example: `  plexctl logs query '{unit="nginx.service"} |= "error"' --domain 0190c0de-… --since 1h
  plexctl logs tail -f '{stream="audit", outcome="failure"}' --domain 0190c0de-…`,
	}
	cmd.AddCommand(a.logsQueryCommand(), a.logsTailCommand())
	return cmd
}

// logRow is one line as printed.
type logRow struct {
	Time   time.Time         `json:"time"`
	Labels map[string]string `json:"labels"`
	Line   string            `json:"line"`
}

func logRows(streams []apiclient.LogStream) []logRow {
	var out []logRow
	for _, s := range streams {
		for _, v := range s.Values {
			ns, _ := strconv.ParseInt(v[0], 10, 64)
			out = append(out, logRow{Time: time.Unix(0, ns).UTC(), Labels: s.Stream, Line: v[1]})
		}
	}
	return out
}

// printLogRows prints rows as JSON lines (-o json/yaml) or as text: time,
// hostname or node, unit/source, severity, line.
func (a *app) printLogRows(rows []logRow) error {
	if a.flags.output != formatTable {
		enc := json.NewEncoder(a.stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range rows {
		who := r.Labels["hostname"]
		if who == "" {
			who = r.Labels["node_id"]
		}
		what := r.Labels["unit"]
		if what == "" {
			what = r.Labels["source"]
		}
		level := r.Labels["severity"]
		if r.Labels["stream"] == "audit" {
			level = r.Labels["action"] + "/" + r.Labels["outcome"]
		}
		if _, err := fmt.Fprintf(a.stdout, "%s %s %s %s %s\n", r.Time.Format(time.RFC3339Nano), who, what, level,
			strings.ReplaceAll(r.Line, "\n", `\n`)); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) logsQueryCommand() *cobra.Command {
	var (
		domain, start, end, direction, node string
		since                               time.Duration
		limit                               int
	)
	cmd := calls(&cobra.Command{
		Use:   "query LOGQL",
		Short: "Run a LogQL query over a time window",
		Example: `  plexctl logs query '{unit=~"sshd.*"} |= "Failed"' --domain 0190c0de-… --since 6h
  plexctl logs query '{stream="audit", outcome="failure"}' --domain 0190c0de-… --start 2026-03-01T00:00:00Z --end 2026-03-02T00:00:00Z
  plexctl logs query '{severity=~"err|crit"}' --domain 0190c0de-… --limit 1000 --direction forward -o json`,
		Args: exactArgs("LOGQL"),
	}, "QueryDomainLogs")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		q := apiclient.LogsQuery{Query: args[0], Limit: limit, Direction: direction, NodeID: node}
		now := time.Now()
		q.End = now
		if end != "" {
			t, err := time.Parse(time.RFC3339Nano, end)
			if err != nil {
				return usagef("--end must be an RFC 3339 time")
			}
			q.End = t
		}
		switch {
		case start != "" && cmd.Flags().Changed("since"):
			return usagef("use --start or --since, not both")
		case start != "":
			t, err := time.Parse(time.RFC3339Nano, start)
			if err != nil {
				return usagef("--start must be an RFC 3339 time")
			}
			q.Start = t
		default:
			if since <= 0 {
				return usagef("--since must be positive")
			}
			q.Start = q.End.Add(-since)
		}
		if direction != "" && direction != "forward" && direction != "backward" {
			return usagef("--direction must be forward or backward")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.QueryDomainLogs(cmd.Context(), domain, q)
		if err != nil {
			return err
		}
		streams, err := r.Streams()
		if err != nil {
			return err
		}
		rows := logRows(streams)
		// Streams group lines by labels; print in time order as asked.
		sort.SliceStable(rows, func(i, j int) bool {
			if direction == "forward" {
				return rows[i].Time.Before(rows[j].Time)
			}
			return rows[i].Time.After(rows[j].Time)
		})
		return a.printLogRows(rows)
	})
	addDomainFlag(cmd, &domain)
	f := cmd.Flags()
	f.DurationVar(&since, "since", time.Hour, "window ending at --end (or now)")
	f.StringVar(&start, "start", "", "window start (RFC 3339; instead of --since)")
	f.StringVar(&end, "end", "", "window end (RFC 3339; default now)")
	f.IntVar(&limit, "limit", 100, "maximum lines (server cap 5000)")
	f.StringVar(&direction, "direction", "backward", "backward (newest first) or forward")
	f.StringVar(&node, "node", "", "only this node's lines")
	return cmd
}

func (a *app) logsTailCommand() *cobra.Command {
	var (
		domain string
		follow bool
	)
	cmd := calls(&cobra.Command{
		Use:   "tail LOGQL",
		Short: "Follow the lines matching a LogQL query as they arrive",
		Example: `  plexctl logs tail -f '{unit="nginx.service"} |~ " 5[0-9][0-9] "' --domain 0190c0de-…
  plexctl logs tail -f '{stream="audit", source="auditd"}' --domain 0190c0de-… -o json`,
		Args: exactArgs("LOGQL"),
	}, "TailDomainLogs")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if !follow {
			return usagef("logs tail needs -f (use logs query for a window)")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		t, err := c.TailDomainLogs(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		defer t.Close()
		for {
			streams, err := t.Next()
			if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			rows := logRows(streams)
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].Time.Before(rows[j].Time) })
			if err := a.printLogRows(rows); err != nil {
				return err
			}
		}
	})
	addDomainFlag(cmd, &domain)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow new lines (required)")
	return cmd
}
