package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/obs/alerts"
)

const webhookSecret = "s3cret-signing-key-0123456789"

// allowLoopback tunes a test server whose webhook receivers listen on
// loopback (httptest): alert_webhook_allow_private, and no evaluation
// loop (the tests step the clock).
func allowLoopback(c *config.Config) {
	c.AlertEvalInterval = 24 * time.Hour
	c.AlertWebhookAllowPrivate = true
}

// received is one webhook request as the receiver saw it.
type received struct {
	msg      alerts.Message
	verified bool
	delivery string
}

// receiver is a real HTTP webhook receiver that verifies signatures and
// answers fail (then 200) to its first requests.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	fail int
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail > 0 {
			r.fail--
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var m alerts.Message
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body is not a message: %s", body)
		}
		ok := alerts.Verify([]byte(webhookSecret), req.Header.Get(alerts.HeaderTimestamp), body,
			req.Header.Get(alerts.HeaderSignature))
		r.got = append(r.got, received{msg: m, verified: ok, delivery: req.Header.Get(alerts.HeaderDelivery)})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) failing() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fail
}

func (r *receiver) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// cpu is the simulated system CPU of node i at minute m: nodes 0–9 run
// hot (95 %) from minute 10 to 39; nodes 10–14 spike to 100 % for two
// minutes (the 5-minute average stays far below 90); nodes 15–19 sit at
// exactly 90 (not above); the rest idle.
func cpu(i, m int) float64 {
	switch {
	case i < 10:
		if m >= 10 && m < 40 {
			return 95
		}
		return 20
	case i < 15:
		if m == 20 || m == 21 {
			return 100
		}
		return 30
	case i < 20:
		return 90
	}
	return float64(10 + i%40)
}

func hourBatch(base time.Time, i int) []byte {
	var recs []string
	for m := range 60 {
		recs = append(recs, fmt.Sprintf(`{"timestamp":%q,"group":"system","data":{"cpu_usage_percent":%v,"memory_used_bytes":1}}`,
			base.Add(time.Duration(m)*time.Minute).UTC().Format(time.RFC3339Nano), cpu(i, m)))
	}
	return []byte("[" + strings.Join(recs, ",") + "]")
}

func listIncidents(t *testing.T, e *apptest.Env, token, domain, status string) (int, apiv1.List[apiv1.Incident]) {
	t.Helper()
	var out apiv1.List[apiv1.Incident]
	st, raw := e.DoAs(t, token, "GET", "/v1/domains/"+domain+"/incidents?limit=200&status="+status, nil, &out)
	if st == 200 && out.Items == nil {
		t.Fatalf("incident list without items: %s", raw)
	}
	return st, out
}

