package access

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func TestSSHExec(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	err = sess.Run(`echo "hello from $USER"; echo oops >&2; exit 3`)
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Fatalf("Run: %v, want exit status 3", err)
	}
	if want := "hello from " + currentUser(t) + "\n"; out.String() != want || errOut.String() != "oops\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	cl.Close()
	if by := endedBy(t, e.rep, ss.SessionID); by != nodeproto.TerminatedClient {
		t.Errorf("terminated_by %q, want client_close", by)
	}
	var cmd *nodeproto.SSHActivity
	for _, r := range e.rep.acts {
		if r.a.SSH != nil && r.a.SSH.Command != "" {
			cmd = r.a.SSH
		}
	}
	if cmd == nil || !strings.HasPrefix(cmd.Command, "echo") || cmd.ExitCode == nil || *cmd.ExitCode != 3 || cmd.StartedAt == nil || cmd.CompletedAt == nil {
		t.Errorf("exec report %+v", cmd)
	}
	if first := e.rep.acts[0].a.SSH; first == nil || first.Phase != nodeproto.PhaseStarted {
		t.Errorf("first report %+v, want session_started", e.rep.acts[0].a)
	}
}

func TestSSHCleanEnvironment(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := cl.NewSession()
	out, err := sess.Output("env")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		name, _, _ := strings.Cut(line, "=")
		switch name {
		case "HOME", "USER", "LOGNAME", "SHELL", "PATH", "PWD", "SHLVL", "_", "OLDPWD":
		default:
			t.Errorf("child environment has %q", strings.TrimSpace(line))
		}
	}
}

func TestSSHRefusedLogins(t *testing.T) {
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	wrongKey, _ := gossh.NewSignerFromKey(other)
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	if _, err := e.sshClient(e.token(ss, nil), "alice", wrongKey); err == nil {
		t.Error("a key other than the session's logged in")
	}
	ss = e.session(nodeproto.SessionSSH, sshTarget(), nil)
	if _, err := e.sshClient(e.token(ss, nil), "root", e.client); err == nil {
		t.Error("a user other than target.user logged in")
	}

	// No --access-ssh-users: refused with a banner that says why.
	e = newEnv(t, func(o *Options) { o.SSHUsers = nil })
	ss = e.session(nodeproto.SessionSSH, sshTarget(), nil)
	c, _ := e.upgrade(e.token(ss, nil))
	var banner string
	cfg := &gossh.ClientConfig{User: "alice", Auth: []gossh.AuthMethod{gossh.PublicKeys(e.client)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), BannerCallback: func(m string) error { banner = m; return nil }}
	if _, _, _, err := gossh.NewClientConn(c, e.addr, cfg); err == nil {
		t.Error("logged in without a user mapping")
	}
	if !strings.Contains(banner, "not allowed on this node") {
		t.Errorf("banner %q does not say why", banner)
	}
}

func TestAllowedCommands(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget("echo allowed"), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := cl.NewSession()
	if out, err := sess.Output("echo allowed"); err != nil || string(out) != "allowed\n" {
		t.Errorf("allowed command: %q, %v", out, err)
	}
	sess, _ = cl.NewSession()
	err = sess.Run("echo allowed; id")
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != exitRefused {
		t.Errorf("other command: %v, want exit %d", err, exitRefused)
	}
	sess, _ = cl.NewSession()
	if err := sess.RequestSubsystem("sftp"); err == nil {
		if err := sess.Wait(); err == nil {
			t.Error("sftp ran in a session limited to allowed commands")
		}
	}
}

func TestSFTP(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sftp.NewClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	dir := t.TempDir()
	remote := filepath.Join(dir, "put.txt")
	f, err := sc.Create(remote)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("plexsphere "), 10000)
	if _, err := f.Write(payload); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, err := os.ReadFile(remote); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("put wrote %d bytes, %v", len(got), err)
	}
	os.WriteFile(filepath.Join(dir, "get.txt"), []byte("from the node"), 0o600)
	g, err := sc.Open(filepath.Join(dir, "get.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g)
	g.Close()
	if string(got) != "from the node" {
		t.Errorf("get read %q", got)
	}
}

func TestRevokeClosesSSHWithinASecond(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := cl.NewSession()
	stdout, _ := sess.StdoutPipe()
	if err := sess.Start("echo ready; sleep 60"); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("command printed %q", line)
	}
	start := time.Now()
	e.srv.Revoke(ss.SessionID)
	done := make(chan error, 1)
	go func() { done <- cl.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("ssh connection open 1 s after revocation")
	}
	t.Logf("closed %v after revocation", time.Since(start))
	if by := endedBy(t, e.rep, ss.SessionID); by != nodeproto.TerminatedRevoke {
		t.Errorf("terminated_by %q, want operator_revoke", by)
	}
}

// castLines checks an asciicast v2 recording and returns its events.
func castLines(t *testing.T, rec []byte) (map[string]any, [][]any) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(rec), "\n"), "\n")
	var header map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &header); err != nil {
		t.Fatalf("header %q: %v", lines[0], err)
	}
	if header["version"] != 2.0 || header["width"] == nil || header["height"] == nil || header["timestamp"] == nil {
		t.Errorf("header %v", header)
	}
	var events [][]any
	last := 0.0
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %q: %v", l, err)
		}
		ts, ok := ev[0].(float64)
		if _, isStr := ev[2].(string); !ok || ts < last || !isStr {
			t.Fatalf("event %q: bad time or data", l)
		}
		last = ts
		events = append(events, ev)
	}
	return header, events
}

func TestRecordingIsAsciicast(t *testing.T) {
	e := newEnv(t, nil)
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := cl.NewSession()
	if err := sess.RequestPty("xterm", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("printf 'caf\\303\\251 recorded\\n'; test -t 1 && echo tty")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "tty") {
		t.Errorf("no pty: %q", out)
	}
	cl.Close()
	e.rep.wait(t, "final recording chunk", func(_ []reported, recs map[string][]recChunk) bool {
		c := recs[ss.SessionID]
		return len(c) > 0 && c[len(c)-1].final
	})
	header, events := castLines(t, e.rep.recording(t, ss.SessionID))
	if header["width"] != 120.0 || header["height"] != 40.0 {
		t.Errorf("header size %v×%v, want 120×40", header["width"], header["height"])
	}
	var text strings.Builder
	for _, ev := range events {
		if ev[1] == "o" {
			text.WriteString(ev[2].(string))
		}
	}
	if !strings.Contains(text.String(), "café recorded") {
		t.Errorf("recorded output %q", text.String())
	}
}

func TestRecordingBounded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RecordingMax = 2048 })
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	cl, err := e.sshClient(e.token(ss, nil), "alice", e.client)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := cl.NewSession()
	if _, err := sess.Output("for i in $(seq 1 500); do echo line $i; done"); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	e.rep.wait(t, "final recording chunk", func(_ []reported, recs map[string][]recChunk) bool {
		c := recs[ss.SessionID]
		return len(c) > 0 && c[len(c)-1].final
	})
	rec := e.rep.recording(t, ss.SessionID)
	if len(rec) > 2048 {
		t.Errorf("recording of %d bytes, bound 2048", len(rec))
	}
	_, events := castLines(t, rec)
	last := events[len(events)-1]
	if last[1] != "m" || !strings.Contains(last[2].(string), "cut") {
		t.Errorf("last event %v, want the cut marker", last)
	}
}
