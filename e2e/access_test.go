package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/kubetest"
	"github.com/plexsphere/plexsphere/internal/netnstest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// accessLab is the mesh lab of mediated access: the control plane (TLS),
// one plexd node "web" with an ssh user, a Kubernetes API stand-in and an
// HTTP service on its loopback, an operator namespace that is not part of
// the mesh and reaches only the control plane, and an outsider namespace.
type accessLab struct {
	*meshLab
	web            *meshNode
	opNS, outNS    string
	opHome, sshCfg string
	env            []string
	kube           *kubetest.Server
}

const (
	blobSize    = 64 << 20
	labOperator = "198.18.0.50"
	labOutsider = "198.18.0.51"
	kubeToken   = "node-kube-credential"
)

func newAccessLab(t testing.TB, extra ...hostSpec) *accessLab {
	t.Helper()
	m := newTLSMeshLab(t, append([]hostSpec{{name: "web", addr: "198.18.0.11"}}, extra...))
	a := &accessLab{meshLab: m, web: m.nodes["web"]}
	a.opNS, a.outNS = m.lab.Host("op"), m.lab.Host("out")
	m.seg.Attach(a.opNS, "eth0", labOperator+"/24")
	m.seg.Attach(a.outNS, "eth0", labOutsider+"/24")

	// On web's loopback: the Kubernetes API stand-in (TLS) and a service.
	dir := m.lab.TempDir()
	ln, err := netnstest.Listen(a.web.ns, "tcp", "127.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	a.kube = &kubetest.Server{Token: kubeToken, Namespaces: []string{"default", "kube-system", "payments"},
		Pods: map[string][]string{"default": {"web-0", "web-1"}}}
	ca := a.kube.ServeTLS(ln)
	t.Cleanup(a.kube.Close)
	caFile, tokFile := filepath.Join(dir, "kube-ca.pem"), filepath.Join(dir, "kube-token")
	os.WriteFile(caFile, ca, 0o600)
	os.WriteFile(tokFile, []byte(kubeToken+"\n"), 0o600)
	// The service on web's loopback (what the tcp forward reaches) and,
	// for the benchmark's direct path, on every address of web.
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blob" {
			io.CopyN(w, zeroes{}, blobSize)
			return
		}
		io.WriteString(w, "hello from the web node\n")
	})}
	for _, addr := range []string{"127.0.0.1:8088", "0.0.0.0:8089"} {
		svc, err := netnstest.Listen(a.web.ns, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go hs.Serve(svc)
	}
	t.Cleanup(func() { hs.Close() })

	a.web.spec.args = []string{"--access-ssh-users", "root", "--access-kube-api", "https://127.0.0.1:6443",
		"--access-kube-token-file", tokFile, "--access-kube-ca-file", caFile}
	tok := m.issueToken(t, "node", 1+len(extra))
	for _, name := range m.order {
		m.start(t, m.nodes[name], tok)
	}
	for _, name := range m.order {
		m.waitJoined(t, m.nodes[name], 30*time.Second)
	}

	a.opHome = m.lab.TempDir()
	a.env = []string{"HOME=" + a.opHome, "PATH=" + binDir + ":" + os.Getenv("PATH"), "PLEXSPHERE_URL=" + m.url,
		"PLEXSPHERE_TOKEN=" + m.admin, "PLEXCTL_CONFIG=" + filepath.Join(a.opHome, "plexctl.yaml"),
		"XDG_CONFIG_HOME=" + filepath.Join(a.opHome, ".config"), "SSL_CERT_FILE=" + m.ca.caFile,
		"PLEXCTL_EXECUTABLE=" + filepath.Join(binDir, "plexctl"), "KUBECONFIG=" + filepath.Join(a.opHome, "kubeconfig")}
	cfg, errOut, err := a.op(t, 30*time.Second, "plexctl", "ssh", "config", "--project", m.projectID, "--user", "root", "web")
	if err != nil {
		t.Fatalf("plexctl ssh config: %v %s", err, errOut)
	}
	a.sshCfg = filepath.Join(a.opHome, "ssh_config")
	cfg += "\nHost *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n"
	if err := os.WriteFile(a.sshCfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// zeroes reads as endless zero bytes.
type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// command is a program run in the operator's namespace with its
// environment.
func (a *accessLab) command(ctx context.Context, ns, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, prog}, args...)...)
	cmd.Env = a.env
	return cmd
}

