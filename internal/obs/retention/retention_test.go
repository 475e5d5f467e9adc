package retention_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/obs/retention"
)

func cpuBatch(at time.Time, v float64) []byte {
	return fmt.Appendf(nil, `[{"timestamp":%q,"group":"system","data":{"cpu_usage_percent":%v}}]`, at.UTC().Format(time.RFC3339Nano), v)
}

func logBatch(at time.Time, msg string) []byte {
	return fmt.Appendf(nil, `[{"timestamp":%q,"source":"journald","unit":"sshd.service","severity":"info","hostname":"h","message":%q}]`,
		at.UTC().Format(time.RFC3339Nano), msg)
}

func send(t *testing.T, e *apptest.Env, n apptest.Node, kind string, body []byte) {
	t.Helper()
	resp, raw := e.NodeSendRaw(t, n, http.MethodPost, "/v1/nodes/"+n.ID+"/"+kind, body, http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != 202 {
		t.Fatalf("%s batch: %d %s", kind, resp.StatusCode, raw)
	}
}

// samples answers how many cpu samples of the last 3 hours the node has.
func samples(t *testing.T, e *apptest.Env, domain, node string) string {
	t.Helper()
	v := url.Values{"query": {`count_over_time(plexd_system_cpu_usage_percent{node_id="` + node + `"}[3h])`},
		"time": {time.Now().UTC().Format(time.RFC3339)}}
	var r struct {
		Body string `json:"body"`
	}
	if st, raw := e.Do(t, "GET", "/v1/domains/"+domain+"/metrics/query?"+v.Encode(), nil, &r); st != 200 {
		t.Fatalf("query: %d %s", st, raw)
	}
	var b struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Data.Result) == 0 {
		return "0"
	}
	return fmt.Sprint(b.Data.Result[0].Value[1])
}

