package plexctl

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var alertRuleColumns = []column[apiv1.AlertRule]{
	{"ID", func(r apiv1.AlertRule) string { return r.ID }},
	{"NAME", func(r apiv1.AlertRule) string { return r.Name }},
	{"KIND", func(r apiv1.AlertRule) string { return r.Kind }},
	{"CONDITION", func(r apiv1.AlertRule) string {
		return r.Signal + " " + r.Comparator + " " + strconv.FormatFloat(r.Threshold, 'g', -1, 64)
	}},
	{"FOR", func(r apiv1.AlertRule) string { return r.For }},
	{"SEVERITY", func(r apiv1.AlertRule) string { return r.Severity }},
	{"ENABLED", func(r apiv1.AlertRule) string { return strconv.FormatBool(r.Enabled) }},
	{"WEBHOOK", func(r apiv1.AlertRule) string { return r.WebhookURL }},
}

var incidentColumns = []column[apiv1.Incident]{
	{"ID", func(i apiv1.Incident) string { return i.ID }},
	{"TITLE", func(i apiv1.Incident) string { return i.Title }},
	{"SEVERITY", func(i apiv1.Incident) string { return i.Severity }},
	{"STATUS", func(i apiv1.Incident) string { return i.Status }},
	{"OPENED", func(i apiv1.Incident) string { return ts(i.OpenedAt) }},
	{"RESOLVED", func(i apiv1.Incident) string { return tsp(i.ResolvedAt) }},
	{"RULE", func(i apiv1.Incident) string { return i.AlertRuleID }},
}

var timelineColumns = []column[apiv1.TimelineEvent]{
	{"AT", func(e apiv1.TimelineEvent) string { return ts(e.OccurredAt) }},
	{"KIND", func(e apiv1.TimelineEvent) string { return e.Kind }},
	{"MESSAGE", func(e apiv1.TimelineEvent) string { return e.Message }},
}

// alertsCommand manages a Domain's alert rules (issue 15).
func (a *app) alertsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "alerts",
		Short: "Manage a Domain's alert rules",
		Long: `Alert rules are evaluated every 30 s over the Domain's node metrics: a promql
rule fires for each series of '(signal) comparator threshold' that holds for
--for; a node_down rule for each node whose last heartbeat is older than
threshold seconds. A firing alert opens an incident ('plexctl incidents') and
notifies the rule's webhook in the Alertmanager format (docs/observability.md).`,
		Example: `  plexctl alerts rules create --domain 0190c0de-… --name cpu-saturated \
    --signal 'avg_over_time(plexd_system_cpu_usage_percent[5m])' --comparator gt --threshold 90 --for 5m --severity critical`,
	})
	rules := a.group(&cobra.Command{
		Use:     "rules",
		Short:   "List, show, create, update and delete alert rules",
		Example: `  plexctl alerts rules list --domain 0190c0de-…`,
	})
	rules.AddCommand(a.alertRuleListCommand(), a.alertRuleGetCommand(), a.alertRuleCreateCommand(),
		a.alertRuleUpdateCommand(), a.alertRuleDeleteCommand())
	cmd.AddCommand(rules)
	return cmd
}

func (a *app) alertRuleListCommand() *cobra.Command {
	var pf pageFlags
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Domain's alert rules",
		Example: `  plexctl alerts rules list --domain 0190c0de-… -o json`,
		Args:    exactArgs(),
	}, "ListAlertRules")
	listCommand(a, cmd, &pf, alertRuleColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.AlertRule] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.AlertRule], error) {
			return c.ListAlertRules(ctx, domain, o)
		}
	})
	domainFlag(cmd, &domain)
	return cmd
}

