package dashboard_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

// nodePost sends a telemetry batch (a JSON array, as the existing agent
// does) to POST /v1/nodes/{id}/{kind} with the node's NSK and fails the
// test unless it is accepted.
func nodePost(t *testing.T, env *browsertest.Env, nsk, nodeID, kind string, batch any) {
	t.Helper()
	raw, _ := json.Marshal(batch)
	req, err := http.NewRequest("POST", env.URL+"/v1/nodes/"+nodeID+"/"+kind, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+nsk)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest %s: %d %s", kind, resp.StatusCode, body)
	}
	var receipt struct {
		Records int `json:"records"`
	}
	json.Unmarshal(body, &receipt)
	if receipt.Records == 0 {
		t.Fatalf("ingest %s: no record stored: %s", kind, body)
	}
}

// selectValue picks an option of a <select> the way a user does (a change
// event).
func selectValue(p *browsertest.Page, testid, value string) {
	p.T.Helper()
	raw, _ := json.Marshal(value)
	p.Wait(testid)
	p.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		el.value = %s; el.dispatchEvent(new Event('change', {bubbles: true})); })()`, string(browsertest.TestID(testid)), raw)))
}

// attr reads an attribute of the first element with this data-testid.
func attr(p *browsertest.Page, testid, name string) string {
	p.T.Helper()
	p.Wait(testid)
	return browsertest.Eval[string](p, fmt.Sprintf(`document.querySelector(%q).getAttribute(%q) || ''`, string(browsertest.TestID(testid)), name))
}

// TestBrowserObservability covers the observability screens over a node
// that reports through the real ingest paths: a PromQL range query drawn
// as a chart and an instant query as a table (and a malformed one's error
// inline); a LogQL query finding the node's line, and the live tail
// showing a line sent while it is open; the node audit stream on the
// Domain's audit page; an alert rule refused inline, then created, listed,
// disabled and deleted; an incident opened by hand, noted and resolved;
// the Domain's telemetry retention refused out of range, then set.
func TestBrowserObservability(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")
	// The refused query, rule and retention answer 400/422: the browser
	// logs the failed loads.
	p.AllowConsoleErrors = append(p.AllowConsoleErrors, "/metrics/query", "/alert-rules", "/telemetry-retention")

	// A Domain with a Project and one node enrolled with a bootstrap token.
	var d, pr struct{ ID string }
	opsCall(t, env, env.Token, "POST", "/v1/domains", map[string]any{"name": "Observability", "slug": "observability", "mesh_cidr": "100.99.0.0/16"}, &d)
	opsCall(t, env, env.Token, "POST", "/v1/projects", map[string]any{"domain_id": d.ID, "name": "Telemetry", "slug": "telemetry"}, &pr)
	var tok struct{ Token string }
	opsCall(t, env, env.Token, "POST", "/v1/projects/"+pr.ID+"/bootstrap-tokens",
		map[string]any{"kind": "node", "env_prefix": "test", "max_uses": 1}, &tok)
	pub := make([]byte, 32)
	rand.Read(pub)
	var n struct {
		ID  string `json:"node_id"`
		NSK string `json:"node_secret_key"`
	}
	opsCall(t, env, tok.Token, "POST", "/v1/register", map[string]string{"token": tok.Token,
		"public_key": base64.StdEncoding.EncodeToString(pub), "hostname": "obs-1"}, &n)

	// The node reports: system metrics every 5 minutes for the last 55
	// minutes (CPU 10, 12, …, the last 42.5), two journald lines and an
	// auditd record.
	now := time.Now().UTC()
	var points []map[string]any
	for i := 11; i >= 0; i-- {
		cpu := float64(10 + 2*(11-i))
		at := now.Add(-time.Duration(i)*5*time.Minute - 30*time.Second)
		if i == 0 {
			cpu = 42.5
		}
		points = append(points, map[string]any{"timestamp": at.Format(time.RFC3339Nano), "group": "system",
			"data": map[string]any{"cpu_usage_percent": cpu, "memory_used_bytes": 1 << 30, "memory_total_bytes": 4 << 30}})
	}
	nodePost(t, env, n.NSK, n.ID, "metrics", points)
	logLine := func(at time.Time, unit, sev, msg string) map[string]any {
		return map[string]any{"timestamp": at.Format(time.RFC3339Nano), "source": "journald", "unit": unit,
			"severity": sev, "hostname": "obs-1", "message": msg}
	}
	nodePost(t, env, n.NSK, n.ID, "logs", []map[string]any{
		logLine(now.Add(-10*time.Minute), "sshd.service", "err", "Failed password for root from 203.0.113.7"),
		logLine(now.Add(-9*time.Minute), "cron.service", "info", "cron job ran"),
	})
	nodePost(t, env, n.NSK, n.ID, "audit", []map[string]any{{"timestamp": now.Add(-8 * time.Minute).Format(time.RFC3339Nano),
		"source": "auditd", "event_type": "SYSCALL", "subject": map[string]any{"uid": 0, "gid": 0, "pid": 4242},
		"object": "/etc/shadow", "action": "open", "result": "failure", "hostname": "obs-1", "raw": "type=SYSCALL msg=audit(1): syscall=257"}})

	// ---- Metrics ----
	p.Go("#/metrics?domain_id=" + d.ID)
	p.Wait("metrics-hint")
	p.Fill("metrics-query", "plexd_system_cpu_usage_percent")
	press(p, "metrics-run")
	p.Wait("metrics-result-series")
	if typ := attr(p, "metrics-result", "data-type"); typ != "matrix" {
		t.Fatalf("range result type %q", typ)
	}
	name := attr(p, "metrics-result-series", "data-name")
	if !strings.HasPrefix(name, "plexd_system_cpu_usage_percent{") || !strings.Contains(name, `hostname="obs-1"`) || !strings.Contains(name, `node_id="`+n.ID+`"`) {
		t.Fatalf("series %q", name)
	}
	if pts, _ := strconv.Atoi(attr(p, "metrics-result-series", "data-points")); pts < 10 {
		t.Fatalf("the range series has %d points", pts)
	}
	if k := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="metrics-result-line"]').length`); k != 1 {
		t.Fatalf("%d polylines drawn, want 1", k)
	}
	if legend := p.Text("metrics-result-legend"); legend != name {
		t.Errorf("legend %q, want %q", legend, name)
	}
	p.Shot("metrics-range")
	p.CheckAccessible()
	// The accessible table behind the chart lists the points.
	p.Click("metrics-result-table-toggle")
	p.Wait("metrics-result-table")
	if rows := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="metrics-result-table"] tbody tr').length`); strconv.Itoa(rows) != attr(p, "metrics-result-series", "data-points") {
		t.Errorf("the data table has %d rows, not one per point", rows)
	}
	p.CheckAccessible()
	// An instant query is a table of values; the last sample is 42.5.
	p.Go("#/metrics?domain_id=" + d.ID + "&mode=instant&q=" + "plexd_system_cpu_usage_percent")
	p.Wait("metrics-result-row")
	if v := p.Text("metrics-result-value"); v != "42.5" {
		t.Errorf("instant value %q, want 42.5", v)
	}
	p.Shot("metrics-instant")
	// A malformed expression: the API's problem inline.
	p.Go("#/metrics?domain_id=" + d.ID + "&mode=instant&q=" + "sum(")
	p.Wait("metrics-error")
	if code := attr(p, "metrics-error", "data-code"); code != "invalid_promql" {
		t.Errorf("inline error code %q", code)
	}
	p.Shot("metrics-error")
	p.CheckAccessible()

	// From the node's page: all of its series.
	p.Go("#/nodes/" + n.ID)
	p.Click("node-metrics")
	p.Wait("metrics-result-series")
	p.WaitFor(`document.querySelectorAll('[data-testid="metrics-result-series"]').length === 3`) // cpu, memory used and total

	// ---- Logs ----
	p.Go("#/logs?domain_id=" + d.ID)
	p.Wait("logs-hint")
	setValue(p, "logs-query", `{unit="sshd.service"} |= "Failed"`) // SendKeys drops braces
	press(p, "logs-run")
	p.Wait("logs-row")
	if k := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="logs-row"]').length`); k != 1 {
		t.Fatalf("%d lines, want the one sshd failure", k)
	}
	if line := p.Text("log-line"); line != "Failed password for root from 203.0.113.7" {
		t.Errorf("line %q", line)
	}
	if host := p.Text("log-node"); host != "obs-1" {
		t.Errorf("node column %q", host)
	}
	p.Shot("logs-query")
	p.CheckAccessible()
	// Live tail: a line the node sends while the tail is open appears.
	press(p, "logs-tail")
	p.WaitFor(`document.querySelector('[data-testid="logs-tail-state"]')?.dataset.live === 'yes'`)
	nodePost(t, env, n.NSK, n.ID, "logs", []map[string]any{
		logLine(time.Now().UTC(), "sshd.service", "err", "Failed password for admin from 198.51.100.9"),
		logLine(time.Now().UTC(), "sshd.service", "info", "Accepted publickey for alice"),
	})
	p.WaitFor(`[...document.querySelectorAll('[data-testid="logs-tail-row"] [data-testid="log-line"]')].some(e => e.textContent.includes('198.51.100.9'))`)
	if k := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="logs-tail-row"]').length`); k != 1 {
		t.Errorf("%d tailed lines, want 1 (the other does not match the filter)", k)
	}
	p.Shot("logs-tail")
	p.CheckAccessible()
	press(p, "logs-tail")
	p.WaitFor(`!document.querySelector('[data-testid="logs-tail-card"]')`)

	// ---- Node audit, next to the control plane's chain ----
	p.Go("#/domains/" + d.ID + "/audit")
	p.Wait("audit-row")
	p.Click("audit-tab-nodes")
	p.Wait("node-audit-row")
	if obj, act := p.Text("node-audit-object"), p.Text("node-audit-action"); obj != "/etc/shadow" || act != "open" {
		t.Errorf("node audit record: object %q action %q", obj, act)
	}
	if oc := attr(p, "node-audit-outcome", "data-status"); oc != "failure" {
		t.Errorf("outcome %q", oc)
	}
	p.Shot("node-audit")
	p.CheckAccessible()
	// A filter that matches nothing.
	selectValue(p, "node-audit-source", "k8s")
	press(p, "node-audit-apply")
	p.Wait("node-audit-empty")

	// ---- Alert rules ----
	p.Go("#/alerts?domain_id=" + d.ID)
	p.Wait("rules-empty")
	p.Click("rule-create")
	p.Fill("field-name", "cpu-hot")
	setValue(p, "field-signal", "avg_over_time(plexd_system_cpu_usage_percent[5m]")
	p.Fill("field-threshold", "90")
	p.Fill("field-labels", "team=sre")
	p.Fill("field-webhook_url", "https://hooks.example.com/plexsphere")
	p.Fill("field-webhook_secret", "a-signing-secret-of-32-characters")
	press(p, "rule-form-submit")
	p.Wait("rule-form-error") // the signal does not parse
	p.Shot("rule-invalid")
	p.CheckAccessible()
	setValue(p, "field-signal", "avg_over_time(plexd_system_cpu_usage_percent[5m])")
	press(p, "rule-form-submit")
	p.Wait("rules-row")
	if nm := p.Text("rule-name"); nm != "cpu-hot" {
		t.Errorf("rule listed as %q", nm)
	}
	if c := p.Text("rule-condition"); c != "(avg_over_time(plexd_system_cpu_usage_percent[5m])) > 90" {
		t.Errorf("condition %q", c)
	}
	if st := attr(p, "rule-state", "data-status"); st != "enabled" {
		t.Errorf("state %q", st)
	}
	p.Shot("rules")
	p.CheckAccessible()
	// Edit: a new threshold; the secret left blank stays stored.
	press(p, "rule-edit")
	p.Wait("rule-form")
	if v := browsertest.Eval[string](p, `document.querySelector('[data-testid="field-webhook_secret"]').value`); v != "" {
		t.Errorf("the edit form shows a secret: %q", v)
	}
	setValue(p, "field-threshold", "95")
	press(p, "rule-form-submit")
	p.WaitFor(`document.querySelector('[data-testid="rule-condition"]')?.textContent.endsWith('> 95')`)
	press(p, "rule-toggle")
	p.WaitFor(`document.querySelector('[data-testid="rule-state"]')?.dataset.status === 'disabled'`)
	// The stored rule: disabled, the secret set but never shown.
	var rules struct {
		Items []map[string]any `json:"items"`
	}
	opsCall(t, env, env.Token, "GET", "/v1/domains/"+d.ID+"/alert-rules", nil, &rules)
	if len(rules.Items) != 1 || rules.Items[0]["enabled"] != false || rules.Items[0]["webhook_secret_set"] != true || rules.Items[0]["for"] != "5m" {
		t.Fatalf("stored rules: %+v", rules.Items)
	}
	if strings.Contains(browsertest.Eval[string](p, `document.body.innerHTML`), "a-signing-secret") {
		t.Error("the webhook secret is in the page")
	}
	press(p, "rule-delete")
	press(p, "rule-delete-confirm")
	p.Wait("rules-empty")

	// ---- Incidents ----
	p.Go("#/incidents?domain_id=" + d.ID)
	p.Wait("incidents-empty")
	p.Click("incident-create")
	p.Fill("field-title", "Disk filling on obs-1")
	selectValue(p, "field-severity", "critical")
	press(p, "incident-form-submit")
	p.Wait("incident-detail")
	if st := attr(p, "incident-detail", "data-status"); st != "open" {
		t.Fatalf("new incident %q", st)
	}
	p.Wait("incident-timeline-empty")
	p.Fill("field-message", "paged on-call")
	press(p, "note-form-submit")
	p.Wait("incident-event")
	if msg := p.Text("incident-event-message"); msg != "paged on-call" {
		t.Errorf("timeline note %q", msg)
	}
	p.Shot("incident-open")
	p.CheckAccessible()
	press(p, "incident-resolve")
	press(p, "incident-resolve-confirm")
	p.WaitFor(`document.querySelector('[data-testid="incident-detail"]')?.dataset.status === 'resolved'`)
	p.Wait("incident-closed")
	p.Shot("incident-resolved")
	p.CheckAccessible()
	// The list, filtered to resolved ones.
	p.Go("#/incidents?domain_id=" + d.ID)
	p.Wait("incidents-row")
	selectValue(p, "filter-status", "open")
	press(p, "incidents-apply")
	p.Wait("incidents-empty")
	selectValue(p, "filter-status", "resolved")
	press(p, "incidents-apply")
	p.Wait("incidents-row")
	if st := attr(p, "incident-status", "data-status"); st != "resolved" {
		t.Errorf("listed as %q", st)
	}
	p.Shot("incidents")
	p.CheckAccessible()

	// ---- Retention, on the Domain's page ----
	p.Go("#/domains/" + d.ID)
	p.Wait("retention-metrics")
	press(p, "retention-edit")
	p.Fill("field-metrics", "9999d")
	p.Fill("field-logs", "72h")
	press(p, "retention-form-submit")
	p.Wait("retention-form-error")
	if code := attr(p, "retention-form-error", "data-code"); code != "retention_out_of_range" {
		t.Errorf("retention error %q", code)
	}
	p.Shot("retention-error")
	p.Do(clear("field-metrics"))
	p.Fill("field-metrics", "7d")
	press(p, "retention-form-submit")
	p.WaitFor(`document.querySelector('[data-testid="retention-metrics"]')?.dataset.seconds === '604800'`)
	if s := attr(p, "retention-logs", "data-seconds"); s != "259200" {
		t.Errorf("logs retention %s s, want 259200", s)
	}
	var ret struct {
		MetricsSeconds int64 `json:"metrics_seconds"`
		LogsSeconds    int64 `json:"logs_seconds"`
		MetricsCustom  bool  `json:"metrics_custom"`
	}
	opsCall(t, env, env.Token, "GET", "/v1/domains/"+d.ID+"/telemetry-retention", nil, &ret)
	if ret.MetricsSeconds != 604800 || ret.LogsSeconds != 259200 || !ret.MetricsCustom {
		t.Errorf("stored retention %+v", ret)
	}
	p.Shot("retention")
	p.CheckAccessible()

	// Every request was an operation of the contract (checked again at the
	// end), among them each of the screens' operations.
	ops := p.CheckParity()
	for _, want := range []string{
		"GET /v1/domains/{domainId}/metrics/query", "GET /v1/domains/{domainId}/logs/query", "GET /v1/domains/{domainId}/logs/tail",
		"POST /v1/domains/{domainId}/alert-rules", "PATCH /v1/domains/{domainId}/alert-rules/{alertRuleId}",
		"DELETE /v1/domains/{domainId}/alert-rules/{alertRuleId}", "POST /v1/domains/{domainId}/incidents",
		"POST /v1/domains/{domainId}/incidents/{incidentId}/events", "POST /v1/domains/{domainId}/incidents/{incidentId}:resolve",
		"GET /v1/domains/{domainId}/incidents", "PUT /v1/domains/{domainId}/telemetry-retention",
	} {
		if !slices.Contains(ops, want) {
			t.Errorf("no %s request", want)
		}
	}
}