// op runs prog in the operator's namespace and returns its output.
func (a *accessLab) op(t testing.TB, within time.Duration, prog string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := a.command(ctx, a.opNS, prog, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestAccessInNamespaces is issue 12's end-to-end test with real clients:
// OpenSSH's ssh and scp through plexctl as ProxyCommand, kubectl through
// plexctl's kubeconfig, curl through a plexctl tcp forward — each reaching
// the node only through the control plane's session gateway and the mesh.
func TestAccessInNamespaces(t *testing.T) {
	a := newAccessLab(t)
	defer func() {
		if t.Failed() {
			a.dump(t)
		}
	}()

	t.Run("ssh runs a command and scp copies a file", func(t *testing.T) {
		out, errOut, err := a.op(t, 60*time.Second, "ssh", "-F", a.sshCfg, "web.plexsphere", "echo hello-from-$(hostname); id -un")
		if err != nil || !strings.Contains(out, "hello-from-") || !strings.Contains(out, "root") {
			t.Fatalf("ssh: %v\nstdout: %s\nstderr: %s", err, out, errOut)
		}
		payload := make([]byte, 256<<10)
		rand.Read(payload)
		src, dst := filepath.Join(a.opHome, "payload.bin"), filepath.Join(a.lab.TempDir(), "copied.bin")
		os.WriteFile(src, payload, 0o600)
		if out, errOut, err := a.op(t, 60*time.Second, "scp", "-F", a.sshCfg, src, "web.plexsphere:"+dst); err != nil {
			t.Fatalf("scp: %v\n%s%s", err, out, errOut)
		}
		got, err := os.ReadFile(dst)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("the copied file differs (%d of %d bytes): %v", len(got), len(payload), err)
		}
		// The first ssh session was recorded; plexctl replays it.
		var list struct {
			Items []struct {
				ID           string `json:"id"`
				HasRecording bool   `json:"has_recording"`
			} `json:"items"`
		}
		var rec string
		for deadline := time.Now().Add(10 * time.Second); rec == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if st, raw := a.do(t, "GET", "/v1/projects/"+a.projectID+"/sessions?kind=ssh", nil, &list); st != 200 {
				t.Fatalf("list: %d %s", st, raw)
			}
			if len(list.Items) > 0 && list.Items[0].HasRecording {
				rec = list.Items[0].ID
			}
		}
		if rec == "" {
			t.Fatal("the ssh session has no recording")
		}
		out, errOut, err = a.op(t, 30*time.Second, "plexctl", "sessions", "play", "--project", a.projectID, "--raw", rec)
		if err != nil || !strings.HasPrefix(out, `{"version":2`) || !strings.Contains(out, "hello-from-") {
			t.Fatalf("sessions play: %v\n%s%s", err, out, errOut)
		}
		if out, errOut, err = a.op(t, 30*time.Second, "plexctl", "sessions", "play", "--project", a.projectID, "--speed", "100", rec); err != nil ||
			!strings.Contains(out, "hello-from-") {
			t.Fatalf("sessions play (replayed): %v\n%s%s", err, out, errOut)
		}
	})

	t.Run("kubectl through plexctl's kubeconfig, impersonating the operator", func(t *testing.T) {
		if out, errOut, err := a.op(t, 30*time.Second, "plexctl", "kube", "login", "web", "--project", a.projectID, "--set-context"); err != nil {
			t.Fatalf("kube login: %v\n%s%s", err, out, errOut)
		}
		out, errOut, err := a.op(t, 60*time.Second, "kubectl", "get", "pods")
		if err != nil || !strings.Contains(out, "web-1") {
			t.Fatalf("kubectl get pods: %v\n%s%s", err, out, errOut)
		}
		out, errOut, err = a.op(t, 60*time.Second, "kubectl", "get", "namespaces")
		if err != nil || !strings.Contains(out, "payments") {
			t.Fatalf("kubectl get namespaces: %v\n%s%s", err, out, errOut)
		}
		seen := a.kube.Seen()
		if len(seen) < 3 {
			t.Fatalf("the API saw %d calls", len(seen))
		}
		var who struct{ Subject, Email string }
		if st, raw := a.do(t, "GET", "/v1/auth/whoami", nil, &who); st != 200 {
			t.Fatalf("whoami: %d %s", st, raw)
		}
		for _, r := range seen {
			if r.Authorization != "Bearer "+kubeToken || r.ImpersonateUser == "" ||
				(r.ImpersonateUser != who.Email && r.ImpersonateUser != who.Subject) || len(r.Other) != 0 {
				t.Errorf("%s %s reached the API as %+v (want the node's credential, impersonating %s)", r.Method, r.Path, r, who.Subject)
			}
		}
	})

	t.Run("curl through a plexctl tcp forward", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		fwd := a.command(ctx, a.opNS, "plexctl", "tcp", "web:8088", "--local", "127.0.0.1:18088")
		stdout, _ := fwd.StdoutPipe()
		var errOut syncBuffer
		fwd.Stderr = &errOut
		if err := fwd.Start(); err != nil {
			t.Fatal(err)
		}
		defer fwd.Wait()
		defer cancel()
		ready := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				select {
				case ready <- sc.Text():
				default:
				}
			}
		}()
		select {
		case line := <-ready:
			t.Logf("plexctl tcp: %s", line)
		case <-time.After(30 * time.Second):
			t.Fatalf("plexctl tcp never became ready: %s", errOut.String())
		}
		out, curlErr, err := a.op(t, 30*time.Second, "curl", "-sS", "--max-time", "20", "http://127.0.0.1:18088/")
		if err != nil || out != "hello from the web node\n" {
			t.Fatalf("curl: %v %q %s\nplexctl: %s", err, out, curlErr, errOut.String())
		}
	})

	t.Run("revoking a live ssh session ends it within 1 s, audited", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ssh := a.command(ctx, a.opNS, "ssh", "-F", a.sshCfg, "web.plexsphere", "echo started; sleep 50; echo not-revoked")
		stdout, _ := ssh.StdoutPipe()
		var errOut syncBuffer
		ssh.Stderr = &errOut
		if err := ssh.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan time.Time, 1)
		var out syncBuffer
		go func() {
			io.Copy(&out, stdout)
			ssh.Wait()
			exited <- time.Now()
		}()
		var sid string
		for deadline := time.Now().Add(30 * time.Second); sid == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if !strings.Contains(out.String(), "started") {
				continue
			}
			sid = a.liveSSHSession(t)
		}
		if sid == "" {
			t.Fatalf("no live ssh session: %s %s", out.String(), errOut.String())
		}
		revokedAt := time.Now()
		if st, raw := a.do(t, "POST", "/v1/projects/"+a.projectID+"/sessions/"+sid+":revoke", map[string]string{"revoke_reason": "operator_request"}, nil); st != 204 {
			t.Fatalf("revoke: %d %s", st, raw)
		}
		select {
		case at := <-exited:
			took := at.Sub(revokedAt)
			t.Logf("ssh ended %v after the revocation", took.Round(time.Millisecond))
			if took > time.Second {
				t.Errorf("the revoked ssh session lasted %v (at most 1 s)", took)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the ssh client still runs 10 s after the revocation")
		}
		if strings.Contains(out.String(), "not-revoked") {
			t.Error("the command ran to its end")
		}
		// The Domain's chain holds issue, connect, revoke and disconnect.
		want := []string{"session.issue", "session.connect", "session.revoke", "session.disconnect"}
		var got []string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			got = a.sessionAudit(t, sid)
			if containsInOrder(got, want) {
				break
			}
		}
		if !containsInOrder(got, want) {
			t.Errorf("audit of session %s: %v, want %v in order", sid, got, want)
		}
	})

	t.Run("the access port is closed outside the mesh", func(t *testing.T) {
		a.lab.Route(a.outNS, labMesh, a.web.spec.addr)
		target := net.JoinHostPort(a.web.meshIP, fmt.Sprint(nodeproto.DefaultAccessPort))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if c, err := netnstest.Dial(ctx, a.outNS, "tcp", target); err == nil {
			c.Close()
			t.Fatalf("%s answered from outside the mesh", target)
		}
		// The operator's namespace has no way in either.
		a.lab.Route(a.opNS, labMesh, a.web.spec.addr)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel2()
		if c, err := netnstest.Dial(ctx2, a.opNS, "tcp", target); err == nil {
			c.Close()
			t.Fatalf("%s answered the operator's namespace directly", target)
		}
	})
}

