package kubetest

import (
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubectl itself lists namespaces and pods from the stand-in with a
// bearer token, and is refused without one: the stand-in speaks enough of
// the API for the real client.
func TestRealKubectlAgainstTheStandIn(t *testing.T) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is required (scripts/test installs kubernetes-client): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Token: "node-token", Namespaces: []string{"default", "kube-system"}, Pods: map[string][]string{"default": {"web-0", "web-1"}}}
	ca := s.ServeTLS(ln)
	t.Cleanup(s.Close)
	kc := filepath.Join(t.TempDir(), "config")
	run := func(token string, args ...string) (string, error) {
		cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://" + ln.Addr().String() + "\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca) +
			"\nusers:\n- name: u\n  user:\n    token: " + token + "\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: default}\ncurrent-context: x\n"
		if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, append([]string{"--kubeconfig", kc, "--request-timeout", "10s"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("node-token", "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("get namespaces: %v\n%s", err, out)
	}
	out, err = run("node-token", "get", "pods")
	if err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("get pods: %v\n%s", err, out)
	}
	if out, err := run("wrong", "get", "pods"); err == nil {
		t.Fatalf("a wrong token listed pods:\n%s", out)
	}
	if len(s.Seen()) < 3 {
		t.Errorf("saw %d calls", len(s.Seen()))
	}
}
