package wg

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// helperEnv makes the test binary run one userspace engine (runHelper)
// instead of the tests: the parent starts it inside a network namespace.
const helperEnv = "PLEXD_WG_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		runHelper(spec)
		return
	}
	os.Exit(m.Run())
}

// helperSpec is what a helper process runs.
type helperSpec struct {
	DataDir string
	Config  mesh.Config
}

// runHelper starts a userspace engine, serves a TCP echo on the mesh IP
// port 7, prints "ready <listen port>", and closes the engine cleanly when
// stdin closes.
func runHelper(raw string) {
	var spec helperSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	e, err := New(Options{Backend: BackendUserspace, DataDir: spec.DataDir, ProbeInterval: 200 * time.Millisecond})
	if err == nil {
		err = e.Set(context.Background(), spec.Config)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", spec.Config.Address+":7")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	fmt.Println("ready", e.Bind().LocalPort())
	io.Copy(io.Discard, os.Stdin)
	l.Close()
	if err := e.Close(); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test creates network namespaces, TUN devices and routes")
	}
}

// netnsWithVeth creates two namespaces joined by a veth pair with
// 192.0.2.1/24 and 192.0.2.2/24, removed at cleanup.
func netnsWithVeth(t *testing.T) (string, string) {
	t.Helper()
	suffix := fmt.Sprintf("%d", os.Getpid()%100000)
	n1, n2 := "plexdwg1-"+suffix, "plexdwg2-"+suffix
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", n1)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n1).Run() })
	ip("netns", "add", n2)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n2).Run() })
	ip("link", "add", "v1-"+suffix, "netns", n1, "type", "veth", "peer", "name", "v2-"+suffix, "netns", n2)
	ip("-n", n1, "addr", "add", "192.0.2.1/24", "dev", "v1-"+suffix)
	ip("-n", n2, "addr", "add", "192.0.2.2/24", "dev", "v2-"+suffix)
	for _, n := range []string{n1, n2} {
		ip("-n", n, "link", "set", "lo", "up")
	}
	ip("-n", n1, "link", "set", "v1-"+suffix, "up")
	ip("-n", n2, "link", "set", "v2-"+suffix, "up")
	return n1, n2
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, ns string, spec helperSpec) *helper {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := h.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.Fatalf("helper in %s: %q %v", ns, line, err)
	}
	return h
}

// stop closes stdin and waits for a clean exit.
func (h *helper) stop(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	rest, _ := io.ReadAll(h.out)
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper exit: %v %s", err, rest)
	}
}

