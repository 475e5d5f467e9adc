package conformance

import (
	"testing"
)

// Alert rules and incidents (issue 15), from the contract's AlertRule,
// AlertRuleList, Incident, IncidentList and TimelineEvent.
var (
	alertRuleS = object(req("id", str), req("domain_id", str), req("name", str), req("signal", str),
		req("comparator", enum("gt", "gte", "lt", "lte")), req("threshold", number),
		req("severity", enum("info", "warning", "critical")), req("enabled", boolean),
		req("created_at", dateTime), req("updated_at", dateTime))
	alertRulesS    = object(req("items", arrayOf(alertRuleS)), opt("next_cursor", str))
	timelineEventS = object(req("id", str), req("incident_id", str), req("kind", enum("note", "status_change")),
		req("message", str), req("occurred_at", dateTime))
	incidentS = object(req("id", str), req("domain_id", str), req("title", str),
		req("severity", enum("info", "warning", "critical")), req("status", enum("open", "resolved")),
		req("opened_at", dateTime), opt("resolved_at", dateTime), req("timeline", arrayOf(timelineEventS)))
	incidentsS = object(req("items", arrayOf(incidentS)), opt("next_cursor", str))
)

// alerts covers the alert rule CRUD and the incident lifecycle with the
// contract's statuses and problem codes.
func (c *client) alerts(t *testing.T, w *world) {
	rules := "/v1/domains/" + w.domainID + "/alert-rules"
	incs := "/v1/domains/" + w.domainID + "/incidents"
	var ruleID, incID string
	t.Run("CreateAlertRule", func(t *testing.T) {
		body := map[string]any{"name": "conformance-cpu", "signal": "avg(plexd_system_cpu_usage_percent)",
			"comparator": "gt", "threshold": 0.9, "severity": "warning"}
		if got := c.created(t, rules, body, alertRuleS); got != nil {
			ruleID = str0(got, "id")
		}
		c.problem(t, c.env.Token, "POST", rules, body, 409, "alert_rule_name_conflict")
		body["name"], body["signal"] = "bad", "sum("
		c.problem(t, c.env.Token, "POST", rules, body, 400, "alert_rule_invalid")
	})
	t.Run("ListAlertRules", func(t *testing.T) { c.ok(t, "GET", rules, nil, alertRulesS) })
	t.Run("GetAlertRule", func(t *testing.T) {
		c.ok(t, "GET", rules+"/"+ruleID, nil, alertRuleS)
		c.problem(t, c.env.Token, "GET", rules+"/not-a-uuid", nil, 400, "invalid_alert_rule_id")
	})
	t.Run("UpdateAlertRule", func(t *testing.T) {
		c.ok(t, "PATCH", rules+"/"+ruleID, map[string]any{"threshold": 0.95, "severity": "critical", "enabled": false}, alertRuleS)
	})
	t.Run("DeleteAlertRule", func(t *testing.T) {
		c.ok(t, "DELETE", rules+"/"+ruleID, nil, nil)
		c.problem(t, c.env.Token, "DELETE", rules+"/"+ruleID, nil, 404, "alert_rule_not_found")
	})
	t.Run("OpenIncident", func(t *testing.T) {
		if got := c.created(t, incs, map[string]any{"title": "Elevated error rate", "severity": "critical"}, incidentS); got != nil {
			incID = str0(got, "id")
		}
		c.problem(t, c.env.Token, "POST", incs, map[string]any{"title": "x", "severity": "page"}, 400, "incident_invalid")
	})
	t.Run("AppendIncidentEvent", func(t *testing.T) {
		c.created(t, incs+"/"+incID+"/events", map[string]any{"kind": "note", "message": "paged"}, timelineEventS)
	})
	t.Run("ListIncidents", func(t *testing.T) {
		c.ok(t, "GET", incs+"?status=open", nil, incidentsS)
		c.problem(t, c.env.Token, "GET", incs+"?status=closed", nil, 400, "incident_status_invalid")
	})
	t.Run("GetIncident", func(t *testing.T) { c.ok(t, "GET", incs+"/"+incID, nil, incidentS) })
	t.Run("ResolveIncident", func(t *testing.T) {
		c.ok(t, "POST", incs+"/"+incID+":resolve", nil, incidentS)
		c.problem(t, c.env.Token, "POST", incs+"/"+incID+":resolve", nil, 409, "incident_already_resolved")
		c.problem(t, c.env.Token, "POST", incs+"/"+incID+"/events", map[string]any{"kind": "note", "message": "x"}, 409, "incident_resolved")
	})
}