// Issue 15 (must show): 50 nodes report system CPU for a simulated hour;
// `avg_over_time(plexd_system_cpu_usage_percent[5m]) > 90` for 5m fires
// for exactly the nodes over the threshold, each opening one incident;
// the real webhook receiver gets exactly one signed firing notification
// per incident, and, once the CPU drops, one resolved notification as the
// incident resolves.
func TestAlertRuleFiresIncidentsAndSignedWebhooks(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.StartConfig(t, b, allowLoopback)
			fx := e.NewEnrolment(t, "alerts", "10.141.0.0/16", 50)
			nodes := make([]apptest.Node, 50)
			host := map[string]int{}
			for i := range nodes {
				nodes[i] = e.RegisterNode(t, fx.Token.Token, fmt.Sprintf("n%02d", i), 1)
				host[nodes[i].ID] = i
			}
			rcv := newReceiver(t, 0)
			var rule apiv1.AlertRule
			st, raw := e.Do(t, "POST", "/v1/domains/"+fx.Domain.ID+"/alert-rules", apiv1.AlertRuleCreate{
				Name: "cpu-saturated", Signal: "avg_over_time(plexd_system_cpu_usage_percent[5m])", Comparator: "gt",
				Threshold: 90, Severity: "critical", For: "5m", Labels: map[string]string{"team": "sre"},
				WebhookURL: rcv.srv.URL, WebhookSecret: webhookSecret}, &rule)
			if st != 201 || rule.For != "5m" || rule.Kind != "promql" || !rule.WebhookSecretSet || !rule.Enabled {
				t.Fatalf("create rule: %d %s", st, raw)
			}
			if strings.Contains(string(raw), webhookSecret) {
				t.Fatalf("the webhook secret came back: %s", raw)
			}

			base := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
			for i, n := range nodes {
				resp, raw := e.NodeSendRaw(t, n, "POST", "/v1/nodes/"+n.ID+"/metrics", hourBatch(base, i),
					http.Header{"Content-Type": {"application/json"}, "User-Agent": {"plexd/v0.1"}})
				if resp.StatusCode != 202 {
					t.Fatalf("metrics of node %d: %d %s", i, resp.StatusCode, raw)
				}
			}

			ctx := context.Background()
			svc := e.Server.Alerts
			step := func(from, to time.Duration) {
				for d := from; d <= to; d += 30 * time.Second {
					if err := svc.EvalOnce(ctx, base.Add(d)); err != nil {
						t.Fatalf("eval at %v: %v", d, err)
					}
					if _, err := svc.Deliver(ctx, base.Add(d)); err != nil {
						t.Fatalf("deliver at %v: %v", d, err)
					}
				}
			}
			// Pending from 14m (the first all-hot window), firing 5 min later.
			step(0, 18*time.Minute+30*time.Second)
			if _, open := listIncidents(t, e, e.Token, fx.Domain.ID, "open"); len(open.Items) != 0 || len(rcv.messages()) != 0 {
				t.Fatalf("fired before the hold: %d incidents, %d notifications", len(open.Items), len(rcv.messages()))
			}
			step(19*time.Minute, 35*time.Minute)
			_, open := listIncidents(t, e, e.Token, fx.Domain.ID, "open")
			if len(open.Items) != 10 {
				t.Fatalf("%d open incidents, want 10: %+v", len(open.Items), open.Items)
			}
			for _, inc := range open.Items {
				if i, ok := host[inc.Labels["node_id"]]; !ok || i >= 10 || inc.AlertRuleID != rule.ID || inc.Severity != "critical" ||
					inc.Labels["team"] != "sre" || inc.Labels["alertname"] != "cpu-saturated" || len(inc.Timeline) != 0 {
					t.Errorf("unexpected incident %+v", inc)
				}
			}
			var one apiv1.Incident
			if st, raw := e.Do(t, "GET", "/v1/domains/"+fx.Domain.ID+"/incidents/"+open.Items[0].ID, nil, &one); st != 200 ||
				len(one.Timeline) != 1 || one.Timeline[0].Kind != "status_change" || !strings.Contains(one.Timeline[0].Message, "firing") {
				t.Fatalf("incident: %d %s", st, raw)
			}
			firing := rcv.messages()
			checkNotifications(t, firing, "firing", 10, open.Items)

			// The CPU drops at minute 40: every incident resolves, once.
			step(35*time.Minute+30*time.Second, 60*time.Minute)
			if _, still := listIncidents(t, e, e.Token, fx.Domain.ID, "open"); len(still.Items) != 0 {
				t.Fatalf("%d incidents still open", len(still.Items))
			}
			_, resolved := listIncidents(t, e, e.Token, fx.Domain.ID, "resolved")
			if len(resolved.Items) != 10 {
				t.Fatalf("%d resolved incidents, want 10", len(resolved.Items))
			}
			all := rcv.messages()
			checkNotifications(t, all[len(firing):], "resolved", 10, resolved.Items)
			if st := svc.Stats(); st.Opened != 10 || st.Resolved != 10 || st.Delivered != 20 || st.Dropped != 0 {
				t.Fatalf("stats %+v", st)
			}
			if st, raw := e.Do(t, "GET", "/v1/domains/"+fx.Domain.ID+"/incidents/"+open.Items[0].ID, nil, &one); st != 200 ||
				one.Status != "resolved" || one.ResolvedAt == nil || len(one.Timeline) != 2 ||
				!strings.Contains(one.Timeline[1].Message, "stopped firing") {
				t.Fatalf("resolved incident: %d %s", st, raw)
			}
		})
	}
}