func inNS(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

func TestUserspaceBetweenNamespaces(t *testing.T) {
	needRoot(t)
	n1, n2 := netnsWithVeth(t)
	k1, _ := identity.NewKeyPair(nil)
	k2, _ := identity.NewKeyPair(nil)
	d1, d2 := t.TempDir(), t.TempDir()
	peer := func(id, ip string, k identity.KeyPair, ep string) nodeproto.Peer {
		return nodeproto.Peer{ID: id, PublicKey: k.Public, MeshIP: ip, Endpoint: ep, AllowedIPs: []string{ip + "/32", "10.250." + ip[len(ip)-1:] + ".0/24"}, PersistentKeepalive: 25}
	}
	cfg1 := mesh.Config{Interface: "plexd0", ListenPort: 51820, Address: "10.99.0.1", MeshCIDR: "10.99.0.0/16",
		AddressV6: "fd00:99::1", MeshIPv6CIDR: "fd00:99::/64", PrivateKey: k1.Private,
		Peers: []nodeproto.Peer{peer("node-2", "10.99.0.2", k2, "192.0.2.2:51820")}}
	cfg2 := mesh.Config{Interface: "plexd0", ListenPort: 51820, Address: "10.99.0.2", PrivateKey: k2.Private,
		Peers: []nodeproto.Peer{peer("node-1", "10.99.0.1", k1, "")}}
	h1 := startHelper(t, n1, helperSpec{DataDir: d1, Config: cfg1})
	h2 := startHelper(t, n2, helperSpec{DataDir: d2, Config: cfg2})

	// The UAPI socket lives under the data dir, not /var/run/wireguard.
	if _, err := os.Stat(filepath.Join(d1, "wireguard", "plexd0.sock")); err != nil {
		t.Fatalf("uapi socket: %v", err)
	}
	// n2 may come up after n1's first initiation, which it then drops;
	// the handshake follows on a retry, so ping until 15 s have passed.
	// -w bounds the whole run, -c 1 ends it at the first reply.
	if out, err := inNS(t, n1, "ping", "-n", "-c", "1", "-w", "15", "10.99.0.2"); err != nil {
		t.Fatalf("ping through the tunnel: %v\n%s", err, out)
	}
	// TCP from n2 to n1's mesh IP (n2 learnt n1's endpoint by roaming).
	if out, err := inNS(t, n2, "bash", "-c", "exec 3<>/dev/tcp/10.99.0.1/7; echo hello >&3; timeout 5 head -n1 <&3"); err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("tcp echo through the tunnel: %v %q", err, out)
	}
	// Addresses, prefix, MTU and routes on n1: the /16 from mesh_cidr, the
	// ULA, and a route for the peer's allowed range outside the prefix.
	out, _ := inNS(t, n1, "ip", "addr", "show", "dev", "plexd0")
	for _, want := range []string{"10.99.0.1/16", "fd00:99::1/64", "mtu 1420", "UP"} {
		if !strings.Contains(out, want) {
			t.Errorf("plexd0 in %s lacks %q:\n%s", n1, want, out)
		}
	}
	routes, _ := inNS(t, n1, "ip", "route", "show", "dev", "plexd0")
	if !strings.Contains(routes, "10.250.2.0/24") || strings.Contains(routes, "10.99.0.2 ") {
		t.Errorf("routes in %s:\n%s", n1, routes)
	}
	// n2 has no mesh_cidr (level 1): a /32 and a route per peer.
	out, _ = inNS(t, n2, "ip", "-4", "addr", "show", "dev", "plexd0")
	routes, _ = inNS(t, n2, "ip", "route", "show", "dev", "plexd0")
	if !strings.Contains(out, "10.99.0.2/32") || !strings.Contains(routes, "10.99.0.1") {
		t.Errorf("level-1 addressing in %s:\n%s\n%s", n2, out, routes)
	}

	// A clean shutdown removes the interface and the journal.
	h1.stop(t)
	if out, err := inNS(t, n1, "ip", "link", "show", "plexd0"); err == nil {
		t.Errorf("plexd0 still exists after a clean shutdown:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(d1, journalFile)); !os.IsNotExist(err) {
		t.Errorf("journal after a clean shutdown: %v", err)
	}
	h2.stop(t)
}

func TestUserspaceJournalAfterCrash(t *testing.T) {
	needRoot(t)
	n1, _ := netnsWithVeth(t)
	k, _ := identity.NewKeyPair(nil)
	dir := t.TempDir()
	cfg := mesh.Config{ListenPort: 51820, Address: "10.99.0.1", MeshCIDR: "10.99.0.0/16", PrivateKey: k.Private}
	h := startHelper(t, n1, helperSpec{DataDir: dir, Config: cfg})
	h.cmd.Process.Signal(syscall.SIGKILL) // a crash: no cleanup runs
	h.cmd.Wait()
	raw, err := os.ReadFile(filepath.Join(dir, journalFile))
	if err != nil {
		t.Fatalf("no journal after a crash: %v", err)
	}
	var j journalEntry
	if err := json.Unmarshal(raw, &j); err != nil || j.Interface != "plexd0" || j.Backend != BackendUserspace {
		t.Fatalf("journal %s: %v", raw, err)
	}
	// Make the leftover survive the process (as a kernel link would).
	// (A veth pair: every kernel that runs these tests has it, unlike dummy.)
	if out, err := inNS(t, n1, "ip", "link", "add", "plexd0", "type", "veth", "peer", "name", "plexd0p"); err != nil {
		t.Fatalf("leftover: %v %s", err, out)
	}
	// The next run tidies it and comes up on the same name.
	h = startHelper(t, n1, helperSpec{DataDir: dir, Config: cfg})
	out, _ := inNS(t, n1, "ip", "-d", "link", "show", "plexd0")
	if !strings.Contains(out, "tun") || strings.Contains(out, "veth") {
		t.Fatalf("plexd0 after restart is not the new TUN:\n%s", out)
	}
	h.stop(t)
	if out, err := inNS(t, n1, "ip", "link", "show", "plexd0"); err == nil {
		t.Errorf("plexd0 still exists after a clean shutdown:\n%s", out)
	}
}

// TestTidyInProcess checks the journal tidy in this process, switched
// into a fresh namespace.
func TestTidyInProcess(t *testing.T) {
	needRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread
	if err != nil {
		t.Fatal(err)
	}
	defer func() { netns.Set(orig); ns.Close() }()
	la := netlink.NewLinkAttrs()
	la.Name = "plexdtidy0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "plexdtidy0p"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j := &journal{path: filepath.Join(dir, journalFile)}
	if err := j.begin(BackendUserspace, "plexdtidy0", filepath.Join(dir, "gone.sock")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Backend: BackendUserspace, DataDir: dir, Interface: "plexdtidy0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName("plexdtidy0"); err == nil {
		t.Fatal("the leftover interface survived New")
	}
	if _, err := os.Stat(j.path); !os.IsNotExist(err) {
		t.Fatalf("journal after tidy: %v", err)
	}
}

// TestKernelDetection: auto never picks a kernel that cannot make a
// wireguard link, and an explicit kernel backend then fails clearly.
func TestKernelDetection(t *testing.T) {
	needRoot(t)
	avail := kernelAvailable()
	got, err := Resolve(BackendAuto)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case avail && got != BackendKernel:
		t.Fatalf("auto chose %s with kernel WireGuard available", got)
	case !avail && got != BackendUserspace:
		t.Fatalf("auto chose %s without kernel WireGuard but with TUN (root)", got)
	}
	if avail {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, _ := netns.Get()
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { netns.Set(orig); ns.Close() }()
	k, _ := identity.NewKeyPair(nil)
	e, err := New(Options{Backend: BackendKernel, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Set(context.Background(), mesh.Config{Address: "10.99.0.1", PrivateKey: k.Private})
	if !errors.Is(err, ErrKernelUnavailable) {
		t.Fatalf("kernel backend without the module: %v", err)
	}
}
