package plexctl

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// metricsCommand queries node metrics with PromQL (issue 15).
func (a *app) metricsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Query node metrics (PromQL)",
		Long: `Query a Domain's node series with PromQL. Series are named
plexd_<group>_<field> (plexd_system_cpu_usage_percent, plexd_tunnel_rx_bytes,
plexd_latency_rtt_nano, …) with the labels node_id, hostname, project_id,
domain_id and, for tunnel and latency, peer_id. Every selector is confined to
the Domain and the nodes you may read.`,
		Example: `  plexctl metrics query 'avg_over_time(plexd_system_cpu_usage_percent[5m]) > 90' --domain 0190c0de-…`,
	}
	cmd.AddCommand(a.metricsQueryCommand(), a.metricsFederateCommand())
	return cmd
}

func (a *app) metricsFederateCommand() *cobra.Command {
	var (
		domain      string
		match       []string
		openMetrics bool
	)
	cmd := calls(&cobra.Command{
		Use:   "federate",
		Short: "Print the latest sample of each matching series (the Prometheus federation answer)",
		Long: `Prints what a Prometheus server scraping the Domain's federation endpoint
receives: the latest sample (within 5 minutes) of each series matching any
--match selector, confined to the nodes you may read, in the Prometheus text
exposition format (or OpenMetrics with --openmetrics).`,
		Example: `  plexctl metrics federate --domain 0190c0de-… --match '{__name__=~"plexd_system_.*"}'
  plexctl metrics federate --domain 0190c0de-… --match plexd_system_cpu_usage_percent --match plexd_latency_rtt_nano --openmetrics`,
		Args: exactArgs(),
	}, "FederateDomainMetrics")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if len(match) == 0 {
			return usagef("give at least one --match selector")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		body, _, err := c.FederateDomainMetrics(cmd.Context(), domain, match, openMetrics)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(body)
		return err
	})
	addDomainFlag(cmd, &domain)
	cmd.Flags().StringArrayVar(&match, "match", nil, "series selector, e.g. '{__name__=~\"plexd_.*\"}' (repeatable)")
	cmd.Flags().BoolVar(&openMetrics, "openmetrics", false, "ask for OpenMetrics instead of the Prometheus text format")
	return cmd
}

func (a *app) metricsQueryCommand() *cobra.Command {
	var domain, at, start, end, step, node string
	var since time.Duration
	cmd := calls(&cobra.Command{
		Use:   "query PROMQL",
		Short: "Run an instant or range PromQL query",
		Example: `  plexctl metrics query 'plexd_system_cpu_usage_percent' --domain 0190c0de-…
  plexctl metrics query 'avg_over_time(plexd_system_cpu_usage_percent[5m]) > 90' --domain 0190c0de-… --since 6h --step 5m
  plexctl metrics query 'rate(plexd_tunnel_rx_bytes[5m])' --domain 0190c0de-… --start 2026-03-01T00:00:00Z --end 2026-03-02T00:00:00Z --step 1m -o json`,
		Args: exactArgs("PROMQL"),
	}, "QueryDomainMetrics")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		q := apiclient.MetricsQuery{Query: args[0], NodeID: node}
		parse := func(flag, v string) (time.Time, error) {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return t, usagef("--%s must be an RFC 3339 time", flag)
			}
			return t, nil
		}
		ranged := step != "" || start != "" || end != "" || cmd.Flags().Changed("since")
		switch {
		case ranged && at != "":
			return usagef("--time is an instant query; do not combine it with --start/--end/--since/--step")
		case !ranged:
			if at != "" {
				t, err := parse("time", at)
				if err != nil {
					return err
				}
				q.Time = t
			}
		default:
			if step == "" {
				return usagef("a range query needs --step")
			}
			q.Step, q.End = step, time.Now()
			if end != "" {
				t, err := parse("end", end)
				if err != nil {
					return err
				}
				q.End = t
			}
			switch {
			case start != "" && cmd.Flags().Changed("since"):
				return usagef("use --start or --since, not both")
			case start != "":
				t, err := parse("start", start)
				if err != nil {
					return err
				}
				q.Start = t
			default:
				if since <= 0 {
					return usagef("--since must be positive")
				}
				q.Start = q.End.Add(-since)
			}
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.QueryDomainMetrics(cmd.Context(), domain, q)
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			_, err := fmt.Fprintln(a.stdout, r.Body)
			return err
		}
		p, err := r.Decode()
		if err != nil {
			return err
		}
		if p.Status != "success" {
			return fmt.Errorf("query failed (%d %s): %s", r.StatusCode, p.ErrorType, p.Error)
		}
		return a.printPromResult(p)
	})
	addDomainFlag(cmd, &domain)
	f := cmd.Flags()
	f.StringVar(&at, "time", "", "instant query time (RFC 3339; default now)")
	f.StringVar(&start, "start", "", "range start (RFC 3339; instead of --since)")
	f.StringVar(&end, "end", "", "range end (RFC 3339; default now)")
	f.DurationVar(&since, "since", time.Hour, "range ending at --end (or now); with --step")
	f.StringVar(&step, "step", "", "range resolution (30s, 5m): makes the query a range query")
	f.StringVar(&node, "node", "", "only this node's series")
	return cmd
}

// printPromResult prints one line per series (labels, then the value or
// the points), or the scalar/string.
func (a *app) printPromResult(p apiclient.PromResult) error {
	series, err := p.Series()
	if err != nil {
		return err
	}
	if series == nil {
		_, err := fmt.Fprintln(a.stdout, string(p.Data.Result))
		return err
	}
	for _, s := range series {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(s.Metric)) {
			ls = append(ls, k+"="+s.Metric[k])
		}
		var vals []string
		if len(s.Value) == 2 {
			vals = append(vals, fmt.Sprint(s.Value[1]))
		}
		for _, v := range s.Values {
			if len(v) == 2 {
				vals = append(vals, fmt.Sprint(v[1]))
			}
		}
		if _, err := fmt.Fprintf(a.stdout, "{%s} %s\n", strings.Join(ls, ", "), strings.Join(vals, " ")); err != nil {
			return err
		}
	}
	for _, w := range p.Warnings {
		raw, _ := json.Marshal(w)
		fmt.Fprintf(a.stderr, "warning: %s\n", raw)
	}
	return nil
}