func (a *app) alertRuleGetCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one alert rule",
		Example: `  plexctl alerts rules get 0190c0de-…0a --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "GetAlertRule")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.GetAlertRule(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		return printObject(a, *r, alertRuleColumns)
	})
	domainFlag(cmd, &domain)
	return cmd
}

// labelFlags parses repeated --label k=v.
func labelFlags(in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--label wants key=value, got %q", kv)
		}
		out[k] = v
	}
	return out, nil
}

func (a *app) alertRuleCreateCommand() *cobra.Command {
	var (
		domain  string
		in      apiv1.AlertRuleCreate
		labels  []string
		disable bool
	)
	cmd := calls(&cobra.Command{
		Use:   "create",
		Short: "Create an alert rule",
		Example: `  plexctl alerts rules create --domain 0190c0de-… --name cpu-saturated \
    --signal 'avg_over_time(plexd_system_cpu_usage_percent[5m])' --comparator gt --threshold 90 --for 5m \
    --severity critical --label team=sre --webhook-url https://hooks.example.com/alerts --webhook-secret "$SECRET"
  plexctl alerts rules create --domain 0190c0de-… --name node-down --kind node_down --signal heartbeat \
    --comparator gt --threshold 300 --severity warning`,
		Args: exactArgs(),
	}, "CreateAlertRule")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		ls, err := labelFlags(labels)
		if err != nil {
			return err
		}
		in.Labels = ls
		if disable {
			f := false
			in.Enabled = &f
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.CreateAlertRule(cmd.Context(), domain, in)
		if err != nil {
			return err
		}
		return printObject(a, *r, alertRuleColumns)
	})
	domainFlag(cmd, &domain)
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "Domain-unique rule name (required)")
	f.StringVar(&in.Signal, "signal", "", "PromQL instant-vector expression (required)")
	f.StringVar(&in.Comparator, "comparator", "gt", "gt, gte, lt or lte")
	f.Float64Var(&in.Threshold, "threshold", 0, "threshold the signal is compared with (node_down: heartbeat age in seconds)")
	f.StringVar(&in.Severity, "severity", "warning", "info, warning or critical")
	f.StringVar(&in.Kind, "kind", "promql", "promql or node_down")
	f.StringVar(&in.For, "for", "", "how long the condition must hold before firing (5m)")
	f.StringArrayVar(&labels, "label", nil, "label key=value added to the rule's alerts (repeatable)")
	f.StringVar(&in.WebhookURL, "webhook-url", "", "URL receiving Alertmanager-format notifications")
	f.StringVar(&in.WebhookSecret, "webhook-secret", "", "HMAC-SHA256 signing secret for the webhook (write-only)")
	f.BoolVar(&disable, "disabled", false, "store the rule disabled")
	for _, name := range []string{"name", "signal", "threshold"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) alertRuleUpdateCommand() *cobra.Command {
	var (
		domain, name, signal, comparator, severity, hold, webhook, secret string
		threshold                                                         float64
		enabled                                                           bool
		labels                                                            []string
	)
	cmd := calls(&cobra.Command{
		Use:   "update ID",
		Short: "Change an alert rule's fields (only the flags given)",
		Example: `  plexctl alerts rules update 0190c0de-…0a --domain 0190c0de-… --threshold 95 --severity critical
  plexctl alerts rules update 0190c0de-…0a --domain 0190c0de-… --enabled=false`,
		Args: exactArgs("ID"),
	}, "UpdateAlertRule")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		var in apiv1.AlertRuleUpdate
		f := cmd.Flags()
		str := func(flag string, v *string) *string {
			if f.Changed(flag) {
				return v
			}
			return nil
		}
		in.Name, in.Signal, in.Comparator = str("name", &name), str("signal", &signal), str("comparator", &comparator)
		in.Severity, in.For, in.WebhookURL = str("severity", &severity), str("for", &hold), str("webhook-url", &webhook)
		in.WebhookSecret = str("webhook-secret", &secret)
		if f.Changed("threshold") {
			in.Threshold = &threshold
		}
		if f.Changed("enabled") {
			in.Enabled = &enabled
		}
		if f.Changed("label") {
			ls, err := labelFlags(labels)
			if err != nil {
				return err
			}
			if ls == nil {
				ls = map[string]string{}
			}
			in.Labels = &ls
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.UpdateAlertRule(cmd.Context(), domain, args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *r, alertRuleColumns)
	})
	domainFlag(cmd, &domain)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&signal, "signal", "", "new PromQL signal")
	f.StringVar(&comparator, "comparator", "", "gt, gte, lt or lte")
	f.Float64Var(&threshold, "threshold", 0, "new threshold")
	f.StringVar(&severity, "severity", "", "info, warning or critical")
	f.StringVar(&hold, "for", "", "new hold duration")
	f.BoolVar(&enabled, "enabled", true, "enable or disable the rule")
	f.StringArrayVar(&labels, "label", nil, "replace the labels with these key=value pairs (repeatable)")
	f.StringVar(&webhook, "webhook-url", "", "new webhook URL (empty removes the webhook and its secret)")
	f.StringVar(&secret, "webhook-secret", "", "new webhook signing secret")
	return cmd
}

func (a *app) alertRuleDeleteCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "delete ID",
		Short:   "Delete an alert rule (its open incidents are resolved)",
		Example: `  plexctl alerts rules delete 0190c0de-…0a --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "DeleteAlertRule")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.DeleteAlertRule(cmd.Context(), domain, args[0]); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "alert rule %q deleted\n", args[0])
		}
		return nil
	})
	domainFlag(cmd, &domain)
	return cmd
}

