package plexctl

import (
	"encoding/json"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// alertCases are the alert rule and incident commands (issue 15).
func alertCases() []cmdCase {
	const ruleID, incID = "0190c0de-0000-7000-8000-0000000000a1", "0190c0de-0000-7000-8000-0000000000b1"
	rules := "/v1/domains/" + dID + "/alert-rules"
	incs := "/v1/domains/" + dID + "/incidents"
	rule := apiv1.AlertRule{ID: ruleID, DomainID: dID, Name: "cpu", Kind: "promql", For: "5m"}
	inc := apiv1.Incident{ID: incID, DomainID: dID, Title: "t", Status: "open", Timeline: []apiv1.TimelineEvent{{Kind: "note", Message: "m"}},
		Labels: map[string]string{"node_id": "n"}}
	return []cmdCase{
		{[]string{"alerts", "rules", "list", "--domain", dID, "--limit", "5"}, "GET /v1/domains/{d}/alert-rules",
			apiv1.List[apiv1.AlertRule]{Items: []apiv1.AlertRule{rule}}, "GET " + rules + "?limit=5", ""},
		{[]string{"alerts", "rules", "get", ruleID, "--domain", dID}, "GET /v1/domains/{d}/alert-rules/{id}", rule,
			"GET " + rules + "/" + ruleID, ""},
		{[]string{"alerts", "rules", "create", "--domain", dID, "--name", "cpu", "--signal", "avg_over_time(x[5m])",
			"--threshold", "90", "--for", "5m", "--severity", "critical", "--label", "team=sre",
			"--webhook-url", "https://h.example/a", "--webhook-secret", "0123456789abcdef"},
			"POST /v1/domains/{d}/alert-rules", rule, "POST " + rules,
			`{"name":"cpu","signal":"avg_over_time(x[5m])","comparator":"gt","threshold":90,"severity":"critical",
			  "kind":"promql","for":"5m","labels":{"team":"sre"},"webhook_url":"https://h.example/a","webhook_secret":"0123456789abcdef"}`},
		{[]string{"alerts", "rules", "update", ruleID, "--domain", dID, "--threshold", "95", "--enabled=false"},
			"PATCH /v1/domains/{d}/alert-rules/{id}", rule, "PATCH " + rules + "/" + ruleID, `{"threshold":95,"enabled":false}`},
		{[]string{"alerts", "rules", "delete", ruleID, "--domain", dID}, "DELETE /v1/domains/{d}/alert-rules/{id}", nil,
			"DELETE " + rules + "/" + ruleID, ""},
		{[]string{"incidents", "list", "--domain", dID, "--status", "open"}, "GET /v1/domains/{d}/incidents",
			apiv1.List[apiv1.Incident]{Items: []apiv1.Incident{inc}}, "GET " + incs + "?status=open", ""},
		{[]string{"incidents", "get", incID, "--domain", dID}, "GET /v1/domains/{d}/incidents/{id}", inc, "GET " + incs + "/" + incID, ""},
		{[]string{"incidents", "open", "Upstream outage", "--domain", dID, "--severity", "critical"},
			"POST /v1/domains/{d}/incidents", inc, "POST " + incs, `{"title":"Upstream outage","severity":"critical"}`},
		{[]string{"incidents", "note", incID, "paged on-call", "--domain", dID}, "POST /v1/domains/{d}/incidents/{id}/events",
			apiv1.TimelineEvent{Kind: "note"}, "POST " + incs + "/" + incID + "/events", `{"kind":"note","message":"paged on-call"}`},
		{[]string{"incidents", "resolve", incID, "--domain", dID}, "POST /v1/domains/{d}/incidents/{id}",
			inc, "POST " + incs + "/" + incID + ":resolve", ""},
	}
}

// Issue 15: plexctl alerts rules … and incidents … send the contract's
// requests and print tables or JSON.
func TestAlertCommandsSendTheRightRequest(t *testing.T) {
	for _, tc := range alertCases() {
		h := newHarness(t)
		if tc.reply == nil {
			h.srv.Status(tc.pattern, 204)
		} else {
			h.srv.JSON(tc.pattern, 200, tc.reply)
		}
		for _, format := range []string{"table", "json"} {
			r := h.run(append(tc.args, "-o", format)...)
			if r.code != ExitOK {
				t.Errorf("%q -o %s: exit %d, stderr %q", tc.args, format, r.code, r.stderr)
				continue
			}
			req := h.srv.Last()
			if req.Pattern() != tc.want {
				t.Errorf("%q: request %q, want %q", tc.args, req.Pattern(), tc.want)
			}
			assertBody(t, tc.args, req, tc.body)
			if format == "json" && tc.reply != nil && !json.Valid([]byte(r.stdout)) {
				t.Errorf("%q -o json: stdout is not JSON: %q", tc.args, r.stdout)
			}
		}
	}
}
