package apiclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListAlertRules calls GET /v1/domains/{domainId}/alert-rules for one page.
func (c *Client) ListAlertRules(ctx context.Context, domainID string, opts ListOptions) (*apiv1.List[apiv1.AlertRule], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.List[apiv1.AlertRule]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/alert-rules"),
		query: opts.values()}, &out)
	return result(&out, err)
}

// GetAlertRule calls GET /v1/domains/{domainId}/alert-rules/{alertRuleId}.
func (c *Client) GetAlertRule(ctx context.Context, domainID, id string) (*apiv1.AlertRule, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	return getByID[apiv1.AlertRule](ctx, c, "alert rule id", pathf("/v1/domains/", domainID, "/alert-rules/"), id)
}

// CreateAlertRule calls POST /v1/domains/{domainId}/alert-rules.
func (c *Client) CreateAlertRule(ctx context.Context, domainID string, in apiv1.AlertRuleCreate) (*apiv1.AlertRule, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.AlertRule
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/alert-rules"), body: in}, &out)
	return result(&out, err)
}

// UpdateAlertRule calls PATCH /v1/domains/{domainId}/alert-rules/{alertRuleId}.
func (c *Client) UpdateAlertRule(ctx context.Context, domainID, id string, in apiv1.AlertRuleUpdate) (*apiv1.AlertRule, error) {
	if err := requireIDs2(domainID, "alert rule id", id); err != nil {
		return nil, err
	}
	var out apiv1.AlertRule
	err := c.do(ctx, request{method: http.MethodPatch, path: pathf("/v1/domains/", domainID, "/alert-rules/", id), body: in}, &out)
	return result(&out, err)
}

// DeleteAlertRule calls DELETE /v1/domains/{domainId}/alert-rules/{alertRuleId}.
func (c *Client) DeleteAlertRule(ctx context.Context, domainID, id string) error {
	if err := requireID("domain id", domainID); err != nil {
		return err
	}
	return deleteByID(ctx, c, "alert rule id", pathf("/v1/domains/", domainID, "/alert-rules/"), id)
}

// ListIncidents calls GET /v1/domains/{domainId}/incidents for one page,
// newest first; status "" lists open and resolved ones.
func (c *Client) ListIncidents(ctx context.Context, domainID, status string, opts ListOptions) (*apiv1.List[apiv1.Incident], error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	q := opts.values()
	if status != "" {
		q.Set("status", status)
	}
	var out apiv1.List[apiv1.Incident]
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/incidents"), query: q}, &out)
	return result(&out, err)
}

// GetIncident calls GET /v1/domains/{domainId}/incidents/{incidentId}.
func (c *Client) GetIncident(ctx context.Context, domainID, id string) (*apiv1.Incident, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	return getByID[apiv1.Incident](ctx, c, "incident id", pathf("/v1/domains/", domainID, "/incidents/"), id)
}

// OpenIncident calls POST /v1/domains/{domainId}/incidents.
func (c *Client) OpenIncident(ctx context.Context, domainID string, in apiv1.IncidentOpenRequest) (*apiv1.Incident, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.Incident
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/incidents"), body: in}, &out)
	return result(&out, err)
}

// AppendIncidentEvent calls POST /v1/domains/{domainId}/incidents/{incidentId}/events.
func (c *Client) AppendIncidentEvent(ctx context.Context, domainID, id string, in apiv1.TimelineEventAppend) (*apiv1.TimelineEvent, error) {
	if err := requireIDs2(domainID, "incident id", id); err != nil {
		return nil, err
	}
	var out apiv1.TimelineEvent
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/incidents/", id, "/events"),
		body: in}, &out)
	return result(&out, err)
}

// ResolveIncident calls POST /v1/domains/{domainId}/incidents/{incidentId}:resolve.
func (c *Client) ResolveIncident(ctx context.Context, domainID, id string) (*apiv1.Incident, error) {
	if err := requireIDs2(domainID, "incident id", id); err != nil {
		return nil, err
	}
	var out apiv1.Incident
	err := c.do(ctx, request{method: http.MethodPost, path: pathf("/v1/domains/", domainID, "/incidents/", id, ":resolve")}, &out)
	return result(&out, err)
}

// requireIDs2 requires a Domain id and one more id.
func requireIDs2(domainID, what, id string) error {
	if err := requireID("domain id", domainID); err != nil {
		return err
	}
	return requireID(what, id)
}
