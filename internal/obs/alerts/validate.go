package alerts

import (
	"math"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/obs/metrics"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// Rule bounds.
const (
	maxName        = 128
	maxSignal      = 4096
	maxHold        = 24 * time.Hour
	maxLabels      = 16
	maxLabelValue  = 256
	maxURL         = 2048
	minSecret      = 16
	maxSecret      = 256
	maxTitle       = 256
	maxMessage     = 4096
	maxNodeDownAge = 30 * 24 * time.Hour
)

// reservedLabels are set by the control plane on every alert.
var reservedLabels = map[string]bool{
	"alertname": true, metrics.LabelDomainID: true, metrics.LabelNodeID: true, metrics.LabelProjectID: true,
	metrics.LabelHostname: true, metrics.LabelPeerID: true, "severity": true, "alert_rule_id": true,
}

func invalid(detail string) error { return problem.BadRequest(CodeRuleInvalid, detail) }

// validate checks a rule's fields (contract bounds plus ours) and, for a
// PromQL rule, that the signal parses as an instant vector.
func (s *Service) validate(r *rule) error {
	if err := validateFields(r); err != nil {
		return err
	}
	if r.Kind == apiv1.AlertKindPromQL {
		if _, err := parseSignal(s.cfg.Metrics.Parser(), r.Signal); err != nil {
			return err
		}
	}
	return nil
}

// validateFields checks everything but the PromQL grammar.
func validateFields(r *rule) error {
	switch {
	case strings.TrimSpace(r.Name) == "" || utf8.RuneCountInString(r.Name) > maxName || !utf8.ValidString(r.Name):
		return invalid("name must be 1 to 128 characters.")
	case strings.TrimSpace(r.Signal) == "" || len(r.Signal) > maxSignal:
		return invalid("signal must be 1 to 4096 characters.")
	case math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0):
		return invalid("threshold must be finite.")
	}
	switch r.Comparator {
	case apiv1.ComparatorGT, apiv1.ComparatorGTE, apiv1.ComparatorLT, apiv1.ComparatorLTE:
	default:
		return invalid("comparator must be gt, gte, lt or lte.")
	}
	switch r.Severity {
	case apiv1.SeverityInfo, apiv1.SeverityWarning, apiv1.SeverityCritical:
	default:
		return invalid("severity must be info, warning or critical.")
	}
	switch r.Kind {
	case apiv1.AlertKindPromQL:
	case apiv1.AlertKindNodeDown:
		if r.Threshold <= 0 || r.Threshold > maxNodeDownAge.Seconds() {
			return invalid("A node_down threshold is the heartbeat age in seconds, above 0 and at most 30 days.")
		}
		if r.Comparator != apiv1.ComparatorGT && r.Comparator != apiv1.ComparatorGTE {
			return invalid("A node_down rule compares with gt or gte.")
		}
	default:
		return invalid("kind must be promql or node_down.")
	}
	return validateLabels(r.Labels)
}

func validateLabels(ls map[string]string) error {
	if len(ls) > maxLabels {
		return invalid("A rule has at most 16 labels.")
	}
	for k, v := range ls {
		if !model.LabelName(k).IsValidLegacy() || strings.HasPrefix(k, "__") || reservedLabels[k] {
			return invalid("Label " + quoteShort(k) + " is not a valid label name or is reserved.")
		}
		if len(v) > maxLabelValue || !utf8.ValidString(v) || strings.Contains(v, "{{") {
			return invalid("Label " + k + ": values are at most 256 bytes of UTF-8 without templates.")
		}
	}
	return nil
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}

// parseSignal parses a PromQL signal that must answer an instant vector.
func parseSignal(p parser.Parser, signal string) (parser.Expr, error) {
	if strings.TrimSpace(signal) == "" || len(signal) > maxSignal {
		return nil, invalid("signal must be 1 to 4096 characters.")
	}
	expr, err := p.ParseExpr(signal)
	if err != nil {
		return nil, invalid("signal is not PromQL: " + err.Error())
	}
	if expr.Type() != parser.ValueTypeVector {
		return nil, invalid("signal must be an instant-vector expression, not " + string(expr.Type()) + ".")
	}
	return expr, nil
}

// parseHold parses the `for` duration: empty is 0, at most 24 h.
func parseHold(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := model.ParseDuration(v)
	if err != nil || d < 0 || time.Duration(d) > maxHold {
		return 0, invalid("for must be a duration from 0s to 24h (5m, 1h30m).")
	}
	return time.Duration(d), nil
}

func formatDuration(d time.Duration) string { return model.Duration(d).String() }

// validateWebhook checks the webhook URL (http or https, no credentials)
// and the secret's length; a secret needs a URL.
func validateWebhook(raw, secret string) error {
	if secret != "" && (len(secret) < minSecret || len(secret) > maxSecret) {
		return invalid("webhook_secret must be 16 to 256 characters.")
	}
	if raw == "" {
		if secret != "" {
			return invalid("webhook_secret needs a webhook_url.")
		}
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxURL || err != nil:
		return invalid("webhook_url must be an http or https URL.")
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.User != nil, u.Fragment != "":
		return invalid("webhook_url must be an http or https URL without credentials or fragment.")
	}
	return nil
}

// validateWebhook is validateWebhook plus, unless the configuration allows
// private receivers, the refusal of a literal address inside the control
// plane's networks.
func (s *Service) validateWebhook(raw, secret string) error {
	if err := validateWebhook(raw, secret); err != nil || raw == "" || s.cfg.AllowPrivateWebhooks {
		return err
	}
	return checkWebhookHost(raw)
}
