package apiv1

import "time"

// Alert rule comparators, severities and kinds (the contract's
// AlertComparator and AlertSeverity; the kind is ours).
const (
	ComparatorGT  = "gt"
	ComparatorGTE = "gte"
	ComparatorLT  = "lt"
	ComparatorLTE = "lte"

	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"

	// AlertKindPromQL evaluates `(signal) comparator threshold` over the
	// Domain's node series; AlertKindNodeDown fires for each node whose
	// last heartbeat is older than threshold seconds (signal is ignored).
	AlertKindPromQL   = "promql"
	AlertKindNodeDown = "node_down"
)

// Incident statuses and timeline event kinds (the contract's
// IncidentStatus and TimelineEventKind).
const (
	IncidentOpen     = "open"
	IncidentResolved = "resolved"

	EventNote         = "note"
	EventStatusChange = "status_change"
)

// AlertRule is a Domain's alert rule (the contract's AlertRule plus our
// evaluation fields: kind, for, labels, webhook_url; the webhook secret
// is write-only).
type AlertRule struct {
	ID         string    `json:"id" format:"uuid"`
	DomainID   string    `json:"domain_id" format:"uuid"`
	Name       string    `json:"name"`
	Signal     string    `json:"signal" doc:"PromQL instant-vector expression (kind promql)."`
	Comparator string    `json:"comparator" enum:"gt,gte,lt,lte"`
	Threshold  float64   `json:"threshold"`
	Severity   string    `json:"severity" enum:"info,warning,critical"`
	Enabled    bool      `json:"enabled" doc:"Disabled rules are not evaluated."`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Kind       string    `json:"kind" enum:"promql,node_down"`
	// For is how long the condition must hold before the rule fires (a
	// Prometheus duration, "0s" fires at once).
	For    string            `json:"for" doc:"How long the condition must hold before the alert fires (5m, 0s)."`
	Labels map[string]string `json:"labels,omitempty" doc:"Labels added to every alert of the rule."`
	// WebhookURL receives the rule's notifications (Alertmanager webhook
	// format, docs/observability.md); empty: none.
	WebhookURL string `json:"webhook_url,omitempty"`
	// WebhookSecretSet tells whether a signing secret is stored (the
	// secret itself is never returned).
	WebhookSecretSet bool `json:"webhook_secret_set"`
}

// AlertRuleCreate is the body of CreateAlertRule.
type AlertRuleCreate struct {
	Name       string            `json:"name" doc:"Domain-unique name, 1 to 128 characters."`
	Signal     string            `json:"signal" doc:"PromQL instant-vector expression (at most 4096 characters); for kind node_down any non-empty text."`
	Comparator string            `json:"comparator" doc:"gt, gte, lt or lte."`
	Threshold  float64           `json:"threshold" doc:"Finite threshold; for kind node_down the heartbeat age in seconds."`
	Severity   string            `json:"severity" doc:"info, warning or critical."`
	Enabled    *bool             `json:"enabled,omitempty" doc:"Default true."`
	Kind       string            `json:"kind,omitempty" doc:"promql (default) or node_down."`
	For        string            `json:"for,omitempty" doc:"Hold duration before firing (default 0s, at most 24h)."`
	Labels     map[string]string `json:"labels,omitempty" doc:"At most 16 labels added to the rule's alerts."`
	WebhookURL string            `json:"webhook_url,omitempty" doc:"http(s) URL receiving Alertmanager-format notifications."`
	// WebhookSecret signs the notifications (write-only).
	WebhookSecret string `json:"webhook_secret,omitempty" doc:"HMAC-SHA256 signing secret, 16 to 256 characters; write-only."`
}

// AlertRuleUpdate is the body of UpdateAlertRule: absent fields keep
// their value; an empty webhook_url removes the webhook and its secret.
type AlertRuleUpdate struct {
	Name          *string            `json:"name,omitempty"`
	Signal        *string            `json:"signal,omitempty"`
	Comparator    *string            `json:"comparator,omitempty"`
	Threshold     *float64           `json:"threshold,omitempty"`
	Severity      *string            `json:"severity,omitempty"`
	Enabled       *bool              `json:"enabled,omitempty"`
	For           *string            `json:"for,omitempty"`
	Labels        *map[string]string `json:"labels,omitempty"`
	WebhookURL    *string            `json:"webhook_url,omitempty"`
	WebhookSecret *string            `json:"webhook_secret,omitempty"`
}

// Incident is a Domain's incident (the contract's Incident plus, for one
// an alert rule opened, the rule, the alert's label set and fingerprint).
type Incident struct {
	ID         string     `json:"id" format:"uuid"`
	DomainID   string     `json:"domain_id" format:"uuid"`
	Title      string     `json:"title"`
	Severity   string     `json:"severity" enum:"info,warning,critical"`
	Status     string     `json:"status" enum:"open,resolved"`
	OpenedAt   time.Time  `json:"opened_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Timeline is empty in the list projection.
	Timeline    []TimelineEvent   `json:"timeline" nullable:"false"`
	AlertRuleID string            `json:"alert_rule_id,omitempty" format:"uuid"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// TimelineEvent is one event of an incident's timeline.
type TimelineEvent struct {
	ID         string    `json:"id" format:"uuid"`
	IncidentID string    `json:"incident_id" format:"uuid"`
	Kind       string    `json:"kind" enum:"note,status_change"`
	Message    string    `json:"message"`
	OccurredAt time.Time `json:"occurred_at"`
}

// TimelineEventAppend is the body of AppendIncidentEvent.
type TimelineEventAppend struct {
	Kind    string `json:"kind" doc:"note or status_change."`
	Message string `json:"message" doc:"1 to 4096 characters."`
}

// IncidentOpenRequest is the body of OpenIncident.
type IncidentOpenRequest struct {
	Title    string `json:"title" doc:"1 to 256 characters."`
	Severity string `json:"severity" doc:"info, warning or critical."`
}