// checkNotifications asserts exactly one verified notification of status
// per incident.
func checkNotifications(t *testing.T, got []received, status string, want int, incs []apiv1.Incident) {
	t.Helper()
	if len(got) != want {
		t.Fatalf("%d %s notifications, want %d", len(got), status, want)
	}
	byIncident := map[string]int{}
	for _, r := range got {
		if !r.verified || r.delivery == "" {
			t.Errorf("notification not signed with the rule's secret: %+v", r)
		}
		m := r.msg
		if m.Version != "4" || m.Status != status || len(m.Alerts) != 1 || m.Alerts[0].Status != status ||
			m.Alerts[0].Fingerprint == "" || m.Alerts[0].Labels["severity"] != "critical" || m.Receiver != "cpu-saturated" ||
			!strings.Contains(m.Alerts[0].GeneratorURL, "/incidents/") || m.GroupKey == "" {
			t.Errorf("bad notification %+v", m)
		}
		if status == "resolved" && !m.Alerts[0].EndsAt.After(m.Alerts[0].StartsAt) {
			t.Errorf("resolved notification without endsAt: %+v", m.Alerts[0])
		}
		byIncident[m.Alerts[0].Annotations["incident_id"]]++
	}
	for _, inc := range incs {
		if byIncident[inc.ID] != 1 {
			t.Errorf("incident %s got %d %s notifications", inc.ID, byIncident[inc.ID], status)
		}
	}
}

