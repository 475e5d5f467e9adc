package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// MetricsQuery is a QueryDomainMetrics request: an instant query at Time
// when Step is zero, else a range query over [Start, End] every Step.
type MetricsQuery struct {
	// Query is the PromQL expression (docs/observability.md).
	Query      string
	Time       time.Time
	Start, End time.Time
	// Step is the range query's resolution ("30s", "5m").
	Step   string
	NodeID string
}

// MetricsQueryResult is the contract's answer: the Prometheus HTTP API body
// and the status the metrics backend gave it.
type MetricsQueryResult struct {
	StatusCode int    `json:"status_code"`
	Body       string `json:"body"`
}

// PromSeries is one series of a vector or matrix result.
type PromSeries struct {
	Metric map[string]string `json:"metric"`
	// Value is [unix seconds, "value"] (vector); Values the matrix's points.
	Value  []any   `json:"value,omitempty"`
	Values [][]any `json:"values,omitempty"`
}

// PromResult is the decoded Prometheus body.
type PromResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
	Warnings []string `json:"warnings,omitempty"`
}

// Decode decodes the body; Series answers a vector's or matrix's series.
func (r MetricsQueryResult) Decode() (PromResult, error) {
	var p PromResult
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
		return p, fmt.Errorf("apiclient: metrics query body: %w", err)
	}
	return p, nil
}

// Series answers the series of a vector or matrix result (nil for a
// scalar or string).
func (p PromResult) Series() ([]PromSeries, error) {
	if p.Data.ResultType != "vector" && p.Data.ResultType != "matrix" {
		return nil, nil
	}
	var out []PromSeries
	if err := json.Unmarshal(p.Data.Result, &out); err != nil {
		return nil, fmt.Errorf("apiclient: metrics query result: %w", err)
	}
	return out, nil
}

// QueryDomainMetrics runs a PromQL query over a Domain's node series,
// confined to the nodes the caller may read.
func (c *Client) QueryDomainMetrics(ctx context.Context, domainID string, q MetricsQuery) (MetricsQueryResult, error) {
	var out MetricsQueryResult
	if err := requireID("domain id", domainID); err != nil {
		return out, err
	}
	v := url.Values{"query": {q.Query}}
	if q.Step == "" {
		t := q.Time
		if t.IsZero() {
			t = time.Now()
		}
		v.Set("time", t.UTC().Format(time.RFC3339Nano))
	} else {
		v.Set("start", q.Start.UTC().Format(time.RFC3339Nano))
		v.Set("end", q.End.UTC().Format(time.RFC3339Nano))
		v.Set("step", q.Step)
	}
	if q.NodeID != "" {
		v.Set("nodeId", q.NodeID)
	}
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/metrics/query"), query: v}, &out)
	return out, err
}
