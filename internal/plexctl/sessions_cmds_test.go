package plexctl

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 12: in --proxy mode plexctl issues an ssh session for its managed
// key and relays stdin/stdout over the attach WebSocket, both ways, until
// stdin closes.
func TestSSHProxyRelaysBothWays(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	r := h.start(accessHooks{}, "ssh", "--proxy", "--ttl", "90s", "root@"+accessNodeName+nodeSuffix)
	if _, err := r.stdin.Write([]byte("SSH-2.0-hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("echo:SSH-2.0-hello"))
	if _, err := io.ReadFull(r.stdout, got); err != nil {
		t.Fatalf("read: %v; stderr:\n%s", err, r.stderr)
	}
	if string(got) != "echo:SSH-2.0-hello" {
		t.Errorf("relayed %q", got)
	}
	r.stdin.Close()
	if code := r.wait(t); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr)
	}
	issued := f.issuedRequests()
	if len(issued) != 1 {
		t.Fatalf("%d sessions issued", len(issued))
	}
	in := issued[0]
	pub, err := os.ReadFile(filepath.Join(filepath.Dir(h.cfg), "ssh", "id_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != "ssh" || in.ResourceID != accessResource || in.Target.SSH == nil || in.Target.SSH.User != "root" ||
		in.RequestedTTLSeconds != 90 || in.PublicKey == "" || !strings.HasPrefix(string(pub), in.PublicKey+" ") {
		t.Errorf("issued %s; pub %q", mustJSON(t, in), pub)
	}
	var attach apiclienttest.Request
	for _, req := range h.srv.Requests() {
		if strings.HasSuffix(req.Path, "/attach") {
			attach = req
		}
	}
	if attach.Path != "/v1/projects/"+accessProject+"/sessions/s1/attach" ||
		attach.Header.Get("Authorization") != "Bearer psk_dev_env" || attach.Header.Get(apiclient.SessionTokenHeader) != "tok-s1" {
		t.Errorf("attach %s %v", attach.Path, attach.Header)
	}
}

// Issue 12: the managed key is an OpenSSH Ed25519 key, private half 0600,
// made once and reused.
func TestManagedSSHKey(t *testing.T) {
	h := newHarness(t)
	a := newApp(nil, io.Discard, io.Discard, func(k string) string { return h.env[k] })
	path, pub, err := a.ensureSSHKey()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key %s: %v %v", path, st.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Errorf("key is not in OpenSSH format:\n%s", data)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil || signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("parse: %v", err)
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub)); err != nil {
		t.Errorf("public key %q: %v", pub, err)
	}
	_, again, err := a.ensureSSHKey()
	if err != nil || again != pub {
		t.Errorf("second call: %q %v, want the same key", again, err)
	}
}

// Issue 12: by default plexctl runs the system ssh with itself as
// ProxyCommand, the managed key, a host key alias per node, and the
// remote command; ssh's exit code is plexctl's.
func TestSSHExecRunsSystemSSH(t *testing.T) {
	h := newHarness(t)
	newAccessFake(t, h)
	h.env[envExecutable] = "/opt/plexctl"
	var argv, env []string
	hooks := accessHooks{exec: func(_ context.Context, a, e []string) (int, error) {
		argv, env = a, e
		return 3, nil
	}}
	r := h.runHooked(hooks, "--token", "psk_flag", "ssh", "--project", accessProject, "deploy@"+accessNodeName,
		"--", "ls", "-la", "/tmp")
	if r.code != 3 {
		t.Fatalf("exit %d, want ssh's 3; stderr:\n%s", r.code, r.stderr)
	}
	key := filepath.Join(filepath.Dir(h.cfg), "ssh", "id_ed25519")
	want := []string{"ssh",
		"-o", "ProxyCommand=/opt/plexctl ssh --proxy --project " + accessProject + " deploy@" + accessNode,
		"-i", key, "-o", "IdentitiesOnly=yes", "-o", "HostKeyAlias=plexsphere-" + accessNode,
		"-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=" + filepath.Join(filepath.Dir(key), "known_hosts"),
		"--", "deploy@" + accessNode, "ls", "-la", "/tmp"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv:\n%q\nwant:\n%q", argv, want)
	}
	// --token reaches the ProxyCommand through the environment, not argv.
	if !slices.Contains(env, envToken+"=psk_flag") || !slices.Contains(env, envConfig+"="+h.cfg) {
		t.Errorf("child env lacks token or config: %v", env)
	}
	if strings.Contains(strings.Join(argv, " "), "psk_flag") {
		t.Error("the token is on the ssh command line")
	}
	// Without --, everything after NODE is still the remote command.
	r = h.runHooked(hooks, "ssh", "-l", "ops", accessNode, "uname", "-a")
	if n := len(argv); r.code != 3 || n < 3 || !slices.Equal(argv[n-3:], []string{"ops@" + accessNode, "uname", "-a"}) {
		t.Errorf("exit %d argv %q", r.code, argv)
	}
}

