package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	auditSyscall = `type=SYSCALL msg=audit(1764990000.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7ffd ppid=2686 pid=3538 auid=1000 uid=1000 gid=1001 euid=1000 comm="cat" exe="/usr/bin/cat" key="sshd_config"`
	auditLogin   = `type=USER_LOGIN msg=audit(1764990001.5:300): pid=812 uid=0 auid=1000 ses=3 msg='op=login acct="alice" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.7 terminal=ssh res=success'` + "\x1dUID=\"root\" AUID=\"alice\""
	auditPath    = `type=PATH msg=audit(1764990000.243:24287): item=0 name="/etc/ssh/sshd_config" inode=1234 nametype=NORMAL`
)

func TestParseAuditLine(t *testing.T) {
	e, ok := ParseAuditLine(auditSyscall, "web-1")
	if !ok {
		t.Fatal("syscall record refused")
	}
	if !e.Timestamp.Equal(time.Unix(1764990000, 243e6)) || e.Source != "auditd" || e.EventType != "SYSCALL" ||
		e.Action != "syscall:2" || e.Result != "failure" || e.Hostname != "web-1" || e.Raw != auditSyscall ||
		string(e.Object) != `"sshd_config"` || string(e.Subject) != `{"gid":1001,"pid":3538,"uid":1000}` {
		t.Fatalf("syscall %+v subject %s object %s", e, e.Subject, e.Object)
	}
	e, ok = ParseAuditLine(auditLogin, "web-1")
	if !ok || e.Action != "login" || e.Result != "success" || string(e.Object) != `"/usr/sbin/sshd"` ||
		string(e.Subject) != `{"pid":812,"uid":0}` || strings.Contains(e.Raw, "\x1d") || !e.Timestamp.Equal(time.Unix(1764990001, 500e6)) {
		t.Fatalf("login %+v subject %s object %s", e, e.Subject, e.Object)
	}
	e, ok = ParseAuditLine(auditPath, "")
	if !ok || e.Action != "path" || e.Result != "success" || string(e.Object) != `"/etc/ssh/sshd_config"` || string(e.Subject) != `{}` {
		t.Fatalf("path %+v", e)
	}
	// Every accepted record is one the control plane takes: valid JSON,
	// non-empty source, action and result.
	raw, _ := json.Marshal(e)
	if !json.Valid(raw) {
		t.Fatal("invalid JSON")
	}
	for _, bad := range []string{"", "garbage", "type=X", "type=X msg=audit(abc:1): a=b", "type=X msg=audit(0.1:1): a=b",
		"node=h type=X msg=audit(1.1:1): a=b", "type= msg=audit(1.1:1): a=b", "type=EOE msg=audit(1764990000.243:24287): "} {
		if _, ok := ParseAuditLine(bad, ""); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAuditResults: every record carries success or failure (§12.7): a
// record without an outcome takes its event's (the SYSCALL record of the
// same serial before it), else what its type implies.
func TestAuditResults(t *testing.T) {
	a := NewAuditLog(AuditLogOptions{})
	for i, c := range []struct{ line, want string }{
		{auditSyscall, "failure"},
		{auditPath, "failure"}, // the failed open's PATH record
		{`type=PROCTITLE msg=audit(1764990000.243:24287): proctitle=636174`, "failure"},
		{`type=SYSCALL msg=audit(1764990002.1:24290): arch=c000003e syscall=59 success=yes exit=0 pid=1 uid=0 gid=0`, "success"},
		{`type=CWD msg=audit(1764990002.1:24290): cwd="/root"`, "success"},
		{`type=PATH msg=audit(1764990009.1:24299): item=0 name="/tmp/x"`, "success"}, // an event never seen
		{`type=AVC msg=audit(1764990003.1:24300): avc:  denied  { read } for  pid=9 comm="nginx" name="key.pem"`, "failure"},
		{`type=AVC msg=audit(1764990003.2:24301): avc:  granted  { setenforce } for  pid=1 comm="setenforce"`, "success"},
		{`type=ANOM_ABEND msg=audit(1764990004.1:24302): auid=1000 uid=1000 gid=1000 pid=77 comm="crashy" sig=11`, "failure"},
		{`type=USER_AUTH msg=audit(1764990005.1:24303): pid=812 uid=0 msg='op=PAM:authentication acct="eve" exe="/usr/sbin/sshd" res=failed'`, "failure"},
	} {
		e, ok := a.parse(c.line)
		if !ok || e.Result != c.want {
			t.Errorf("%d: %q: ok %v result %q, want %q", i, c.line, ok, e.Result, c.want)
		}
	}
}

func TestAuditLogTail(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	pos := filepath.Join(dir, "audit.position")
	os.WriteFile(logPath, []byte(auditPath+"\n"), 0o600) // history: not read
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
	run := func() (stop func()) {
		a := NewAuditLog(AuditLogOptions{Path: logPath, PositionPath: pos, Hostname: "h", Poll: 5 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(ctx, emit); close(done) }()
		return func() { cancel(); <-done }
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d records, want %d", count(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	appendLog := func(s string) {
		f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(s)
		f.Close()
	}
	stop := run()
	time.Sleep(20 * time.Millisecond)
	appendLog(auditSyscall + "\n" + "type=USER_LOGIN msg=audit(1764990001.5:300): pid=1 res=") // a partial line
	waitFor(1)
	appendLog("success\n")
	waitFor(2)
	stop()
	// Lines written while plexd was down are read after the restart.
	appendLog(auditLogin + "\n")
	stop = run()
	waitFor(3)
	// Rotation: a new file is read from its start.
	os.Rename(logPath, logPath+".1")
	os.WriteFile(logPath, []byte(auditSyscall+"\n"), 0o600)
	waitFor(4)
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 || got[0].EventType != "SYSCALL" || got[1].Result != "success" || got[1].Subject == nil ||
		got[2].Action != "login" || got[3].EventType != "SYSCALL" {
		t.Fatalf("records %+v", got)
	}
	for _, e := range got {
		if e.EventType == "PATH" {
			t.Fatal("the log's history before the first start was read")
		}
	}
}

func TestAuditLogAbsent(t *testing.T) {
	a := NewAuditLog(AuditLogOptions{Path: filepath.Join(t.TempDir(), "none.log")})
	if err := a.Run(context.Background(), func(AuditEntry) {}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
}
