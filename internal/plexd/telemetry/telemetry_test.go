package telemetry

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeCollector yields one point per tick.
type fakeCollector struct{}

func (fakeCollector) Name() string { return "fake" }

func (fakeCollector) Collect(_ context.Context, now time.Time) ([]MetricPoint, error) {
	return []MetricPoint{{Timestamp: now, Group: GroupSystem, Data: map[string]any{"cpu_usage_percent": 42.0}}}, nil
}

// chanLogs emits what the test sends, until ctx ends.
type chanLogs chan LogEntry

func (c chanLogs) Run(ctx context.Context, emit func(LogEntry)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-c:
			emit(e)
		}
	}
}

type unavailableAudit struct{}

func (unavailableAudit) Run(context.Context, func(AuditEntry)) error {
	return ErrUnavailable
}

func TestRunCollectsQueuesAndSends(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	dir := t.TempDir()
	logs := make(chanLogs)
	var out syncBuffer
	tel, err := New(Options{Dir: dir, Client: newClient(t, srv.URL), Collectors: []MetricCollector{fakeCollector{}},
		Logs: logs, Audit: unavailableAudit{}, MetricsInterval: time.Hour, LogsInterval: time.Hour,
		Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tel.Run(ctx) }()
	waitReq := func(n int) []seen {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(rec.requests()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests, want %d", len(rec.requests()), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return rec.requests()
	}
	// The first metrics tick runs at once: the collector's point and the
	// pipeline's own agent point.
	r := waitReq(1)[0]
	var points []map[string]any
	json.Unmarshal(r.body, &points)
	if r.path != "/v1/nodes/node-1/metrics" || len(points) != 2 || points[0]["group"] != "system" || points[1]["group"] != "agent" {
		t.Fatalf("metrics batch %s %s", r.path, r.body)
	}
	if d, ok := points[1]["data"].(map[string]any); !ok || d["telemetry_dropped"] != 0.0 || d["telemetry_queue_batches"] == nil {
		t.Fatalf("agent point %v", points[1])
	}
	// A full batch of log lines is flushed at once, without waiting for
	// the (hour-long) interval.
	at := time.Unix(1764990000, 0).UTC()
	for i := range MaxLogsPerBatch {
		logs <- LogEntry{Timestamp: at.Add(time.Duration(i)), Source: "journald", Unit: "u", Message: "m", Severity: "info"}
	}
	r = waitReq(2)[1]
	if r.path != "/v1/nodes/node-1/logs" || r.records != MaxLogsPerBatch || r.encoding != "gzip" {
		t.Fatalf("logs batch %s %d %q", r.path, r.records, r.encoding)
	}
	// A line still buffered at shutdown goes to the queue and is sent
	// after the next start, by a fresh pipeline on the same directory.
	logs <- LogEntry{Timestamp: at, Source: "journald", Unit: "u", Message: "last words", Severity: "info"}
	for buffered := 0; buffered != 1; {
		tel.logs.mu.Lock()
		buffered = len(tel.logs.items)
		tel.logs.mu.Unlock()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, `"msg":"telemetry collector disabled"`) != 1 || !strings.Contains(got, `"collector":"auditd"`) {
		t.Errorf("logs %s, want one info line for the missing auditd", got)
	}
	if n := tel.Queue().Len(KindLogs); n != 1 {
		t.Fatalf("%d logs batches queued at shutdown, want 1", n)
	}
	tel2, err := New(Options{Dir: dir, Client: newClient(t, srv.URL), MetricsInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- tel2.Run(ctx2) }()
	defer func() { cancel2(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := false
		for _, r := range rec.requests() {
			if r.path == "/v1/nodes/node-1/logs" && r.records == 1 {
				var es []LogEntry
				json.Unmarshal(r.body, &es)
				found = len(es) == 1 && es[0].Message == "last words"
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the line buffered at shutdown was never sent")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferDropsOldest(t *testing.T) {
	b := newBuffer[int](2)
	for i := range 2*bufferBatches + 3 {
		b.add(i)
	}
	got := b.take()
	if len(got) != 2*bufferBatches || got[0] != 3 || b.droppedCount() != 3 {
		t.Fatalf("kept %v, dropped %d", got, b.droppedCount())
	}
	if len(b.take()) != 0 {
		t.Fatal("take did not empty the buffer")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{Client: newClient(t, "http://127.0.0.1:1")}); err == nil {
		t.Error("no Dir accepted")
	}
	if _, err := New(Options{Dir: t.TempDir()}); err == nil {
		t.Error("no Client accepted")
	}
}
