package access

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Environment of the test binary run as an OpenSSH ProxyCommand.
const (
	envProxyAddr  = "PLEXD_ACCESS_TEST_PROXY"
	envProxyToken = "PLEXD_ACCESS_TEST_TOKEN"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envProxyAddr); addr != "" {
		os.Exit(proxyMain(addr, os.Getenv(envProxyToken)))
	}
	os.Exit(m.Run())
}

// proxyMain is what the gateway does for one ssh session: upgrade, then
// splice stdin and stdout.
func proxyMain(addr, token string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: plexd\r\nAuthorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", AccessPath, token, UpgradeProtocol)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		fmt.Fprintln(os.Stderr, "upgrade refused", err)
		return 1
	}
	go func() { io.Copy(c, os.Stdin); c.(*net.TCPConn).CloseWrite() }()
	io.Copy(os.Stdout, br)
	return 0
}

// openssh runs the system's ssh tool prog with a fresh ssh session's
// token in its ProxyCommand.
func (e *env) openssh(t *testing.T, keyFile, prog string, args ...string) (string, error) {
	t.Helper()
	ss := e.session(nodeproto.SessionSSH, sshTarget(), nil)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proxy := fmt.Sprintf("env %s=%s %s=%s %s", envProxyAddr, e.addr, envProxyToken, e.token(ss, nil), exe)
	base := []string{"-F", "/dev/null", "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ProxyCommand=" + proxy}
	out, err := exec.Command(prog, append(base, args...)...).CombinedOutput()
	return string(out), err
}

// TestOpenSSHClients: OpenSSH's ssh, scp (SFTP mode) and scp -O (legacy,
// an exec of scp -t) work through the listener.
func TestOpenSSHClients(t *testing.T) {
	for _, tool := range []string{"ssh", "scp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	signer, _ := gossh.NewSignerFromKey(priv)
	e := newEnv(t, nil)
	e.client = signer

	out, err := e.openssh(t, keyFile, "ssh", "alice@node", "echo hello over openssh; exit 7")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 || !strings.Contains(out, "hello over openssh") {
		t.Fatalf("ssh: %v, output %q", err, out)
	}
	src := filepath.Join(dir, "src.txt")
	os.WriteFile(src, []byte("copied by scp\n"), 0o600)
	for _, mode := range [][]string{nil, {"-O"}} {
		dst := filepath.Join(dir, fmt.Sprintf("dst%d.txt", len(mode)))
		args := append(append([]string(nil), mode...), src, "alice@node:"+dst)
		if out, err := e.openssh(t, keyFile, "scp", args...); err != nil {
			t.Fatalf("scp %v: %v, output %q", mode, err, out)
		}
		if got, err := os.ReadFile(dst); err != nil || string(got) != "copied by scp\n" {
			t.Errorf("scp %v wrote %q, %v", mode, got, err)
		}
	}
	e.rep.wait(t, "sftp and legacy scp reports", func(acts []reported, _ map[string][]recChunk) bool {
		sftp, legacy := false, false
		for _, r := range acts {
			if a := r.a.SSH; a != nil && a.ExitCode != nil && *a.ExitCode == 0 {
				sftp = sftp || a.Command == "sftp (subsystem)"
				legacy = legacy || strings.HasPrefix(a.Command, "scp -t")
			}
		}
		return sftp && legacy
	})
}