func lines(t *testing.T, e *apptest.Env, domain string) int {
	t.Helper()
	var n int
	if err := e.Server.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM node_log_lines WHERE domain_id = $1`, domain).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 15: a Domain's own metrics and logs retention (bounded by the
// server-wide maximum) is stored, audited, and enforced: the sweeps delete
// Domain A's data older than its retention while Domain B, on the
// server's retention, keeps data of the same age.
func TestPerDomainRetention(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			a := e.NewEnrolment(t, "reta", "10.151.0.0/16", 1)
			bb := e.NewEnrolment(t, "retb", "10.152.0.0/16", 1)
			na := e.RegisterNode(t, a.Token.Token, "a1", 1)
			nb := e.RegisterNode(t, bb.Token.Token, "b1", 1)
			now := time.Now()
			for _, n := range []apptest.Node{na, nb} {
				send(t, e, n, "metrics", cpuBatch(now.Add(-2*time.Hour), 1))
				send(t, e, n, "metrics", cpuBatch(now.Add(-time.Minute), 2))
				send(t, e, n, "logs", logBatch(now.Add(-2*time.Hour), "old line"))
			}
			// The log lines were received two hours ago.
			if _, err := e.Server.DB.ExecContext(context.Background(), `UPDATE node_log_lines SET received_at = $1`,
				now.Add(-2*time.Hour).UnixMicro()); err != nil {
				t.Fatal(err)
			}
			send(t, e, na, "logs", logBatch(now, "new line"))

			path := "/v1/domains/" + a.Domain.ID + "/telemetry-retention"
			var got retention.TelemetryRetention
			if st, raw := e.Do(t, "GET", path, nil, &got); st != 200 || got.MetricsCustom || got.LogsCustom ||
				got.MetricsSeconds != int64(e.Config.MetricsRetention/time.Second) || got.LogsMaxSeconds != int64(e.Config.NodeLogRetention/time.Second) ||
				got.UpdatedAt != nil {
				t.Fatalf("default: %d %s", st, raw)
			}
			// Out of range: below an hour, above the server's maximum.
			if st, raw := e.Do(t, "PUT", path, map[string]any{"metrics_seconds": 60}, nil); st != 400 {
				t.Fatalf("a minute: %d %s", st, raw)
			}
			for _, body := range []map[string]any{
				{"logs_seconds": int64(e.Config.NodeLogRetention/time.Second) + 1},
				{"metrics_seconds": int64(e.Config.MetricsRetention/time.Second) + 1},
			} {
				if st, raw := e.Do(t, "PUT", path, body, nil); st != 422 || !strings.Contains(string(raw), retention.CodeOutOfRange) {
					t.Fatalf("%v: %d %s", body, st, raw)
				}
			}
			// A viewer of the Domain's Project may read, not change.
			uid, utok := e.NewUser(t, "viewer")
			if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+a.Project.ID,
				apiv1.WriteRelationTuple{Subject: "user:" + uid, Relation: "viewer", Resource: "project:" + a.Project.ID}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, utok, "PUT", path, map[string]any{"logs_seconds": 3600}, nil); st != 403 && st != 404 {
				t.Fatalf("viewer PUT: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "PUT", "/v1/domains/00000000-0000-7000-8000-000000000001/telemetry-retention",
				map[string]any{"logs_seconds": 3600}, nil); st != 404 && st != 403 {
				t.Fatalf("unknown Domain: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "PUT", path, map[string]any{"metrics_seconds": 3600, "logs_seconds": 3600}, &got); st != 200 ||
				!got.MetricsCustom || !got.LogsCustom || got.MetricsSeconds != 3600 || got.LogsSeconds != 3600 || got.UpdatedAt == nil {
				t.Fatalf("put: %d %s", st, raw)
			}
			var list apiv1.AuditList
			if st, raw := e.Do(t, "GET", "/v1/domains/"+a.Domain.ID+"/audit/entries?limit=200", nil, &list); st != 200 {
				t.Fatalf("audit: %d %s", st, raw)
			}
			audited := 0
			for _, en := range list.Items {
				if en.Action == "domain.telemetry_retention.put" && en.Outcome == "succeeded" && en.Object.ID == a.Domain.ID {
					audited++
				}
			}
			if audited != 1 {
				t.Fatalf("audited %d successful changes, want 1", audited)
			}

			// Before the sweeps: both Domains hold two samples and their lines.
			if sa, sb := samples(t, e, a.Domain.ID, na.ID), samples(t, e, bb.Domain.ID, nb.ID); sa != "2" || sb != "2" {
				t.Fatalf("before: %s %s", sa, sb)
			}
			if la, lb := lines(t, e, a.Domain.ID), lines(t, e, bb.Domain.ID); la != 2 || lb != 1 {
				t.Fatalf("lines before: %d %d", la, lb)
			}
			if n, err := e.Server.NodeMetrics.RetentionSweep(context.Background()); err != nil || n != 1 {
				t.Fatalf("metrics sweep: %d %v", n, err)
			}
			if _, err := e.Server.NodeLogs.Sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			if sa, sb := samples(t, e, a.Domain.ID, na.ID), samples(t, e, bb.Domain.ID, nb.ID); sa != "1" || sb != "2" {
				t.Fatalf("after: A %s samples (want 1), B %s (want 2)", sa, sb)
			}
			if la, lb := lines(t, e, a.Domain.ID), lines(t, e, bb.Domain.ID); la != 1 || lb != 1 {
				t.Fatalf("lines after: A %d (want 1), B %d (want 1)", la, lb)
			}

			// Back to the server's values: an empty PUT.
			if st, raw := e.Do(t, "PUT", path, map[string]any{}, &got); st != 200 || got.MetricsCustom || got.LogsCustom ||
				got.LogsSeconds != int64(e.Config.NodeLogRetention/time.Second) {
				t.Fatalf("reset: %d %s", st, raw)
			}
			if n, err := e.Server.NodeMetrics.RetentionSweep(context.Background()); err != nil || n != 0 {
				t.Fatalf("metrics sweep after reset: %d %v", n, err)
			}
			// A Project's viewer does not hold domain-view: the Domain's
			// setting is not its to read.
			if st, raw := e.DoAs(t, utok, "GET", path, nil, &got); st != 403 {
				t.Fatalf("project viewer GET: %d %s", st, raw)
			}
		})
	}
}
