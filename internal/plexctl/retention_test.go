package plexctl

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRetentionCommands(t *testing.T) {
	h := newHarness(t)
	answer := map[string]any{"domain_id": "d1", "metrics_seconds": 604800, "logs_seconds": 1209600 / 2,
		"metrics_custom": true, "logs_custom": false, "metrics_max_seconds": 1296000, "logs_max_seconds": 604800}
	h.srv.JSON("GET /v1/domains/{id}/telemetry-retention", 200, answer)
	h.srv.JSON("PUT /v1/domains/{id}/telemetry-retention", 200, answer)
	r := h.run("retention", "get", "--domain", "d1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "168h0m0s") || !strings.Contains(r.stdout, "(server)") {
		t.Fatalf("get: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = h.run("retention", "set", "--domain", "d1", "--metrics", "168h")
	if r.code != ExitOK {
		t.Fatalf("set: %d %s", r.code, r.stderr)
	}
	last := h.srv.Last()
	var body map[string]any
	if err := json.Unmarshal(last.Body, &body); err != nil || last.Method != http.MethodPut ||
		body["metrics_seconds"] != float64(604800) || len(body) != 1 {
		t.Fatalf("set body: %s %s", last.Method, last.Body)
	}
	// Neither flag: an empty body (both back to the server's values).
	if r := h.run("retention", "set", "--domain", "d1"); r.code != ExitOK || strings.TrimSpace(string(h.srv.Last().Body)) != "{}" {
		t.Fatalf("reset: %d %s", r.code, h.srv.Last().Body)
	}
	for _, args := range [][]string{{"--logs", "30m"}, {"--metrics", "90m500ms"}} {
		if r := h.run(append([]string{"retention", "set", "--domain", "d1"}, args...)...); r.code == ExitOK {
			t.Fatalf("%v accepted", args)
		}
	}
}

func TestMetricsFederateCommand(t *testing.T) {
	h := newHarness(t)
	text := "# TYPE plexd_system_cpu_usage_percent untyped\nplexd_system_cpu_usage_percent{node_id=\"n1\"} 12.5 1772366400000\n"
	h.srv.Handle("GET /v1/domains/{id}/metrics/federate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(text))
	})
	r := h.run("metrics", "federate", "--domain", "d1", "--match", `{__name__=~"plexd_system_.*"}`, "--match", "up")
	if r.code != ExitOK || r.stdout != text {
		t.Fatalf("federate: %d %q %s", r.code, r.stdout, r.stderr)
	}
	last := h.srv.Last()
	if m := last.Query["match[]"]; len(m) != 2 || m[0] != `{__name__=~"plexd_system_.*"}` || m[1] != "up" ||
		!strings.HasPrefix(last.Header.Get("Accept"), "text/plain") {
		t.Fatalf("request: %v %v", last.Query, last.Header)
	}
	if r := h.run("metrics", "federate", "--domain", "d1", "--match", "up", "--openmetrics"); r.code != ExitOK ||
		!strings.HasPrefix(h.srv.Last().Header.Get("Accept"), "application/openmetrics-text") {
		t.Fatalf("openmetrics: %d %v", r.code, h.srv.Last().Header)
	}
	if r := h.run("metrics", "federate", "--domain", "d1"); r.code == ExitOK {
		t.Fatal("no --match accepted")
	}
}