// Issue 12: a ProxyCommand line survives the shell and ssh's % tokens.
func TestProxyCommandLineQuoting(t *testing.T) {
	got := proxyCommandLine([]string{"/path with space/plexctl", "--server", "https://h/x%y", "it's"})
	want := `'/path with space/plexctl' --server 'https://h/x%%y' 'it'\''s'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Issue 12: 'ssh config' prints a wildcard block, or a pinned block per
// node.
func TestSSHConfig(t *testing.T) {
	h := newHarness(t)
	newAccessFake(t, h)
	h.env[envExecutable] = "/opt/plexctl"
	key := filepath.Join(filepath.Dir(h.cfg), "ssh", "id_ed25519")
	r := h.ok("ssh", "config")
	want := "# plexsphere: written by 'plexctl ssh config'\nHost *.plexsphere\n" +
		"    ProxyCommand /opt/plexctl ssh --proxy %r@%h\n    IdentityFile " + key + "\n    IdentitiesOnly yes\n" +
		"    StrictHostKeyChecking accept-new\n    UserKnownHostsFile " + filepath.Join(filepath.Dir(key), "known_hosts") + "\n\n"
	if r.stdout != want {
		t.Errorf("wildcard block:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = h.ok("--server", h.srv.URL, "ssh", "config", "--user", "deploy", accessNodeName)
	for _, line := range []string{
		"Host web-1.plexsphere plexsphere-" + accessNode,
		"HostKeyAlias plexsphere-" + accessNode,
		"ProxyCommand /opt/plexctl --server " + h.srv.URL + " ssh --proxy --project " + accessProject + " %r@" + accessNode,
		"User deploy",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("node block lacks %q:\n%s", line, r.stdout)
		}
	}
}

// Issue 12: refusals of issuance end plexctl ssh with an explanation and
// exit code 1: denied, step-up (with the required acr), budget full.
func TestSSHRefusals(t *testing.T) {
	cases := []struct {
		name   string
		status int
		code   string
		header [2]string
		want   []string
	}{
		{"denied", 403, "permission_denied", [2]string{}, []string{"access denied", "resource#connect", "(code permission_denied)"}},
		{"step-up", 401, "step_up_required",
			[2]string{"WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="phr"`},
			[]string{"requires a step-up", "plexctl login", "required acr: phr", "(code step_up_required)"}},
		{"limit", 429, "session_limit_exceeded", [2]string{"Retry-After", "30"},
			[]string{"session limit reached", "(code session_limit_exceeded)", "retry after: 30s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := newAccessFake(t, h)
			f.setRefuse(func(w http.ResponseWriter) {
				if tc.header[0] != "" {
					w.Header().Set(tc.header[0], tc.header[1])
				}
				apiclienttest.WriteProblem(w, apiv1.Problem{Status: tc.status, Code: tc.code, Title: http.StatusText(tc.status)})
			})
			r := h.fail(ExitError, tc.want, "ssh", "--proxy", "root@"+accessNode)
			if r.stdout != "" {
				t.Errorf("stdout (the ssh stream) got %q", r.stdout)
			}
		})
	}
}

