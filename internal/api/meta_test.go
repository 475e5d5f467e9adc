package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// Issue 8 row "GET /v1/health": checks[].detail is required by the
// contract and was omitted on passing checks.
func TestIssue8HealthCheckDetail(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var got struct {
		Status string           `json:"status"`
		Checks []map[string]any `json:"checks"`
	}
	if st, raw := e.DoAs(t, "", "GET", "/v1/health", nil, &got); st != 200 || got.Status != "ok" || len(got.Checks) == 0 {
		t.Fatalf("health: %d %s", st, raw)
	}
	for _, c := range got.Checks {
		if d, ok := c["detail"].(string); !ok || d == "" {
			t.Fatalf("check without detail: %v", c)
		}
	}
}

// Issue 8 row "GET /v1/version": date was "unknown" on unstamped builds
// (a test binary is one); the contract requires an RFC 3339 date-time.
func TestIssue8VersionDateIsDateTime(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var got map[string]any
	if st, raw := e.DoAs(t, "", "GET", "/v1/version", nil, &got); st != 200 {
		t.Fatalf("version: %d %s", st, raw)
	}
	for _, k := range []string{"version", "commit", "date"} {
		if s, ok := got[k].(string); !ok || s == "" {
			t.Fatalf("version lacks %s: %v", k, got)
		}
	}
	if _, err := time.Parse(time.RFC3339, got["date"].(string)); err != nil {
		raw, _ := json.Marshal(got)
		t.Fatalf("date is not a date-time: %s", raw)
	}
}

// Issue 8, GET /v1/health status: a failing dependency answered 503, which
// the contract does not declare (a generated client gets an error, not the
// HealthStatus). It is now 200 with status down and the check's detail.
func TestIssue8HealthDownIs200(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	if err := e.Server.DB.Close(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status string           `json:"status"`
		Checks []map[string]any `json:"checks"`
	}
	st, raw := e.DoAs(t, "", "GET", "/v1/health", nil, &got)
	if st != 200 || got.Status != "down" || len(got.Checks) == 0 {
		t.Fatalf("health with the database closed: %d %s", st, raw)
	}
	for _, c := range got.Checks {
		if c["status"] == "down" && c["detail"] != "check failed" {
			t.Fatalf("failed check detail: %s", raw)
		}
	}
	// Our readiness probe keeps a status code for probes that read only it.
	if st, raw := e.DoAs(t, "", "GET", "/v1/health/ready", nil, nil); st != 503 || !strings.Contains(string(raw), `"code":"not_ready"`) {
		t.Fatalf("readiness with the database closed: %d %s", st, raw)
	}
}

// The readiness probe answers 200 with the health body while every check
// passes.
func TestReadinessOK(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	var got struct {
		Status string `json:"status"`
	}
	if st, raw := e.DoAs(t, "", "GET", "/v1/health/ready", nil, &got); st != 200 || got.Status != "ok" {
		t.Fatalf("readiness: %d %s", st, raw)
	}
}
