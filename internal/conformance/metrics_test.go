package conformance

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// Node metrics (issue 15), from the contract's MetricsQueryResult: the
// Prometheus body is an opaque JSON string.
var metricsQueryResult = object(req("status_code", integer), req("body", str))

// nodeMetrics covers QueryDomainMetrics over a MetricSample a node sent,
// and its 400 for a malformed expression.
func (c *client) nodeMetrics(t *testing.T, w *world) {
	n := w.nodes[0]
	now := time.Now().UTC()
	sample := `[{"group":"node_resources","name":"conformance_value","value":7,"timestamp":"` + now.Format(time.RFC3339) + `"}]`
	if st, raw := c.send(t, n.nsk, "POST", "/v1/nodes/"+n.id+"/metrics", "application/json", sample, nil); st != 202 {
		t.Fatalf("post metrics: %d %s", st, raw)
	}
	t.Run("QueryDomainMetrics", func(t *testing.T) {
		v := url.Values{"query": {`plexd_system_conformance_value`}, "time": {now.Add(time.Second).Format(time.RFC3339)}}
		got := c.ok(t, "GET", "/v1/domains/"+w.domainID+"/metrics/query?"+v.Encode(), nil, metricsQueryResult)
		if got == nil {
			return
		}
		var body struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string `json:"resultType"`
				Result     []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(str0(got, "body")), &body); err != nil || body.Status != "success" ||
			body.Data.ResultType != "vector" || len(body.Data.Result) != 1 || body.Data.Result[0].Metric["node_id"] != n.id ||
			body.Data.Result[0].Value[1] != "7" {
			t.Errorf("QueryDomainMetrics body: %v %s", err, str0(got, "body"))
		}
		v.Set("query", `sum(`)
		c.problem(t, c.env.Token, "GET", "/v1/domains/"+w.domainID+"/metrics/query?"+v.Encode(), nil, 400, "invalid_promql")
	})
}