// Issue 12: a session revoked while attached ends plexctl with a message
// naming the revocation and exit code 1.
func TestSSHProxyRevoked(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	f.attach = func(ctx context.Context, ws *websocket.Conn, _ apiclient.IssueSessionRequest) {
		_ = ws.Write(ctx, websocket.MessageBinary, []byte("SSH-2.0-plexd\r\n"))
		_ = ws.Close(websocket.StatusPolicyViolation, "session_revoked: operator_request")
	}
	r := h.start(accessHooks{}, "ssh", "--proxy", "root@"+accessNodeName)
	got, _ := io.ReadAll(r.stdout)
	if code := r.wait(t); code != ExitError {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr)
	}
	if string(got) != "SSH-2.0-plexd\r\n" {
		t.Errorf("stdout %q", got)
	}
	if s := r.stderr.String(); !strings.Contains(s, "the session was revoked (session_revoked: operator_request)") {
		t.Errorf("stderr:\n%s", s)
	}
}

// Issue 12: node names resolve within --project; an unknown name is a
// clear error.
func TestSSHNodeResolution(t *testing.T) {
	h := newHarness(t)
	newAccessFake(t, h)
	h.fail(ExitError, []string{`no node named "nope"`}, "ssh", "--proxy", "root@nope")
	h.fail(ExitError, []string{`no node named "db-1" in project ` + accessProject},
		"ssh", "--proxy", "--project", accessProject, "root@db-1")
	h.fail(ExitUsage, []string{"--proxy takes exactly one argument"}, "ssh", "--proxy", "root@web-1", "ls")
}

// Issue 12: plexctl tcp listens, issues one tcp session per connection
// and carries a real TCP conversation to the target the node dials.
func TestTCPForward(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	f.attach = tcpAttach
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		c, err := target.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		_, _ = c.Write([]byte("pong:" + string(buf)))
	}()
	port := target.Addr().(*net.TCPAddr).Port
	r := h.start(accessHooks{}, "tcp", "--once", accessNodeName+":"+strconv.Itoa(port))
	line, err := r.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v; stderr:\n%s", err, r.stderr)
	}
	local, rest, ok := strings.Cut(strings.TrimPrefix(line, "forwarding "), " → ")
	if !ok || rest != "web-1 127.0.0.1:"+strconv.Itoa(port)+"\n" {
		t.Fatalf("ready line %q", line)
	}
	c, err := net.Dial("tcp", local)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if string(got) != "pong:hello" {
		t.Errorf("conversation got %q", got)
	}
	if code := r.wait(t); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr)
	}
	issued := f.issuedRequests()
	if len(issued) != 1 || issued[0].Kind != "tcp" || issued[0].Target.TCP == nil ||
		*issued[0].Target.TCP != (apiclient.TCPTarget{Host: "127.0.0.1", Port: port}) || issued[0].PublicKey != "" {
		t.Errorf("issued %s", mustJSON(t, issued))
	}
}

// Issue 12: a denied tcp session stops --once forwarding with exit 1.
func TestTCPForwardDenied(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	f.setRefuse(func(w http.ResponseWriter) {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 403, Code: "permission_denied", Title: "Forbidden"})
	})
	r := h.start(accessHooks{}, "tcp", "--once", "--host", "10.0.0.9", accessNode+":5432")
	line, err := r.stdout.ReadString('\n')
	if err != nil || !strings.HasSuffix(line, "web-1 10.0.0.9:5432\n") {
		t.Fatalf("ready line %q %v", line, err)
	}
	local := strings.Fields(line)[1]
	c, err := net.Dial("tcp", local)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(c) // closed by plexctl
	c.Close()
	if code := r.wait(t); code != ExitError {
		t.Fatalf("exit %d", code)
	}
	if s := r.stderr.String(); !strings.Contains(s, "access denied") {
		t.Errorf("stderr:\n%s", s)
	}
	h.fail(ExitUsage, []string{"expected NODE:PORT"}, "tcp", "web-1")
	h.fail(ExitUsage, []string{"invalid port"}, "tcp", "web-1:70000")
}

