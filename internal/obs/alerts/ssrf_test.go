package alerts_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/obs/alerts"
)

// TestWebhookSSRFGuard: by default a rule may not name a webhook on a
// literal loopback, private, link-local, shared (mesh) or unspecified
// address (400 alert_rule_invalid, at create and at update), and a name
// that resolves to loopback ("localhost") is refused when the
// notification is delivered: a failed attempt is recorded and retried,
// nothing reaches the receiver, and nothing crashes.
func TestWebhookSSRFGuard(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.StartConfig(t, b, func(c *config.Config) { c.AlertEvalInterval = 24 * time.Hour })
			fx := e.NewEnrolment(t, "ssrf", "10.144.0.0/16", 1)
			n1 := e.RegisterNode(t, fx.Token.Token, "quiet", 1)
			rcv := newReceiver(t, 0)
			rules := "/v1/domains/" + fx.Domain.ID + "/alert-rules"
			create := func(name, hook string) (int, []byte, apiv1.AlertRule) {
				var r apiv1.AlertRule
				st, raw := e.Do(t, "POST", rules, apiv1.AlertRuleCreate{Name: name, Kind: "node_down", Signal: "heartbeat",
					Comparator: "gt", Threshold: 300, Severity: "warning", WebhookURL: hook}, &r)
				return st, raw, r
			}
			for i, hook := range []string{rcv.srv.URL, "http://127.0.0.1/x", "http://[::1]:8080/", "https://10.0.0.5/",
				"http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://100.127.255.254/",
				"http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:80/", "http://[::]/", "http://[fd00::1]/",
				"http://[fe80::1%25eth0]/", "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a00:1]/", "http://224.0.0.1/",
				"http://127.1/", "http://2130706433/", "http://0x7f.0.0.1/", "http://127.0.0.1./"} {
				st, raw, _ := create("r"+string(rune('a'+i)), hook)
				var p apiv1.Problem
				if st != 400 || json.Unmarshal(raw, &p) != nil || p.Code != "alert_rule_invalid" ||
					!strings.Contains(p.Detail, "alert_webhook_allow_private") {
					t.Errorf("%s: %d %s, want 400 alert_rule_invalid", hook, st, raw)
				}
			}
			// Public literals and names pass the create-time check.
			for i, hook := range []string{"https://203.0.113.7/hook", "https://[2001:db8::1]/hook", "https://hooks.example.com/x"} {
				st, raw, r := create("public"+string(rune('a'+i)), hook)
				if st != 201 {
					t.Errorf("%s: %d %s", hook, st, raw)
					continue
				}
				// Deleted again: this test sends nothing off the machine.
				if st, raw := e.Do(t, "DELETE", rules+"/"+r.ID, nil, nil); st != 204 {
					t.Fatalf("delete %s: %d %s", hook, st, raw)
				}
			}
			// A name resolving to loopback: accepted now, refused when
			// connected to.
			u, _ := url.Parse(rcv.srv.URL)
			st, raw, rule := create("down", "http://localhost:"+u.Port()+"/hook")
			if st != 201 {
				t.Fatalf("localhost rule: %d %s", st, raw)
			}
			// An update to a literal loopback address is refused too.
			bad := "http://127.0.0.1:" + u.Port() + "/"
			if st, raw := e.Do(t, "PATCH", rules+"/"+rule.ID, apiv1.AlertRuleUpdate{WebhookURL: &bad}, nil); st != 400 ||
				!strings.Contains(string(raw), "alert_rule_invalid") {
				t.Errorf("update to %s: %d %s", bad, st, raw)
			}
			ctx := context.Background()
			svc := e.Server.Alerts
			later := time.Now().Add(10 * time.Minute)
			if err := svc.EvalOnce(ctx, later); err != nil {
				t.Fatal(err)
			}
			_, open := listIncidents(t, e, e.Token, fx.Domain.ID, "open")
			if len(open.Items) == 0 {
				t.Fatalf("no incident for the quiet node %s", n1.ID)
			}
			n, err := svc.Deliver(ctx, later)
			if err != nil || n != 0 {
				t.Fatalf("delivered %d: %v", n, err)
			}
			if got := rcv.messages(); len(got) != 0 {
				t.Fatalf("the loopback receiver got %d notifications", len(got))
			}
			var attempts int
			var state, lastErr string
			if err := e.Server.DB.QueryRowContext(ctx, `SELECT attempts, state, last_error FROM alert_notifications
				WHERE rule_id = $1`, rule.ID).Scan(&attempts, &state, &lastErr); err != nil {
				t.Fatal(err)
			}
			if attempts != 1 || state != "pending" || !strings.Contains(lastErr, "refused: loopback") {
				t.Fatalf("outbox: %d attempts, %s, %q; want one failed attempt refused as loopback", attempts, state, lastErr)
			}
			if st := svc.Stats(); st.Retried != 1 || st.Delivered != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestWebhookClientGuard: the default webhook client refuses a loopback
// receiver at connection time, also through a name, and reaches it when
// private receivers are allowed.
func TestWebhookClientGuard(t *testing.T) {
	rcv := newReceiver(t, 0)
	u, _ := url.Parse(rcv.srv.URL)
	for _, target := range []string{rcv.srv.URL, "http://localhost:" + u.Port()} {
		err := post(t, alerts.WebhookClient(false), target)
		if err == nil || !strings.Contains(err.Error(), "refused: loopback") {
			t.Errorf("guarded %s: %v", target, err)
		}
		if err := post(t, alerts.WebhookClient(true), target); err != nil {
			t.Errorf("allowed %s: %v", target, err)
		}
	}
}

func post(t *testing.T, c *http.Client, target string) error {
	t.Helper()
	resp, err := c.Post(target, "application/json", strings.NewReader(`{}`))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
