package logs_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
)

// lokiPush is the Loki push API's JSON body.
type lokiPush struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	} `json:"streams"`
}

// lokiReceiver is a real HTTP endpoint decoding Loki pushes; it fails the
// first failFirst requests with 503.
type lokiReceiver struct {
	mu        sync.Mutex
	failFirst int
	pushes    []lokiPush
	headers   []http.Header
	bad       []string
}

func (l *lokiReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.URL.Path != "/loki/api/v1/push" || r.Method != http.MethodPost {
		l.bad = append(l.bad, r.Method+" "+r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if l.failFirst > 0 {
		l.failFirst--
		http.Error(w, "warming up", http.StatusServiceUnavailable)
		return
	}
	var p lokiPush
	if err := json.Unmarshal(raw, &p); err != nil {
		l.bad = append(l.bad, err.Error()+": "+string(raw))
		http.Error(w, err.Error(), 400)
		return
	}
	l.pushes = append(l.pushes, p)
	l.headers = append(l.headers, r.Header.Clone())
	w.WriteHeader(http.StatusNoContent)
}

// Issue 15: with loki_push_url set, node log lines are also pushed to an
// external Loki (JSON streams labelled node_id, hostname, unit, severity,
// source, domain_id, project_id; values [ns, line]), retried after a 503,
// with the bearer token from its file and the tenant header; a resent
// batch is not pushed twice; host audit events are not pushed.
func TestLokiPush(t *testing.T) {
	lr := &lokiReceiver{failFirst: 1}
	srv := httptest.NewServer(lr)
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "loki-token")
	if err := os.WriteFile(tok, []byte("loki-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := apptest.StartConfig(t, apptest.SQLite, func(c *config.Config) {
		c.LokiPushURL = srv.URL + "/loki/api/v1/push"
		c.LokiBearerTokenFile = tok
		c.LokiTenantID = "tenant-a"
	})
	f := e.NewEnrolment(t, "lokip", "100.91.0.0/16", 2)
	web := e.RegisterNode(t, f.Token.Token, "web-1", 1)
	batch := []map[string]any{
		logEntry(2, "sshd.service", "err", "web-1", "Failed password for root"),
		logEntry(1, "sshd.service", "err", "web-1", "Failed password for bob"),
		logEntry(3, "nginx.service", "warning", "web-1", `upstream "timed" out`),
		{"timestamp": "not a time", "message": "bad", "severity": "info"},
	}
	raw, _ := json.Marshal(batch)
	for range 2 { // the second is a resend
		if st, n := post(t, e, web, "logs", "application/json", raw, nil); st != 202 || n != 3 {
			t.Fatalf("batch: %d %d", st, n)
		}
	}
	audit, _ := json.Marshal([]map[string]any{{"timestamp": base.Format(time.RFC3339), "source": "auditd",
		"event_type": "USER_LOGIN", "result": "success", "hostname": "web-1"}})
	if st, _ := post(t, e, web, "audit", "application/json", audit, nil); st != 202 {
		t.Fatalf("audit batch: %d", st)
	}
	var got []lokiPush
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		lr.mu.Lock()
		got = append([]lokiPush(nil), lr.pushes...)
		lr.mu.Unlock()
		if len(got) > 0 {
			break
		}
	}
	time.Sleep(1500 * time.Millisecond) // a second push would arrive by now
	lr.mu.Lock()
	got, headers, bad := append([]lokiPush(nil), lr.pushes...), lr.headers, lr.bad
	lr.mu.Unlock()
	if len(bad) > 0 || len(got) != 1 {
		t.Fatalf("pushes %d, bad %v", len(got), bad)
	}
	if h := headers[0]; h.Get("Authorization") != "Bearer loki-secret" || h.Get("X-Scope-OrgID") != "tenant-a" ||
		h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
	streams := map[string][][2]string{}
	for _, s := range got[0].Streams {
		l := s.Stream
		if l["node_id"] != web.ID || l["hostname"] != "web-1" || l["domain_id"] != f.Domain.ID ||
			l["project_id"] != f.Project.ID || l["source"] != "journald" || len(l) != 7 {
			t.Fatalf("stream labels %v", l)
		}
		streams[l["unit"]+"/"+l["severity"]] = s.Values
	}
	ssh, nginx := streams["sshd.service/err"], streams["nginx.service/warning"]
	if len(streams) != 2 || len(ssh) != 2 || len(nginx) != 1 {
		t.Fatalf("streams %v", streams)
	}
	// Values in time order, nanosecond timestamps as strings.
	if ssh[0][1] != "Failed password for bob" || ssh[0][0] != itoa(base.Add(time.Second).UnixNano()) ||
		ssh[1][1] != "Failed password for root" || nginx[0][1] != `upstream "timed" out` {
		t.Fatalf("values %v %v", ssh, nginx)
	}
	st, ok := e.Server.NodeLogs.LokiStats()
	if !ok || st.Sent != 3 || st.Retries < 1 || st.Failed != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