// Issue 12: kube login merges a cluster, user and context into an
// existing kubeconfig, keeping the other entries; the exec entry, run,
// prints an ExecCredential holding a k8s session token, cached until 30 s
// before it expires.
func TestKubeLoginAndCredential(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	h.env[envExecutable] = "/opt/plexctl"
	kc := filepath.Join(t.TempDir(), "kube", "config")
	existing := `apiVersion: v1
kind: Config
# the cluster someone else set up
clusters:
- name: prod
  cluster:
    server: https://prod.example.com
users:
- name: prod-admin
  user:
    token: abc
contexts:
- name: prod
  context:
    cluster: prod
    user: prod-admin
current-context: prod
`
	if err := os.MkdirAll(filepath.Dir(kc), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env["KUBECONFIG"] = filepath.Join(t.TempDir(), "missing") + string(os.PathListSeparator) + kc
	h.ok("kube", "login", accessNodeName, "--group", "dev", "--set-context")
	// Twice: the entry is replaced, not duplicated.
	r := h.ok("kube", "login", accessNodeName, "--group", "dev", "--set-context")
	if !strings.Contains(r.stdout, "Wrote context plexsphere-web-1 to "+kc) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	data, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "# the cluster someone else set up") {
		t.Errorf("comment lost:\n%s", data)
	}
	var cfg struct {
		CurrentContext string `yaml:"current-context"`
		Clusters       []kubeNamedCluster
		Users          []struct {
			Name string
			User struct {
				Token string
				Exec  kubeExec
			}
		}
		Contexts []kubeNamedContext
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "plexsphere-web-1" || len(cfg.Clusters) != 2 || len(cfg.Users) != 2 || len(cfg.Contexts) != 2 {
		t.Fatalf("kubeconfig:\n%s", data)
	}
	if cfg.Clusters[0].Cluster.Server != "https://prod.example.com" || cfg.Users[0].User.Token != "abc" {
		t.Errorf("other entries changed:\n%s", data)
	}
	wantServer := h.srv.URL + "/v1/projects/" + accessProject + "/resources/" + accessResource + "/kube"
	if cfg.Clusters[1].Cluster.Server != wantServer || cfg.Contexts[1].Context != (kubeContext{Cluster: "plexsphere-web-1", User: "plexsphere-web-1"}) {
		t.Errorf("our entries:\n%s", data)
	}
	ex := cfg.Users[1].User.Exec
	wantArgs := []string{"--server", h.srv.URL, "kube", "credential", "--project", accessProject,
		"--resource", accessResource, "--group", "dev"}
	if ex.APIVersion != execCredentialAPIVersion || ex.Command != "/opt/plexctl" || ex.InteractiveMode != "Never" ||
		!slices.Equal(ex.Args, wantArgs) || len(ex.Env) != 1 || ex.Env[0] != (kubeEnvVar{Name: envConfig, Value: h.cfg}) {
		t.Errorf("exec entry %+v", ex)
	}
	if st, _ := os.Stat(kc); st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", st.Mode())
	}

	// Run the exec entry as kubectl would: its args, its env on top of ours.
	runExec := func(now time.Time) execCredential {
		t.Helper()
		env := map[string]string{envToken: h.env[envToken]}
		for _, e := range ex.Env {
			env[e.Name] = e.Value
		}
		var out, errb strings.Builder
		a := newApp(nil, &out, &errb, func(k string) string { return env[k] })
		a.now = func() time.Time { return now }
		if code := a.run(t.Context(), ex.Args); code != ExitOK {
			t.Fatalf("credential: exit %d\n%s", code, errb.String())
		}
		var cred execCredential
		dec := json.NewDecoder(strings.NewReader(out.String()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cred); err != nil {
			t.Fatalf("ExecCredential %q: %v", out.String(), err)
		}
		return cred
	}
	cred := runExec(testNow)
	exp, err := time.Parse(time.RFC3339, cred.Status.ExpirationTimestamp)
	if cred.APIVersion != "client.authentication.k8s.io/v1" || cred.Kind != "ExecCredential" ||
		cred.Status.Token != "tok-s1" || err != nil || !exp.Equal(testNow.Add(15*time.Minute)) {
		t.Errorf("credential %+v (%v)", cred, err)
	}
	issued := f.issuedRequests()
	if len(issued) != 1 || issued[0].Kind != "k8s" || issued[0].ResourceID != accessResource || issued[0].Target.K8s == nil ||
		issued[0].Target.K8s.User != "alice@example.com" || !slices.Equal(issued[0].Target.K8s.ImpersonateGroups, []string{"dev"}) {
		t.Errorf("issued %s", mustJSON(t, issued))
	}
	// Cached: no second session while the token has more than 30 s.
	if cred := runExec(testNow.Add(14 * time.Minute)); cred.Status.Token != "tok-s1" || len(f.issuedRequests()) != 1 {
		t.Errorf("cached credential %+v, %d sessions", cred, len(f.issuedRequests()))
	}
	// Within 30 s of expiry: a new session.
	if cred := runExec(testNow.Add(14*time.Minute + 40*time.Second)); cred.Status.Token != "tok-s2" {
		t.Errorf("refreshed credential %+v", cred)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(h.cfg), "kube-cache", "*.json"))
	for _, m := range matches {
		if st, _ := os.Stat(m); st.Mode().Perm() != 0o600 {
			t.Errorf("cache %s mode %v", m, st.Mode())
		}
	}
	if len(matches) != 1 {
		t.Errorf("cache files %v", matches)
	}
}

