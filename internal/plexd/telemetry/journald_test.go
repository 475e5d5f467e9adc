package telemetry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseJournal(t *testing.T) {
	allow := unitSet([]string{"sshd", "nginx.service"})
	cases := []struct {
		name, line string
		ok         bool
		want       LogEntry
		cursor     string
	}{
		{"plain", `{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1764990000123456","PRIORITY":"3","_SYSTEMD_UNIT":"sshd.service","_HOSTNAME":"web-1","MESSAGE":"Failed password for root\n"}`,
			true, LogEntry{Timestamp: time.UnixMicro(1764990000123456).UTC(), Source: "journald", Unit: "sshd.service", Message: "Failed password for root", Severity: "err", Hostname: "web-1"}, "s=1;i=2"},
		{"systemd about the unit, binary message, no priority, no host", `{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"init.scope","UNIT":"nginx.service","MESSAGE":[104,105,255]}`,
			true, LogEntry{Timestamp: time.UnixMicro(1764990000000000).UTC(), Source: "journald", Unit: "nginx.service", Message: "hi\uFFFD", Severity: "info", Hostname: "fallback"}, "c2"},
		{"repeated field", `{"__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"sshd.service","MESSAGE":["first","second"],"PRIORITY":"7"}`,
			true, LogEntry{Timestamp: time.UnixMicro(1764990000000000).UTC(), Source: "journald", Unit: "sshd.service", Message: "first", Severity: "debug", Hostname: "fallback"}, ""},
		{"unit not allowed", `{"__CURSOR":"c3","__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"cron.service","MESSAGE":"x"}`, false, LogEntry{}, "c3"},
		{"empty message", `{"__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"sshd.service","MESSAGE":"  "}`, false, LogEntry{}, ""},
		{"null message (too large without --all)", `{"__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"sshd.service","MESSAGE":null}`, false, LogEntry{}, ""},
		{"no time", `{"_SYSTEMD_UNIT":"sshd.service","MESSAGE":"x"}`, false, LogEntry{}, ""},
		{"not json", `-- No entries --`, false, LogEntry{}, ""},
		{"bad cursor", `{"__CURSOR":"a b","__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"sshd.service","MESSAGE":"x"}`,
			true, LogEntry{Timestamp: time.UnixMicro(1).UTC(), Source: "journald", Unit: "sshd.service", Message: "x", Severity: "info", Hostname: "fallback"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, cur, ok := ParseJournal([]byte(c.line), allow, "fallback")
			if ok != c.ok || cur != c.cursor || (ok && e != c.want) {
				t.Fatalf("got %+v %q %v, want %+v %q %v", e, cur, ok, c.want, c.cursor, c.ok)
			}
		})
	}
	long := `{"__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"sshd.service","MESSAGE":"` + strings.Repeat("é", MaxMessageBytes) + `"}`
	if e, _, ok := ParseJournal([]byte(long), allow, ""); !ok || len(e.Message) > MaxMessageBytes || !strings.HasSuffix(e.Message, "é") {
		t.Fatalf("long message not clipped on a rune boundary: %d bytes", len(e.Message))
	}
}

// fakeJournalctl writes a journalctl stand-in that records its arguments
// and prints out's lines (then exits, so the source restarts it).
func fakeJournalctl(t *testing.T, out string) (path, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	data := filepath.Join(dir, "out")
	os.WriteFile(data, []byte(out), 0o644)
	path = filepath.Join(dir, "journalctl")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" >> " + argsFile + "\necho --- >> " + argsFile + "\ncat " + data + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, argsFile
}

// instantClock fires every wait at once and records it.
type instantClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *instantClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

func (c *instantClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func TestJournaldRunsJournalctl(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	out := `{"__CURSOR":"cur-1","__REALTIME_TIMESTAMP":"1764990000000000","_SYSTEMD_UNIT":"sshd.service","MESSAGE":"one","PRIORITY":"6"}
` + strings.Repeat("x", MaxLineBytes+10) + `
{"__CURSOR":"cur-2","__REALTIME_TIMESTAMP":"1764990001000000","_SYSTEMD_UNIT":"cron.service","MESSAGE":"not allowed"}
{"__CURSOR":"cur-3","__REALTIME_TIMESTAMP":"1764990002000000","_SYSTEMD_UNIT":"sshd.service","MESSAGE":"three","PRIORITY":"4"}
`
	cmd, argsFile := fakeJournalctl(t, out)
	state := filepath.Join(t.TempDir(), "journald.cursor")
	clk := &instantClock{now: time.Unix(1764990000, 0)}
	j, err := NewJournald(JournaldOptions{Units: []string{"sshd"}, Command: cmd, CursorPath: state, Hostname: "h", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var got []LogEntry
	done := make(chan error)
	go func() {
		done <- j.Run(ctx, func(e LogEntry) {
			got = append(got, e)
			if len(got) == 4 { // two runs of the script
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("journald source did not stop")
	}
	if got[0].Message != "one" || got[1].Message != "three" || got[1].Severity != "warning" || got[0].Hostname != "h" {
		t.Fatalf("entries %+v", got)
	}
	raw, _ := os.ReadFile(argsFile)
	runs := strings.Split(strings.TrimSuffix(string(raw), "---\n"), "---\n")
	if len(runs) < 2 {
		t.Fatalf("journalctl ran %d times: %s", len(runs), raw)
	}
	for _, want := range []string{"--output=json", "--follow", "--unit=sshd.service", "--since=@1764990000"} {
		if !strings.Contains(runs[0], want+"\n") {
			t.Errorf("first run lacks %s: %s", want, runs[0])
		}
	}
	if !strings.Contains(runs[1], "--after-cursor=cur-3\n") || strings.Contains(runs[1], "--since") {
		t.Errorf("the restart does not resume after the last cursor: %s", runs[1])
	}
	if w := clk.Waits(); len(w) == 0 || w[0] != journalMinBackoff {
		t.Errorf("restart backoff %v", w)
	}
	if c, _ := os.ReadFile(state); strings.TrimSpace(string(c)) != "cur-3" {
		t.Errorf("saved cursor %q", c)
	}
	// A new source resumes from the saved cursor.
	j2, _ := NewJournald(JournaldOptions{Units: []string{"sshd"}, CursorPath: state})
	if a := strings.Join(j2.args(j2.loadCursor(), time.Now()), " "); !strings.Contains(a, "--after-cursor=cur-3") {
		t.Errorf("restart args %s", a)
	}
}

func TestJournaldWithoutJournalctl(t *testing.T) {
	j, err := NewJournald(JournaldOptions{Units: []string{"sshd"}, LookPath: func(string) (string, error) { return "", errors.New("not found") }})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Run(context.Background(), func(LogEntry) { t.Error("emitted") }); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if _, err := NewJournald(JournaldOptions{}); err == nil {
		t.Fatal("no units accepted")
	}
}
