package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
)

// seen is one request as the test server received it.
type seen struct {
	path, key, encoding, auth string
	records                   int
	body                      []byte
}

// recorder is a real HTTP receiver answering from a script, then 202.
type recorder struct {
	mu     sync.Mutex
	reqs   []seen
	script []func(w http.ResponseWriter)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		raw, _ = io.ReadAll(zr)
	}
	var recs []json.RawMessage
	json.Unmarshal(raw, &recs)
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{path: req.URL.Path, key: req.Header.Get("Idempotency-Key"), auth: req.Header.Get("Authorization"),
		encoding: req.Header.Get("Content-Encoding"), records: len(recs), body: raw})
	var answer func(http.ResponseWriter)
	if len(r.script) > 0 {
		answer, r.script = r.script[0], r.script[1:]
	}
	r.mu.Unlock()
	if answer != nil {
		answer(w)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"accepted_at":"2026-12-06T04:00:00Z","records":1}`))
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func status(code int, h ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(h); i += 2 {
			w.Header().Set(h[i], h[i+1])
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		w.Write([]byte(`{"code":"x","detail":"secret record echoed here"}`))
	}
}

func newClient(t *testing.T, url string) *cpclient.Client {
	t.Helper()
	cl, err := cpclient.New(cpclient.Options{Server: url})
	if err != nil {
		t.Fatal(err)
	}
	cl.SetCredentials("node-1", "nsk-0123456789abcdef0123456789abcd")
	return cl
}

// logBatch is n log entries of about 100 bytes each.
func logBatch(n int) ([]byte, int) {
	recs := make([]LogEntry, n)
	for i := range recs {
		recs[i] = LogEntry{Timestamp: time.Unix(1764990000+int64(i), 0).UTC(), Source: "journald", Unit: "sshd.service",
			Message: "line " + strings.Repeat("m", 60), Severity: "info", Hostname: "h"}
	}
	raw, _ := json.Marshal(recs)
	return raw, n
}

func TestSenderBackPressure(t *testing.T) {
	rec := &recorder{script: []func(http.ResponseWriter){
		status(429, "Retry-After", "2"),
		status(500),
		status(413),
		nil, nil, // the halves: 202
		status(400), // the small batch: refused for good
	}}
	rec.script[3] = func(w http.ResponseWriter) { w.WriteHeader(202) }
	rec.script[4] = func(w http.ResponseWriter) { w.WriteHeader(202) }
	srv := httptest.NewServer(rec)
	defer srv.Close()
	clk := &instantClock{now: time.Unix(1764990000, 0)}
	var logs syncBuffer
	tel, err := New(Options{Dir: t.TempDir(), Client: newClient(t, srv.URL), Clock: clk, Rand: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	big, n := logBatch(30) // > 1 KiB: gzipped
	tel.q.Push(KindLogs, n, big)
	small, _ := logBatch(1)
	tel.q.Push(KindLogs, 1, small)
	first, _ := tel.q.Oldest(KindLogs)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tel.send[KindLogs].run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for tel.q.Len("") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %+v, requests %d", tel.Stats(), len(rec.requests()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	reqs := rec.requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6", len(reqs))
	}
	for i, r := range reqs[:3] {
		if r.key != first.Key || r.records != 30 || r.encoding != "gzip" || r.path != "/v1/nodes/node-1/logs" ||
			r.auth != "Bearer nsk-0123456789abcdef0123456789abcd" {
			t.Errorf("attempt %d: %+v (the same batch, key and gzip on every resend)", i, r)
		}
	}
	if reqs[3].key != first.Key+"a" || reqs[4].key != first.Key+"b" || reqs[3].records != 15 || reqs[4].records != 15 {
		t.Errorf("halves %+v %+v", reqs[3], reqs[4])
	}
	var h0, h1, whole []LogEntry
	json.Unmarshal(reqs[3].body, &h0)
	json.Unmarshal(reqs[4].body, &h1)
	json.Unmarshal(big, &whole)
	if len(h0) != 15 || h0[0] != whole[0] || h1[14] != whole[29] {
		t.Errorf("the halves are not the batch in order")
	}
	if reqs[5].encoding != "" || reqs[5].records != 1 || reqs[5].key == first.Key {
		t.Errorf("small batch %+v (not gzipped below 1 KiB, its own key)", reqs[5])
	}
	waits := clk.Waits()
	if len(waits) != 2 || waits[0] != 2*time.Second || waits[1] != time.Second {
		t.Errorf("waits %v, want [2s (Retry-After) 1s (backoff)]", waits)
	}
	st := tel.Stats()
	if st.SentBatches != 2 || st.SentRecords != 30 || st.RejectedBatches != 1 || st.RejectedRecords != 1 ||
		st.Limited != 1 || st.Splits != 1 || st.Failures != 1 || st.Dropped() != 1 {
		t.Errorf("stats %+v", st)
	}
	out := logs.String()
	if strings.Contains(out, "secret record") || strings.Contains(out, "nsk-") || !strings.Contains(out, `"http_status":400`) {
		t.Errorf("logs %s", out)
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSenderBackoffGrows: consecutive failures double the wait up to the
// cap; a success resets it.
func TestSenderBackoffGrows(t *testing.T) {
	rec := &recorder{}
	for range 5 {
		rec.script = append(rec.script, status(503))
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	clk := &instantClock{}
	tel, _ := New(Options{Dir: t.TempDir(), Client: newClient(t, srv.URL), Clock: clk, Rand: func() float64 { return 0.5 },
		MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
	raw, n := logBatch(2)
	tel.q.Push(KindAudit, n, raw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tel.send[KindAudit].run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for tel.q.Len(KindAudit) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	if w := clk.Waits(); len(w) != len(want) || w[0] != want[0] || w[1] != want[1] || w[2] != want[2] || w[4] != want[4] {
		t.Fatalf("waits %v, want %v", w, want)
	}
	if st := tel.Stats(); st.SentBatches != 1 || st.Failures != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSenderDropsASingleRecordTooLarge: a 413 for one record cannot be
// split; the record is dropped and counted, the next batch goes out.
func TestSenderDropsASingleRecordTooLarge(t *testing.T) {
	rec := &recorder{script: []func(http.ResponseWriter){status(413)}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	tel, _ := New(Options{Dir: t.TempDir(), Client: newClient(t, srv.URL), Clock: &instantClock{}})
	one, _ := logBatch(1)
	tel.q.Push(KindLogs, 1, one)
	tel.q.Push(KindLogs, 1, one)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tel.send[KindLogs].run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for tel.q.Len("") > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := tel.Stats(); st.RejectedRecords != 1 || st.SentBatches != 1 || st.Splits != 0 || len(rec.requests()) != 2 {
		t.Fatalf("stats %+v, %d requests", st, len(rec.requests()))
	}
}
