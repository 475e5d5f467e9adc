package localapi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// table is an accounts database: group name → gid, uid → gids.
type table struct {
	groups  map[string]string
	members map[string][]string
}

func (t table) groupID(name string) (string, error) {
	if g, ok := t.groups[name]; ok {
		return g, nil
	}
	return "", errors.New("no such group")
}

func (t table) groupIDsOf(uid string) ([]string, error) {
	if g, ok := t.members[uid]; ok {
		return g, nil
	}
	return nil, errors.New("no such user")
}

// TestAdmitsRootSelfAndTheGroupOnly pins the §12.8 rule for every kind of
// caller.
func TestAdmitsRootSelfAndTheGroupOnly(t *testing.T) {
	acc := table{groups: map[string]string{"plexd-secrets": "900"}, members: map[string][]string{
		"1001": {"1001", "900"}, // supplementary member
		"1002": {"1002"},        // stranger
		"1003": {"1003", "27"},  // in other groups only
	}}
	const self = 998
	for _, c := range []struct {
		name  string
		p     peer
		group string
		want  bool
	}{
		{"root", peer{0, 0}, "plexd-secrets", true},
		{"plexd's own user", peer{self, 5}, "plexd-secrets", true},
		{"primary group", peer{1004, 900}, "plexd-secrets", true},
		{"supplementary group", peer{1001, 1001}, "plexd-secrets", true},
		{"stranger", peer{1002, 1002}, "plexd-secrets", false},
		{"other groups", peer{1003, 1003}, "plexd-secrets", false},
		{"unknown user", peer{4242, 4242}, "plexd-secrets", false},
		{"missing group admits no one", peer{1001, 900}, "nope", false},
	} {
		if got := admits(c.p, self, c.group, acc); got != c.want {
			t.Errorf("%s: admits = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPeerCredRefusesAnotherUser is the real kernel path: a child process
// running as nobody reaches the socket and gets 403 for a secret value
// while the index stays readable. It needs root to change user.
func TestPeerCredRefusesAnotherUser(t *testing.T) {
	if os.Getenv("PLEXD_PEERCRED_CHILD") != "" {
		peerCredChild()
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	_, sock, _ := serve(t, nil) // the default PeerCredAuthorizer
	// Let nobody reach the socket; the authorizer is what must refuse.
	for _, p := range []string{filepath.Dir(filepath.Dir(sock)), filepath.Dir(sock)} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(sock, 0o666)
	exe := nobodyCopy(t)
	run := func(path string) string {
		cmd := exec.Command(exe, "-test.run=^TestPeerCredRefusesAnotherUser$")
		cmd.Env = append(os.Environ(), "PLEXD_PEERCRED_CHILD="+sock+" "+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Skipf("cannot run the test binary as nobody: %v %s", err, out)
		}
		return string(out)
	}
	out := run("/v1/state/secrets/db")
	t.Logf("nobody: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "status=403") || strings.Contains(out, "s3cret-value") {
		t.Errorf("nobody reading a secret value: %s", out)
	}
	if out := run("/v1/state/secrets"); !strings.Contains(out, "status=200") {
		t.Errorf("nobody reading the index: %s", out)
	}
}

// nobodyCopy copies the test binary where nobody may run it (go test
// keeps it in a 0700 directory).
func nobodyCopy(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "plexd-peercred")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "localapi.test")
	if err := os.WriteFile(exe, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// peerCredChild is the child side: one GET, the status and body on stdout.
func peerCredChild() {
	sock, path, _ := strings.Cut(os.Getenv("PLEXD_PEERCRED_CHILD"), " ")
	hc := &http.Client{Transport: &http.Transport{Dial: func(string, string) (net.Conn, error) { return net.Dial("unix", sock) }}}
	resp, err := hc.Get("http://plexd" + path)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("status=%d body=%s\n", resp.StatusCode, body)
}
