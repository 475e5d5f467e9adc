package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/telemetry"
)

// fakeProc is a proc root whose CPU has been 15 % busy since boot.
func fakeProc(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"stat":    "cpu  1000 0 500 8000 500 0 0 0 0 0\n",
		"meminfo": "MemTotal: 8000000 kB\nMemAvailable: 6000000 kB\n",
		"loadavg": "0.50 0.40 0.30 1/100 42\n",
		"net/dev": "Inter-|\n face |\n  eth0: 1000 1 0 0 0 0 0 0 2000 1 0 0 0 0 0 0\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// journalLike emits the given lines as journald would, then waits.
type journalLike struct{ lines []telemetry.LogEntry }

func (j journalLike) Run(ctx context.Context, emit func(telemetry.LogEntry)) error {
	for _, l := range j.lines {
		emit(l)
	}
	<-ctx.Done()
	return nil
}

// TestTelemetryReachesPromQLAndLogQL runs a real plexd core with its
// telemetry pipeline against the real control plane: the system, tunnel
// and latency metrics it sends answer PromQL queries for its node, a
// journald-like line answers a LogQL query, and an auditd record appended
// to a real audit.log reaches the audit stream, all through the operator
// API.
func TestTelemetryReachesPromQLAndLogQL(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	fx := e.NewEnrolment(t, "telem", "100.66.0.0/24", 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	dataDir := t.TempDir()
	store, _ := identity.NewStore(dataDir)
	cl, err := cpclient.New(cpclient.Options{Server: e.URL})
	if err != nil {
		t.Fatal(err)
	}
	id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: fx.Token.Token, Server: e.URL, Hostname: "telem-1"})
	if err != nil {
		t.Fatal(err)
	}
	cl.SetCredentials(id.NodeID, id.NSK)
	eng := mesh.NewMemory()
	ag, err := agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Mesh: eng,
		HeartbeatInterval: time.Second, ReconcileInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	peerID := "0190c0de-0000-7000-8000-000000000001"
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(auditLog, nil, 0o600)
	kubeLog := filepath.Join(t.TempDir(), "kube-apiserver-audit.log") // appears later
	tel, err := telemetry.New(telemetry.Options{
		Dir: filepath.Join(dataDir, "telemetry", "queue"), Client: cl,
		Collectors: []telemetry.MetricCollector{
			telemetry.NewSystem(telemetry.SystemOptions{ProcRoot: fakeProc(t)}),
			telemetry.NewTunnels(eng), // the memory engine observes no peers
			telemetry.NewTunnels(peerStats{mesh.Stats{Peers: []nodeproto.PeerStatus{{PeerID: peerID, Path: nodeproto.PathDirect,
				LastHandshake: now.Add(-time.Minute), RTTMillis: 2.5, RxBytes: 4096, TxBytes: 1024}}}}),
		},
		Logs: journalLike{lines: []telemetry.LogEntry{{Timestamp: now, Source: "journald", Unit: "fake.service",
			Message: "hello from journald", Severity: "warning", Hostname: "telem-1"}}},
		Audit: telemetry.NewAuditLog(telemetry.AuditLogOptions{Path: auditLog, Hostname: "telem-1",
			PositionPath: filepath.Join(dataDir, "telemetry", "audit.position"), Poll: 10 * time.Millisecond}),
		KubeAudit: telemetry.NewKubeAuditLog(telemetry.KubeAuditLogOptions{Path: kubeLog, Hostname: "telem-1",
			PositionPath: filepath.Join(dataDir, "telemetry", "kube-audit.position"), Poll: 10 * time.Millisecond}),
		MetricsInterval: time.Hour, LogsInterval: 50 * time.Millisecond, AuditInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { ag.Run(ctx) })
	wg.Go(func() { tel.Run(ctx) })

	// PromQL through the real API.
	promQL := fmt.Sprintf(`plexd_system_cpu_usage_percent{node_id=%q}`, id.NodeID)
	var sample []any
	var metric map[string]string
	eventually(t, "the cpu series", func() bool {
		r := promInstant(t, e, fx.Domain.ID, promQL)
		if len(r) != 1 {
			return false
		}
		sample, metric = r[0].Value, r[0].Metric
		return true
	})
	if len(sample) != 2 || sample[1] != "15" || metric["hostname"] != "telem-1" || metric["project_id"] != fx.Project.ID ||
		metric["domain_id"] != fx.Domain.ID {
		t.Fatalf("cpu sample %v %v, want 15 labelled from the node's row", sample, metric)
	}
	for q, want := range map[string]string{"plexd_latency_rtt_nano": "2500000", "plexd_tunnel_rx_bytes": "4096",
		"plexd_tunnel_handshake_succeeded": "1", "plexd_agent_telemetry_dropped": "0"} {
		r := promInstant(t, e, fx.Domain.ID, fmt.Sprintf(`%s{node_id=%q}`, q, id.NodeID))
		if len(r) != 1 || r[0].Value[1] != want || (q != "plexd_agent_telemetry_dropped" && r[0].Metric["peer_id"] != peerID) {
			t.Errorf("%s: %+v, want %s", q, r, want)
		}
	}

	// LogQL through the real API.
	logQL := fmt.Sprintf(`{node_id=%q, unit="fake.service"} |= "hello"`, id.NodeID)
	eventually(t, "the journald line", func() bool {
		r := lokiStreams(t, e, fx.Domain.ID, logQL, now)
		if len(r) != 1 {
			return false
		}
		if s := r[0]; len(s.Values) != 1 || s.Values[0][1] != "hello from journald" || s.Stream["severity"] != "warning" ||
			s.Stream["hostname"] != "telem-1" {
			t.Fatalf("log stream %+v", s)
		}
		return true
	})
	// An auditd record appended to the log reaches the audit stream.
	f, _ := os.OpenFile(auditLog, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "type=SYSCALL msg=audit(%d.120:77): arch=c000003e syscall=257 success=no exit=-13 pid=4242 uid=1000 gid=1000 "+
		"comm=\"cat\" exe=\"/usr/bin/cat\" key=\"sshd_config\"\n", now.Unix())
	// Its PATH record carries no outcome: it is sent with the event's.
	fmt.Fprintf(f, "type=PATH msg=audit(%d.120:77): item=0 name=\"/etc/ssh/sshd_config\" inode=1234 nametype=NORMAL\n", now.Unix())
	f.Close()
	auditQL := fmt.Sprintf(`{stream="audit", source="auditd", node_id=%q, action="syscall:257"} |= "sshd_config"`, id.NodeID)
	eventually(t, "the audit record", func() bool {
		r := lokiStreams(t, e, fx.Domain.ID, auditQL, now)
		if len(r) != 1 {
			return false
		}
		var rec telemetry.AuditEntry
		if err := json.Unmarshal([]byte(r[0].Values[0][1]), &rec); err != nil || rec.Result != "failure" ||
			rec.Action != "syscall:257" || string(rec.Subject) != `{"gid":1000,"pid":4242,"uid":1000}` {
			t.Fatalf("audit line %s: %v", r[0].Values[0][1], err)
		}
		return true
	})
	pathQL := fmt.Sprintf(`{stream="audit", source="auditd", node_id=%q, action="path", outcome="failure"}`, id.NodeID)
	eventually(t, "the PATH record", func() bool { return len(lokiStreams(t, e, fx.Domain.ID, pathQL, now)) == 1 })
	// A Kubernetes audit event written to the API server's log, which
	// appeared after plexd started, reaches the audit stream.
	kf, err := os.OpenFile(kubeLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(kf, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"x1","stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/prod/secrets/db","verb":"get","user":{"username":"bob","groups":["dev"]},`+
		`"objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":403},`+
		`"stageTimestamp":%q}`+"\n", now.Format(time.RFC3339Nano))
	kf.Close()
	kubeQL := fmt.Sprintf(`{stream="audit", source="k8s-audit", node_id=%q, action="get", outcome="failure"} |= "prod/secrets/db"`, id.NodeID)
	eventually(t, "the Kubernetes audit record", func() bool {
		r := lokiStreams(t, e, fx.Domain.ID, kubeQL, now)
		if len(r) != 1 {
			return false
		}
		var rec telemetry.AuditEntry
		if err := json.Unmarshal([]byte(r[0].Values[0][1]), &rec); err != nil || string(rec.Subject) != `{"username":"bob","groups":["dev"]}` ||
			string(rec.Object) != `"prod/secrets/db"` || rec.EventType != "ResponseComplete" {
			t.Fatalf("kubernetes audit line %s: %v", r[0].Values[0][1], err)
		}
		return true
	})
	// Everything was accepted: nothing dropped, the queue drained.
	eventually(t, "the queue to drain", func() bool { return tel.Queue().Len("") == 0 })
	if st := tel.Stats(); st.Dropped() != 0 || st.RejectedBatches != 0 || st.SentBatches < 2 {
		t.Fatalf("telemetry stats %+v", st)
	}
}

// peerStats is a mesh engine that observed one peer.
type peerStats struct{ st mesh.Stats }

func (p peerStats) Stats() mesh.Stats { return p.st }

type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// promInstant runs an instant PromQL query as the admin.
func promInstant(t *testing.T, e *apptest.Env, domainID, q string) []promResult {
	t.Helper()
	resp, raw := e.Send(t, e.Token, "GET", "/v1/domains/"+domainID+"/metrics/query?"+
		url.Values{"query": {q}, "time": {time.Now().UTC().Format(time.RFC3339)}}.Encode())
	var r struct {
		Body string `json:"body"`
	}
	var b struct {
		Data struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &r) != nil || json.Unmarshal([]byte(r.Body), &b) != nil {
		t.Fatalf("metrics query %s: %d %s", q, resp.StatusCode, raw)
	}
	return b.Data.Result
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// lokiStreams runs a LogQL query as the admin over the hour around at.
func lokiStreams(t *testing.T, e *apptest.Env, domainID, q string, at time.Time) []lokiStream {
	t.Helper()
	resp, raw := e.Send(t, e.Token, "GET", "/v1/domains/"+domainID+"/logs/query?"+url.Values{"query": {q},
		"start": {at.Add(-time.Hour).Format(time.RFC3339)}, "end": {at.Add(time.Hour).Format(time.RFC3339)}}.Encode())
	var r struct {
		Body string `json:"body"`
	}
	var b struct {
		Data struct {
			Result []lokiStream `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &r) != nil || json.Unmarshal([]byte(r.Body), &b) != nil {
		t.Fatalf("logs query %s: %d %s", q, resp.StatusCode, raw)
	}
	return b.Data.Result
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