// liveSSHSession is the id of the newest active ssh session, or "".
func (a *accessLab) liveSSHSession(t testing.TB) string {
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if st, raw := a.do(t, "GET", "/v1/projects/"+a.projectID+"/sessions?status=active&kind=ssh&limit=200", nil, &list); st != 200 {
		t.Fatalf("list sessions: %d %s", st, raw)
	}
	if len(list.Items) == 0 {
		return ""
	}
	return list.Items[len(list.Items)-1].ID
}

// sessionAudit lists the actions of the Domain's audit chain about one
// session, oldest first.
func (a *accessLab) sessionAudit(t testing.TB, sid string) []string {
	var page struct {
		Items []struct {
			Action string `json:"action"`
			Object struct {
				ID string `json:"id"`
			} `json:"object"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	var out []string
	path := "/v1/domains/" + a.domainID + "/audit/entries?limit=200"
	for range 20 {
		if st, raw := a.do(t, "GET", path, nil, &page); st != 200 {
			t.Fatalf("audit: %d %s", st, raw)
		}
		for _, e := range page.Items {
			if e.Object.ID == sid {
				out = append(out, e.Action)
			}
		}
		if page.NextCursor == "" {
			break
		}
		path = "/v1/domains/" + a.domainID + "/audit/entries?limit=200&cursor=" + url.QueryEscape(page.NextCursor)
		page.NextCursor = ""
	}
	return out
}

// containsInOrder reports whether want appears in got in order.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
