package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexsphere/plexsphere/internal/obs/alerts"
	"github.com/plexsphere/plexsphere/internal/page"
)

// assembleAlerts builds the alert rules and incidents (issue 15) over the
// node metrics TSDB and starts their evaluator. Call it after
// assembleNodeMetrics.
func (s *Server) assembleAlerts(pages *page.Codec, log *slog.Logger) error {
	var err error
	s.Alerts, err = alerts.New(alerts.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages, Keyring: s.Keyring,
		Metrics: s.NodeMetrics, Logger: log, Interval: s.Config.AlertEvalInterval, PublicURL: s.Config.PublicURL,
		AllowPrivateWebhooks: s.Config.AlertWebhookAllowPrivate})
	if err != nil {
		return err
	}
	s.Alerts.Register(s.API.API)
	s.Metrics.Registry().MustRegister(alertsCollector{s.Alerts})
	s.Alerts.Start()
	return nil
}

// closeAlerts stops the evaluator.
func (s *Server) closeAlerts() {
	if s.Alerts != nil {
		s.Alerts.Close()
	}
}

// alertsCollector exposes the evaluator and notifier counters on /metrics.
type alertsCollector struct{ a *alerts.Service }

var (
	alertEvaluations = prometheus.NewDesc("plexsphere_alert_rule_evaluations_total",
		"Alert rule evaluations by outcome (ok, error).", []string{"outcome"}, nil)
	alertIncidents = prometheus.NewDesc("plexsphere_alert_incidents_total",
		"Incidents alert rules opened and resolved.", []string{"event"}, nil)
	alertNotifications = prometheus.NewDesc("plexsphere_alert_notifications_total",
		"Webhook notification attempts by outcome (delivered, retried, dropped after the last attempt).",
		[]string{"outcome"}, nil)
)

func (c alertsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- alertEvaluations
	ch <- alertIncidents
	ch <- alertNotifications
}

func (c alertsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.a.Stats()
	counter := func(d *prometheus.Desc, n int64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), label)
	}
	counter(alertEvaluations, st.Evaluations-st.EvalErrors, "ok")
	counter(alertEvaluations, st.EvalErrors, "error")
	counter(alertIncidents, st.Opened, "opened")
	counter(alertIncidents, st.Resolved, "resolved")
	counter(alertNotifications, st.Delivered, "delivered")
	counter(alertNotifications, st.Retried, "retried")
	counter(alertNotifications, st.Dropped, "dropped")
}