// Issue 15: node-down rules fire from heartbeats; a failing webhook is
// retried with backoff until it answers; manual incidents take notes and
// resolve once; another Domain's rules and incidents are not found, a
// Project-only reader sees none, a Domain viewer cannot write; rule
// validation answers the contract's codes.
func TestNodeDownRetriesManualIncidentsAndScoping(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.StartLogged(t, b, allowLoopback)
			fx := e.NewEnrolment(t, "down", "10.142.0.0/16", 2)
			n1 := e.RegisterNode(t, fx.Token.Token, "quiet", 1)
			other := e.NewEnrolment(t, "other", "10.143.0.0/16", 1)
			e.RegisterNode(t, other.Token.Token, "elsewhere", 1)
			rcv := newReceiver(t, 2)
			rules := "/v1/domains/" + fx.Domain.ID + "/alert-rules"
			var rule apiv1.AlertRule
			if st, raw := e.Do(t, "POST", rules, apiv1.AlertRuleCreate{Name: "node-down", Kind: "node_down", Signal: "heartbeat",
				Comparator: "gt", Threshold: 300, Severity: "warning", WebhookURL: rcv.srv.URL, WebhookSecret: webhookSecret}, &rule); st != 201 {
				t.Fatalf("node_down rule: %d %s", st, raw)
			}
			ctx := context.Background()
			svc := e.Server.Alerts
			now := time.Now()
			if err := svc.EvalOnce(ctx, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, open := listIncidents(t, e, e.Token, fx.Domain.ID, "open"); len(open.Items) != 0 {
				t.Fatalf("a node seen a minute ago is down: %+v", open.Items)
			}
			later := now.Add(10 * time.Minute)
			if err := svc.EvalOnce(ctx, later); err != nil {
				t.Fatal(err)
			}
			_, open := listIncidents(t, e, e.Token, fx.Domain.ID, "open")
			if len(open.Items) != 1 || open.Items[0].Labels["node_id"] != n1.ID || open.Items[0].Title != "node-down on quiet" {
				t.Fatalf("node down incidents: %+v", open.Items)
			}
			// Two failures, then the backoff (10 s, 20 s) before success;
			// the outbox is in the database, so another replica (or this one
			// after a restart) sends the last attempt.
			for _, d := range []time.Duration{0, 5 * time.Second, 10 * time.Second, 25 * time.Second} {
				if _, err := svc.Deliver(ctx, later.Add(d)); err != nil {
					t.Fatal(err)
				}
			}
			if got := rcv.messages(); len(got) != 0 || rcv.failing() != 0 {
				t.Fatalf("delivered before the backoff ran out: %+v", got)
			}
			if st := svc.Stats(); st.Retried != 2 || st.Delivered != 0 {
				t.Fatalf("stats %+v", st)
			}
			if n, err := e.Replica(t).Server.Alerts.Deliver(ctx, later.Add(30*time.Second)); err != nil || n != 1 {
				t.Fatalf("replica delivered %d: %v", n, err)
			}
			if got := rcv.messages(); len(got) != 1 || !got[0].verified || got[0].msg.Status != "firing" {
				t.Fatalf("retried notification: %+v", got)
			}

			// Manual incidents.
			incs := "/v1/domains/" + fx.Domain.ID + "/incidents"
			var inc apiv1.Incident
			if st, raw := e.Do(t, "POST", incs, apiv1.IncidentOpenRequest{Title: "Upstream outage", Severity: "critical"}, &inc); st != 201 ||
				inc.Status != "open" || inc.Timeline == nil || len(inc.Timeline) != 0 {
				t.Fatalf("open: %d %s", st, raw)
			}
			var ev apiv1.TimelineEvent
			if st, raw := e.Do(t, "POST", incs+"/"+inc.ID+"/events", apiv1.TimelineEventAppend{Kind: "note", Message: "paged on-call"}, &ev); st != 201 ||
				ev.IncidentID != inc.ID || ev.Kind != "note" {
				t.Fatalf("note: %d %s", st, raw)
			}
			problem(t, e, e.Token, "POST", incs+"/"+inc.ID+"/events", apiv1.TimelineEventAppend{Kind: "shout", Message: "x"}, 400, "timeline_event_invalid")
			if st, raw := e.Do(t, "POST", incs+"/"+inc.ID+":resolve", nil, &inc); st != 200 || inc.Status != "resolved" ||
				inc.ResolvedAt == nil || len(inc.Timeline) != 2 {
				t.Fatalf("resolve: %d %s", st, raw)
			}
			problem(t, e, e.Token, "POST", incs+"/"+inc.ID+":resolve", nil, 409, "incident_already_resolved")
			problem(t, e, e.Token, "POST", incs+"/"+inc.ID+"/events", apiv1.TimelineEventAppend{Kind: "note", Message: "late"}, 409, "incident_resolved")
			problem(t, e, e.Token, "POST", incs, apiv1.IncidentOpenRequest{Title: "", Severity: "critical"}, 400, "incident_invalid")
			problem(t, e, e.Token, "GET", incs+"?status=closed", nil, 400, "incident_status_invalid")

			// Validation and conflicts.
			problem(t, e, e.Token, "POST", rules, apiv1.AlertRuleCreate{Name: "bad", Signal: "sum(", Comparator: "gt", Severity: "info"}, 400, "alert_rule_invalid")
			problem(t, e, e.Token, "POST", rules, apiv1.AlertRuleCreate{Name: "bad", Signal: "up", Comparator: "gt", Severity: "info", For: "48h"}, 400, "alert_rule_invalid")
			problem(t, e, e.Token, "POST", rules, apiv1.AlertRuleCreate{Name: "bad", Signal: "up", Comparator: "gt", Severity: "info",
				Labels: map[string]string{"domain_id": "x"}}, 400, "alert_rule_invalid")
			problem(t, e, e.Token, "POST", rules, apiv1.AlertRuleCreate{Name: "node-down", Signal: "up", Comparator: "gt", Severity: "info"}, 409, "alert_rule_name_conflict")
			name := "renamed"
			var upd apiv1.AlertRule
			if st, raw := e.Do(t, "PATCH", rules+"/"+rule.ID, apiv1.AlertRuleUpdate{Name: &name}, &upd); st != 200 ||
				upd.Name != "renamed" || upd.Kind != "node_down" || !upd.WebhookSecretSet {
				t.Fatalf("update: %d %s", st, raw)
			}

			// Scoping.
			otherRules := "/v1/domains/" + other.Domain.ID + "/alert-rules"
			viewerID, viewer := e.NewUser(t, "viewer")
			grantTuple(t, e, "user:"+viewerID, "viewer", "domain:"+fx.Domain.ID)
			if st, list := listIncidents(t, e, viewer, fx.Domain.ID, ""); st != 200 || len(list.Items) != 2 {
				t.Fatalf("domain viewer: %d %+v", st, list)
			}
			problem(t, e, viewer, "POST", rules, apiv1.AlertRuleCreate{Name: "x", Signal: "up", Comparator: "gt", Severity: "info"}, 403, "")
			problem(t, e, viewer, "GET", otherRules, nil, 404, "domain_not_found")
			problem(t, e, viewer, "GET", "/v1/domains/"+other.Domain.ID+"/incidents", nil, 404, "domain_not_found")
			problem(t, e, e.Token, "GET", otherRules+"/"+rule.ID, nil, 404, "alert_rule_not_found")
			projID, projTok := e.NewUser(t, "project-reader")
			grantTuple(t, e, "user:"+projID, "viewer", "project:"+fx.Project.ID)
			problem(t, e, projTok, "GET", incs, nil, 404, "domain_not_found")
			problem(t, e, projTok, "GET", rules+"/"+rule.ID, nil, 404, "domain_not_found")

			// Rule writes and rule-driven incidents are in the Domain's chain.
			for _, action := range []string{"alert_rule.create", "alert_rule.update", "incident.open", "incident.resolve"} {
				var entries apiv1.AuditList
				if st, raw := e.Do(t, "GET", "/v1/domains/"+fx.Domain.ID+"/audit/entries?action="+action, nil, &entries); st != 200 ||
					len(entries.Items) == 0 {
					t.Errorf("audit %s: %d %s", action, st, raw)
				}
			}
			// The secret is sealed at rest and never logged.
			var sealed string
			if err := e.Server.DB.QueryRowContext(ctx, `SELECT webhook_secret FROM alert_rules WHERE id = $1`, rule.ID).Scan(&sealed); err != nil ||
				sealed == "" || strings.Contains(sealed, webhookSecret) {
				t.Fatalf("stored secret %q: %v", sealed, err)
			}
			if bytes.Contains(e.Logs.Bytes(), []byte(webhookSecret)) {
				t.Fatal("the webhook secret is in the logs")
			}
			if st, raw := e.Do(t, "DELETE", rules+"/"+rule.ID, nil, nil); st != 204 {
				t.Fatalf("delete: %d %s", st, raw)
			}
			problem(t, e, e.Token, "GET", rules+"/"+rule.ID, nil, 404, "alert_rule_not_found")
			// Deleting the rule resolved its incident and notified the webhook.
			if _, open := listIncidents(t, e, e.Token, fx.Domain.ID, "open"); len(open.Items) != 0 {
				t.Fatalf("open after the rule's deletion: %+v", open.Items)
			}
			if _, err := svc.Deliver(ctx, time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := rcv.messages(); len(got) != 2 || got[1].msg.Status != "resolved" || !got[1].verified {
				t.Fatalf("notifications after the deletion: %+v", got)
			}
		})
	}
}

func grantTuple(t *testing.T, e *apptest.Env, subject, relation, resource string) {
	t.Helper()
	path := "/v1/authz/relation-tuples"
	if id, ok := strings.CutPrefix(resource, "project:"); ok {
		path += "?project_id=" + id
	}
	if st, raw := e.Do(t, "POST", path, apiv1.WriteRelationTuple{Subject: subject, Relation: relation, Resource: resource}, nil); st != 201 {
		t.Fatalf("grant: %d %s", st, raw)
	}
}

// problem asserts a problem answer with status and (when non-empty) code.
func problem(t *testing.T, e *apptest.Env, token, method, path string, body any, status int, code string) {
	t.Helper()
	var p struct {
		Code string `json:"code"`
	}
	st, raw := e.DoAs(t, token, method, path, body, nil)
	_ = json.Unmarshal(raw, &p)
	if st != status || (code != "" && p.Code != code) {
		t.Fatalf("%s %s: %d %s, want %d %s", method, path, st, raw, status, code)
	}
}