// Issue 12: a new kubeconfig gets the header fields kubectl expects.
func TestKubeLoginNewFile(t *testing.T) {
	h := newHarness(t)
	newAccessFake(t, h)
	h.env[envExecutable] = "/opt/plexctl"
	kc := filepath.Join(t.TempDir(), "config")
	r := h.ok("-o", "json", "kube", "login", accessNode, "--kubeconfig", kc, "--user", "ops")
	var res kubeLoginResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Context != "plexsphere-"+accessNode || res.Current {
		t.Fatalf("result %q: %v", r.stdout, err)
	}
	data, _ := os.ReadFile(kc)
	for _, want := range []string{"apiVersion: v1\n", "kind: Config\n", "interactiveMode: Never", "- --user\n", "- ops\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "current-context") {
		t.Errorf("current-context set without --set-context:\n%s", data)
	}
}

// Issue 12: a refused k8s session is explained on stderr, and kubectl
// gets no credential on stdout.
func TestKubeCredentialStepUp(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	f.setRefuse(func(w http.ResponseWriter) {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 401, Code: "step_up_required", Title: "Unauthorized"})
	})
	r := h.fail(ExitError, []string{"requires a step-up", "plexctl login"},
		"kube", "credential", "--project", accessProject, "--resource", accessResource, "--user", "ops")
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
}

const testCast = `{"version": 2, "width": 80, "height": 24, "timestamp": 1748779200}
[0.5, "o", "hello "]
[2.0, "o", "world\r\n"]
[2.0, "i", "typed"]
[12.0, "m", "recording cut at 16 MiB"]
`

// Issue 12: play writes the output events with their timing, scaled by
// --speed and capped by --idle-limit; --raw writes the file as it is.
func TestSessionsPlay(t *testing.T) {
	h := newHarness(t)
	path := "/v1/projects/" + accessProject + "/sessions/s1/recording"
	h.srv.Handle("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-asciicast")
		_, _ = io.WriteString(w, testCast)
	})
	var slept []time.Duration
	hooks := accessHooks{sleep: func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}}
	r := h.runHooked(hooks, "sessions", "play", "--project", accessProject, "s1", "--speed", "2", "--idle-limit", "3s")
	if r.code != ExitOK || r.stdout != "hello world\r\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if want := []time.Duration{250 * time.Millisecond, 750 * time.Millisecond, 3 * time.Second}; !slices.Equal(slept, want) {
		t.Errorf("slept %v, want %v", slept, want)
	}
	if !strings.Contains(r.stderr, "recording cut at 16 MiB") {
		t.Errorf("marker not shown: %q", r.stderr)
	}
	r = h.ok("sessions", "play", "--project", accessProject, "s1", "--raw")
	if r.stdout != testCast {
		t.Errorf("raw = %q", r.stdout)
	}
	bad := filepath.Join(t.TempDir(), "v1.cast")
	_ = os.WriteFile(bad, []byte(`{"version": 1}`+"\n"), 0o600)
	h.fail(ExitError, []string{"asciicast version 1"}, "sessions", "play", "--file", bad)
	_ = os.WriteFile(bad, []byte("not json\n"), 0o600)
	h.fail(ExitError, []string{"not an asciicast recording"}, "sessions", "play", "--file", bad)
	_ = os.WriteFile(bad, []byte(`{"version": 2}`+"\n[1, \"o\"]\n"), 0o600)
	h.fail(ExitError, []string{"recording line 2"}, "sessions", "play", "--file", bad)
	h.fail(ExitUsage, []string{"--project is required"}, "sessions", "play", "s1")
}

