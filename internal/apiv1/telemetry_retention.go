package apiv1

import "time"

// TelemetryRetention is a Domain's node telemetry retention (ours, issue
// 15): the effective values in seconds, whether they are the Domain's own,
// and the server-wide maxima that bound them.
type TelemetryRetention struct {
	DomainID          string     `json:"domain_id" format:"uuid" doc:"The Domain."`
	MetricsSeconds    int64      `json:"metrics_seconds" doc:"How long node metric samples are kept, in seconds (the Domain's own value or the server's)."`
	LogsSeconds       int64      `json:"logs_seconds" doc:"How long node log lines and host audit events are kept, in seconds."`
	MetricsCustom     bool       `json:"metrics_custom" doc:"Whether metrics_seconds is the Domain's own value (false: the server's)."`
	LogsCustom        bool       `json:"logs_custom" doc:"Whether logs_seconds is the Domain's own value (false: the server's)."`
	MetricsMaxSeconds int64      `json:"metrics_max_seconds" doc:"The server-wide metrics retention: the longest a Domain may set."`
	LogsMaxSeconds    int64      `json:"logs_max_seconds" doc:"The server-wide logs retention: the longest a Domain may set."`
	UpdatedAt         *time.Time `json:"updated_at,omitempty" doc:"When the Domain's values were last replaced (absent: never set)."`
}

// TelemetryRetentionUpdate replaces a Domain's retention; an absent value
// returns to the server's.
type TelemetryRetentionUpdate struct {
	MetricsSeconds *int64 `json:"metrics_seconds,omitempty" required:"false" minimum:"3600" doc:"Seconds to keep node metric samples, 3600 up to metrics_max_seconds; absent or null: the server's value."`
	LogsSeconds    *int64 `json:"logs_seconds,omitempty" required:"false" minimum:"3600" doc:"Seconds to keep node log lines and host audit events, 3600 up to logs_max_seconds; absent or null: the server's value."`
}
