package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// kubeAuditLines are the lines of testdata/kube-audit.log: a
// RequestReceived event (not sent), four completed events, a line that is
// not JSON and a completed event without a response status (malformed).
func kubeAuditLines(t *testing.T) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "kube-audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
}

// kubeWant is what the testdata's completed events become.
var kubeWant = []struct{ action, result, object, subject, at string }{
	{"get", "success", `"default/secrets/db"`, `{"username":"bob","groups":["dev","system:authenticated"]}`, "2026-12-06T05:00:00.123456Z"},
	{"create", "failure", `"kube-system/pods/"`, `{"username":"system:serviceaccount:ci:deployer","groups":["system:serviceaccounts"]}`, "2026-12-06T05:00:01.002Z"},
	{"create", "success", `"default/pods/web/exec"`, `{"username":"alice","groups":["admins"]}`, "2026-12-06T05:00:03Z"},
	{"get", "failure", `"/healthz"`, `{"username":"system:anonymous","groups":["system:unauthenticated"]}`, "2026-12-06T05:00:04Z"},
}

func checkKube(t *testing.T, got []AuditEntry) {
	t.Helper()
	if len(got) != len(kubeWant) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(kubeWant), got)
	}
	for i, w := range kubeWant {
		e := got[i]
		if e.Source != "k8s-audit" || e.EventType != "ResponseComplete" || e.Action != w.action || e.Result != w.result ||
			string(e.Object) != w.object || string(e.Subject) != w.subject || e.Timestamp.Format(time.RFC3339Nano) != w.at ||
			e.Hostname != "cp-1" || !json.Valid([]byte(e.Raw)) {
			t.Errorf("record %d: %+v subject %s object %s, want %+v", i, e, e.Subject, e.Object, w)
		}
	}
}

func TestParseKubeAuditLine(t *testing.T) {
	var got []AuditEntry
	malformed, skipped := 0, 0
	for _, l := range kubeAuditLines(t) {
		e, ok, err := ParseKubeAuditLine(l, "cp-1")
		switch {
		case err != nil:
			malformed++
		case ok:
			got = append(got, e)
		default:
			skipped++
		}
	}
	checkKube(t, got)
	if malformed != 2 || skipped != 1 {
		t.Errorf("%d malformed, %d other stages; want 2 and 1", malformed, skipped)
	}
	for _, bad := range []string{`{}`, `[]`, `{"kind":"Event","apiVersion":"v1","stage":"ResponseComplete"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","responseStatus":{"code":200}}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","stageTimestamp":"2026-12-06T05:00:00Z","responseStatus":{"code":200}}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get","stageTimestamp":"2026-12-06T05:00:00Z","responseStatus":{"code":0}}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","stageTimestamp":"2026-12-06T05:00:00Z","responseStatus":{"code":200}}`} {
		if _, ok, err := ParseKubeAuditLine([]byte(bad), ""); ok || err == nil {
			t.Errorf("%s: ok %v err %v, want an error", bad, ok, err)
		}
	}
	// Panic and ResponseStarted events are not sent, and not malformed.
	if _, ok, err := ParseKubeAuditLine([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"Panic"}`), ""); ok || err != nil {
		t.Errorf("Panic stage: ok %v err %v", ok, err)
	}
	// Many groups are cut; the raw line stays bounded when encoded.
	many := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"list","stageTimestamp":"2026-12-06T05:00:00Z","responseStatus":{"code":200},"user":{"username":"u","groups":[` +
		strings.Repeat(`"`+strings.Repeat("g", 300)+`",`, 100) + `"x"]},"requestObject":"` + strings.Repeat("<", 100000) + `"}`
	e, ok, err := ParseKubeAuditLine([]byte(many), "")
	var subj kubeSubject
	if !ok || err != nil || json.Unmarshal(e.Subject, &subj) != nil || len(subj.Groups) == 0 || len(subj.Groups) > maxKubeGroups ||
		len(subj.Groups[0]) != MaxFieldBytes {
		t.Fatalf("many groups: ok %v err %v subject %.200s", ok, err, e.Subject)
	}
	if raw, _ := json.Marshal(e); len(raw) > 64<<10 {
		t.Fatalf("record of %d bytes exceeds the control plane's 64 KiB", len(raw))
	}
}

// TestKubeAuditLogTail: a log that appears after the start is read from
// its start; malformed and over-long lines are counted and skipped (a
// line longer than one read does not stall the tail); lines written while
// plexd is down are read after a restart, once; a rotated log is read from
// the new file's start.
func TestKubeAuditLogTail(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit", "kube-apiserver.log")
	pos := filepath.Join(dir, "kube-audit.position")
	lines := kubeAuditLines(t)
	var mu sync.Mutex
	var got []AuditEntry
	emit := func(e AuditEntry) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	var src *KubeAuditLog
	run := func() (stop func()) {
		src = NewKubeAuditLog(KubeAuditLogOptions{Path: logPath, PositionPath: pos, Hostname: "cp-1", Poll: 5 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, emit) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d records, want %d", count(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	appendLog := func(b []byte) {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		f.Close()
	}
	stop := run()
	time.Sleep(20 * time.Millisecond) // the log is not there yet
	os.MkdirAll(filepath.Dir(logPath), 0o700)
	appendLog(bytes.Join(lines, []byte("\n")))
	appendLog([]byte("\n"))
	waitFor(4)
	mu.Lock()
	checkKube(t, got)
	mu.Unlock()
	if m := src.Malformed(); m != 2 {
		t.Fatalf("malformed %d, want 2", m)
	}
	// An over-long line of 5 MiB (more than one poll reads), then a
	// good one.
	appendLog(append(bytes.Repeat([]byte("x"), 5<<20), '\n'))
	appendLog(append(lines[1], '\n'))
	waitFor(5)
	if m := src.Malformed(); m != 3 {
		t.Fatalf("malformed %d after the long line, want 3", m)
	}
	stop()
	// Written while plexd was down: read after the restart, nothing twice.
	appendLog(append(lines[2], '\n'))
	stop = run()
	waitFor(6)
	// Rotation: a new file is read from its start.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	appendLog(append(lines[6], '\n'))
	waitFor(7)
	time.Sleep(30 * time.Millisecond)
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 7 || got[4].Action != "get" || got[4].Result != "success" || got[5].Action != "create" ||
		got[5].Result != "failure" || string(got[6].Object) != `"/healthz"` {
		t.Fatalf("records %+v", got)
	}
}

// TestKubeAuditLogFirstStart: a log already there at the first start is
// read from its end (its history is not sent).
func TestKubeAuditLogFirstStart(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "kube-apiserver.log")
	lines := kubeAuditLines(t)
	os.WriteFile(logPath, append(lines[1], '\n'), 0o600)
	src := NewKubeAuditLog(KubeAuditLogOptions{Path: logPath, Hostname: "cp-1", Poll: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan AuditEntry, 10)
	done := make(chan struct{})
	go func() { src.Run(ctx, func(e AuditEntry) { got <- e }); close(done) }()
	time.Sleep(30 * time.Millisecond)
	f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(append(lines[2], '\n'))
	f.Close()
	select {
	case e := <-got:
		if e.Action != "create" {
			t.Fatalf("first record %+v: the history was read", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no record")
	}
	cancel()
	<-done
	if len(got) != 0 {
		t.Fatalf("%d more records", len(got))
	}
}