// incidentsCommand lists and works incidents (issue 15).
func (a *app) incidentsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "incidents",
		Aliases: []string{"incident"},
		Short:   "List, open, annotate and resolve a Domain's incidents",
		Long: `An alert rule that fires opens an incident (one per rule and label set) and
resolves it when the alert stops firing; operators open incidents by hand,
add notes to the timeline and resolve them.`,
		Example: `  plexctl incidents list --domain 0190c0de-… --status open
  plexctl incidents note 0190c0de-…0a --domain 0190c0de-… "paged on-call"`,
	})
	cmd.AddCommand(a.incidentListCommand(), a.incidentGetCommand(), a.incidentOpenCommand(), a.incidentNoteCommand(),
		a.incidentResolveCommand())
	return cmd
}

func (a *app) incidentListCommand() *cobra.Command {
	var pf pageFlags
	var domain, status string
	cmd := calls(&cobra.Command{
		Use:     "list",
		Short:   "List a Domain's incidents, newest first",
		Example: `  plexctl incidents list --domain 0190c0de-… --status open`,
		Args:    exactArgs(),
	}, "ListIncidents")
	listCommand(a, cmd, &pf, incidentColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.Incident] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.Incident], error) {
			return c.ListIncidents(ctx, domain, status, o)
		}
	})
	domainFlag(cmd, &domain)
	cmd.Flags().StringVar(&status, "status", "", "only open or only resolved incidents")
	return cmd
}

// printIncident prints an incident and, as a table, its labels and
// timeline.
func (a *app) printIncident(inc *apiv1.Incident) error {
	if err := printObject(a, *inc, incidentColumns); err != nil || a.flags.output != formatTable {
		return err
	}
	if len(inc.Labels) > 0 {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(inc.Labels)) {
			ls = append(ls, k+"="+inc.Labels[k])
		}
		fmt.Fprintf(a.stdout, "\nLabels: %s\n", strings.Join(ls, ", "))
	}
	if len(inc.Timeline) > 0 {
		fmt.Fprintln(a.stdout)
		return writeTable(a.stdout, inc.Timeline, timelineColumns)
	}
	return nil
}

func (a *app) incidentGetCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show an incident with its timeline",
		Example: `  plexctl incidents get 0190c0de-…0a --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "GetIncident")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		inc, err := c.GetIncident(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		return a.printIncident(inc)
	})
	domainFlag(cmd, &domain)
	return cmd
}

func (a *app) incidentOpenCommand() *cobra.Command {
	var domain string
	in := apiv1.IncidentOpenRequest{}
	cmd := calls(&cobra.Command{
		Use:     "open TITLE",
		Short:   "Open an incident by hand",
		Example: `  plexctl incidents open "Upstream outage" --domain 0190c0de-… --severity critical`,
		Args:    exactArgs("TITLE"),
	}, "OpenIncident")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		in.Title = args[0]
		c, err := a.client()
		if err != nil {
			return err
		}
		inc, err := c.OpenIncident(cmd.Context(), domain, in)
		if err != nil {
			return err
		}
		return a.printIncident(inc)
	})
	domainFlag(cmd, &domain)
	cmd.Flags().StringVar(&in.Severity, "severity", "warning", "info, warning or critical")
	return cmd
}

func (a *app) incidentNoteCommand() *cobra.Command {
	var domain, kind string
	cmd := calls(&cobra.Command{
		Use:     "note ID MESSAGE",
		Short:   "Append an event to an open incident's timeline",
		Example: `  plexctl incidents note 0190c0de-…0a "paged on-call; investigating" --domain 0190c0de-…`,
		Args:    exactArgs("ID", "MESSAGE"),
	}, "AppendIncidentEvent")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		ev, err := c.AppendIncidentEvent(cmd.Context(), domain, args[0], apiv1.TimelineEventAppend{Kind: kind, Message: args[1]})
		if err != nil {
			return err
		}
		return printObject(a, *ev, timelineColumns)
	})
	domainFlag(cmd, &domain)
	cmd.Flags().StringVar(&kind, "kind", apiv1.EventNote, "note or status_change")
	return cmd
}

func (a *app) incidentResolveCommand() *cobra.Command {
	var domain string
	cmd := calls(&cobra.Command{
		Use:     "resolve ID",
		Short:   "Resolve an open incident",
		Example: `  plexctl incidents resolve 0190c0de-…0a --domain 0190c0de-…`,
		Args:    exactArgs("ID"),
	}, "ResolveIncident")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		inc, err := c.ResolveIncident(cmd.Context(), domain, args[0])
		if err != nil {
			return err
		}
		return a.printIncident(inc)
	})
	domainFlag(cmd, &domain)
	return cmd
}
