package plexctl

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var retentionColumns = []column[apiv1.TelemetryRetention]{
	{"DOMAIN", func(r apiv1.TelemetryRetention) string { return r.DomainID }},
	{"METRICS", func(r apiv1.TelemetryRetention) string { return retentionValue(r.MetricsSeconds, r.MetricsCustom) }},
	{"METRICS MAX", func(r apiv1.TelemetryRetention) string { return secondsText(r.MetricsMaxSeconds) }},
	{"LOGS", func(r apiv1.TelemetryRetention) string { return retentionValue(r.LogsSeconds, r.LogsCustom) }},
	{"LOGS MAX", func(r apiv1.TelemetryRetention) string { return secondsText(r.LogsMaxSeconds) }},
	{"UPDATED", func(r apiv1.TelemetryRetention) string { return tsp(r.UpdatedAt) }},
}

func secondsText(s int64) string { return (time.Duration(s) * time.Second).String() }

func retentionValue(s int64, custom bool) string {
	if custom {
		return secondsText(s)
	}
	return secondsText(s) + " (server)"
}

// retentionCommand reads and sets a Domain's node telemetry retention
// (issue 15).
func (a *app) retentionCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "retention",
		Short: "Read or set a Domain's node metrics and logs retention",
		Long: `How long a Domain's node metric samples and node log lines (with host audit
events) are kept: the Domain's own values, each from 1h up to the server-wide
--metrics-retention / --node-log-retention, or the server's. A shorter value
takes effect at the next retention sweep.`,
		Example: `  plexctl retention get --domain 0190c0de-…
  plexctl retention set --domain 0190c0de-… --metrics 168h --logs 72h`,
	})
	cmd.AddCommand(a.retentionGetCommand(), a.retentionSetCommand())
	return cmd
}

func (a *app) retentionGetCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "get",
		Short:   "Show a Domain's retention and the server's maxima",
		Example: `  plexctl retention get --domain 0190c0de-… -o json`,
		Args:    exactArgs(),
	}, "GetDomainTelemetryRetention")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.GetDomainTelemetryRetention(cmd.Context(), domain)
		if err != nil {
			return err
		}
		return printObject(a, *r, retentionColumns)
	})
	addDomainFlag(cmd, &domain)
	return cmd
}

func (a *app) retentionSetCommand() *cobra.Command {
	var (
		domain        string
		metrics, logs time.Duration
	)
	cmd := calls(&cobra.Command{
		Use:   "set",
		Short: "Replace a Domain's retention (an omitted value returns to the server's)",
		Long: `Replaces both values: --metrics and --logs set the Domain's own retention
(whole seconds, 1h up to the server's maximum); a value not given returns to
the server's. 'set' with neither resets the Domain to the server's values.`,
		Example: `  plexctl retention set --domain 0190c0de-… --metrics 168h --logs 72h
  plexctl retention set --domain 0190c0de-… --logs 24h    # metrics back to the server's value
  plexctl retention set --domain 0190c0de-…               # both back to the server's values`,
		Args: exactArgs(),
	}, "PutDomainTelemetryRetention")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		var in apiv1.TelemetryRetentionUpdate
		for _, f := range []struct {
			name string
			d    time.Duration
			to   **int64
		}{{"metrics", metrics, &in.MetricsSeconds}, {"logs", logs, &in.LogsSeconds}} {
			if !cmd.Flags().Changed(f.name) {
				continue
			}
			if f.d < time.Hour || f.d%time.Second != 0 {
				return usagef("--%s must be whole seconds and at least 1h, got %s", f.name, f.d)
			}
			s := int64(f.d / time.Second)
			*f.to = &s
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.PutDomainTelemetryRetention(cmd.Context(), domain, in)
		if err != nil {
			return err
		}
		return printObject(a, *r, retentionColumns)
	})
	addDomainFlag(cmd, &domain)
	f := cmd.Flags()
	f.DurationVar(&metrics, "metrics", 0, "node metrics retention (e.g. 168h)")
	f.DurationVar(&logs, "logs", 0, "node logs retention (e.g. 72h)")
	return cmd
}