// Issue 12: sessions list, get and revoke send their requests and render
// the contract's shapes.
func TestSessionsListGetRevoke(t *testing.T) {
	h := newHarness(t)
	base := "/v1/projects/" + accessProject + "/sessions"
	s := apiclient.Session{ID: "s1", ProjectID: accessProject, ResourceID: accessResource, IdentityID: "i1",
		Kind: "tcp", Status: "active", IssuedAt: testNow, ExpiresAt: testNow.Add(15 * time.Minute),
		Target: apiclient.SessionTarget{TCP: &apiclient.TCPTarget{Host: "127.0.0.1", Port: 5432}}}
	h.srv.JSON("GET "+base, 200, apiv1.List[apiclient.Session]{Items: []apiclient.Session{s}})
	h.srv.JSON("GET "+base+"/{id}", 200, s)
	h.srv.Status("POST "+base+"/{idverb}", http.StatusNoContent)

	r := h.ok("sessions", "list", "--project", accessProject, "--status", "active", "--kind", "tcp")
	if !strings.Contains(r.stdout, "s1") || !strings.Contains(r.stdout, "127.0.0.1:5432") {
		t.Errorf("table:\n%s", r.stdout)
	}
	if q := h.srv.Last().Query; q.Get("status") != "active" || q.Get("kind") != "tcp" {
		t.Errorf("query %v", q)
	}
	r = h.ok("-o", "json", "sessions", "get", "--project", accessProject, "s1")
	var got apiclient.Session
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Target.TCP == nil || got.Target.TCP.Port != 5432 {
		t.Errorf("get json %q: %v", r.stdout, err)
	}
	r = h.ok("sessions", "revoke", "--project", accessProject, "s1", "--reason", "identity_compromise")
	last := h.srv.Last()
	if last.EscapedPath != base+"/s1:revoke" || string(last.Body) != `{"revoke_reason":"identity_compromise"}` ||
		r.stdout != "session s1 revoked (identity_compromise)\n" {
		t.Errorf("revoke %s %s -> %q", last.EscapedPath, last.Body, r.stdout)
	}
	h.fail(ExitUsage, []string{"invalid --reason"}, "sessions", "revoke", "--project", accessProject, "s1", "--reason", "ttl_expired")
	h.fail(ExitUsage, []string{"invalid --status"}, "sessions", "list", "--project", accessProject, "--status", "live")
}

// Issue 12: when the gateway ends a revoked session like any other, the
// session's status still makes plexctl report the revocation.
func TestTCPForwardRevokedByStatus(t *testing.T) {
	h := newHarness(t)
	f := newAccessFake(t, h)
	f.attach = func(ctx context.Context, ws *websocket.Conn, _ apiclient.IssueSessionRequest) {
		_ = ws.Close(websocket.StatusNormalClosure, "session ended")
	}
	h.srv.JSON("GET /v1/projects/{pid}/sessions/{sid}", 200, apiclient.Session{ID: "s1", Status: "revoked",
		RevokeReason: "policy_violation"})
	r := h.start(accessHooks{}, "tcp", "--once", accessNodeName+":22")
	line, err := r.stdout.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.Fields(line)[1])
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(c)
	c.Close()
	if code := r.wait(t); code != ExitError {
		t.Fatalf("exit %d", code)
	}
	if s := r.stderr.String(); !strings.Contains(s, "the session was revoked (policy_violation)") {
		t.Errorf("stderr:\n%s", s)
	}
}
