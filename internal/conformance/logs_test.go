package conformance

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Node logs (issue 15), from the contract's LogsQueryResult: the Loki body
// is an opaque JSON string.
var logsQueryResult = object(req("status_code", integer), req("body", str))

// nodeLogs covers QueryDomainLogs over a batch a node sent as NDJSON
// LogLines, and its 400 for an expression outside the subset.
func (c *client) nodeLogs(t *testing.T, w *world) {
	n := w.nodes[0]
	now := time.Now().UTC()
	line := `{"severity":"err","unit":"sshd.service","hostname":"conf-1","message":"conformance line","timestamp":"` +
		now.Format(time.RFC3339) + `"}`
	if st, raw := c.send(t, n.nsk, "POST", "/v1/nodes/"+n.id+"/logs", "application/x-ndjson", line+"\n", nil); st != 202 {
		t.Fatalf("post logs: %d %s", st, raw)
	}
	t.Run("QueryDomainLogs", func(t *testing.T) {
		v := url.Values{"query": {`{unit="sshd.service"} |= "conformance"`}, "start": {now.Add(-time.Hour).Format(time.RFC3339)},
			"end": {now.Add(time.Hour).Format(time.RFC3339)}, "limit": {"10"}, "direction": {"forward"}}
		got := c.ok(t, "GET", "/v1/domains/"+w.domainID+"/logs/query?"+v.Encode(), nil, logsQueryResult)
		if got == nil {
			return
		}
		var body struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string `json:"resultType"`
				Result     []struct {
					Values [][2]string `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(str0(got, "body")), &body); err != nil || body.Status != "success" ||
			body.Data.ResultType != "streams" || len(body.Data.Result) != 1 || !strings.Contains(body.Data.Result[0].Values[0][1], "conformance") {
			t.Errorf("QueryDomainLogs body: %v %s", err, str0(got, "body"))
		}
		v.Set("query", `sum(rate({unit="x"}[5m]))`)
		c.problem(t, c.env.Token, "GET", "/v1/domains/"+w.domainID+"/logs/query?"+v.Encode(), nil, 400, "invalid_logql")
	})
}
