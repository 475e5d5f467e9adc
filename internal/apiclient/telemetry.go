package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxFederateBody bounds a federation answer read by FederateDomainMetrics.
const maxFederateBody = 256 << 20

// GetDomainTelemetryRetention reads a Domain's node metrics and logs
// retention.
func (c *Client) GetDomainTelemetryRetention(ctx context.Context, domainID string) (*apiv1.TelemetryRetention, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.TelemetryRetention
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/telemetry-retention")}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// PutDomainTelemetryRetention replaces a Domain's retention (a nil value
// returns to the server's).
func (c *Client) PutDomainTelemetryRetention(ctx context.Context, domainID string, in apiv1.TelemetryRetentionUpdate) (*apiv1.TelemetryRetention, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	var out apiv1.TelemetryRetention
	err := c.do(ctx, request{method: http.MethodPut, path: pathf("/v1/domains/", domainID, "/telemetry-retention"), body: in}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// FederateDomainMetrics reads the latest sample of each Domain series
// matching any selector, as the Prometheus text exposition (or OpenMetrics
// when openMetrics is set); it answers the body and its content type.
func (c *Client) FederateDomainMetrics(ctx context.Context, domainID string, match []string, openMetrics bool) ([]byte, string, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, "", err
	}
	if len(match) == 0 {
		return nil, "", fmt.Errorf("apiclient: federate: at least one match[] selector")
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	accept := "text/plain;version=0.0.4, " + mediaProblem
	if openMetrics {
		accept = "application/openmetrics-text;version=1.0.0, " + mediaProblem
	}
	path := pathf("/v1/domains/", domainID, "/metrics/federate")
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, query: url.Values{"match[]": match}, accept: accept})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFederateBody+1))
	if err != nil {
		return nil, "", fmt.Errorf("apiclient: GET %s: %w", path, err)
	}
	if len(body) > maxFederateBody {
		return nil, "", fmt.Errorf("apiclient: GET %s: the answer exceeds %d bytes; narrow the selectors", path, maxFederateBody)
	}
	return body, resp.Header.Get("Content-Type"), nil
}
