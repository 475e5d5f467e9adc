// Package netnstest builds throw-away network labs out of Linux network
// namespaces for privileged tests: an "internet" segment (a bridge inside a
// switch namespace, hosts attached by veth), routers with nftables NAT and
// hosts behind them. It shells out to ip(8) and nft(8); everything a Lab
// creates is removed by t.Cleanup, and leftovers of aborted runs (same name
// prefix, dead owner) are removed when a new Lab starts.
//
// A lab's namespaces have no link to the host's namespace or to anything
// else, so no packet a test sends can leave them; the test process itself
// reaches into a namespace only through sockets opened there (Dial,
// Listen, HTTPClient).
package netnstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// namePrefix starts every namespace a Lab creates; the owner's pid
// follows, so a later run can tell a dead run's leftovers from a live one.
const namePrefix = "pxlab"

var leftover = regexp.MustCompile(`^` + namePrefix + `(\d+)x\d+-`)

// Require skips t with the reason when the lab cannot be built here: not
// root, or ip, nft or ping missing.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace lab: needs root (scripts/test runs the suite as root in CI)")
	}
	for _, tool := range []string{"ip", "nft", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("network namespace lab: %s is not installed (Debian: iproute2, nftables, iputils-ping)", tool)
		}
	}
}

// Lab is one test's set of namespaces.
type Lab struct {
	t      testing.TB
	prefix string

	// mu guards nss, procs and dirs.
	mu    sync.Mutex
	nss   []string
	procs []*Proc
	dirs  []string
}

var labSeq struct {
	sync.Mutex
	n int
}

// New removes leftovers of dead runs and returns an empty lab torn down
// when t ends (processes started through it first, then namespaces).
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	removeLeftovers(t)
	labSeq.Lock()
	labSeq.n++
	n := labSeq.n
	labSeq.Unlock()
	l := &Lab{t: t, prefix: fmt.Sprintf("%s%dx%d-", namePrefix, os.Getpid(), n)}
	t.Cleanup(l.close)
	return l
}

// removeLeftovers deletes namespaces of earlier runs whose process is gone.
func removeLeftovers(t testing.TB) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		m := leftover.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		killAll(e.Name())
		if out, err := exec.Command("ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("netnstest: removing leftover namespace %s: %v %s", e.Name(), err, out)
		}
	}
}

// killAll kills every process still inside namespace ns.
func killAll(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (l *Lab) close() {
	l.mu.Lock()
	procs, nss, dirs := l.procs, l.nss, l.dirs
	l.procs, l.nss, l.dirs = nil, nil, nil
	l.mu.Unlock()
	for _, p := range procs {
		p.Stop(3 * time.Second)
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			l.t.Logf("netnstest: remove %s: %v", d, err)
		}
	}
	for i := len(nss) - 1; i >= 0; i-- {
		killAll(nss[i])
		if out, err := exec.Command("ip", "netns", "del", nss[i]).CombinedOutput(); err != nil {
			l.t.Logf("netnstest: delete namespace %s: %v %s", nss[i], err, out)
		}
	}
}

// Name is the full namespace name of the lab's host short.
func (l *Lab) Name(short string) string { return l.prefix + short }

// Host creates namespace short with its loopback up and returns its full
// name.
func (l *Lab) Host(short string) string {
	l.t.Helper()
	ns := l.Name(short)
	l.must("ip", "netns", "add", ns)
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	l.must("ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// must runs a command and fails the test on error.
func (l *Lab) must(args ...string) string {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Exec runs args inside namespace ns (ip netns exec) and returns its
// combined output.
func (l *Lab) Exec(ctx context.Context, ns string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// MustExec is Exec that fails the test on error.
func (l *Lab) MustExec(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.Exec(context.Background(), ns, args...)
	if err != nil {
		l.t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// Sysctl sets key=value inside ns.
func (l *Lab) Sysctl(ns, key, value string) {
	l.t.Helper()
	l.MustExec(ns, "sysctl", "-q", "-w", key+"="+value)
}

// Segment is a shared L2 segment: a bridge in its own namespace.
type Segment struct {
	lab *Lab
	// NS is the switch namespace.
	NS string
}

// Switch creates a segment whose bridge lives in namespace short.
func (l *Lab) Switch(short string) *Segment {
	l.t.Helper()
	ns := l.Host(short)
	l.must("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
	l.must("ip", "-n", ns, "link", "set", "br0", "up")
	return &Segment{lab: l, NS: ns}
}

// Attach plugs host ns into the segment as interface ifname with address
// cidr (e.g. 198.18.0.11/24) and brings it up.
func (s *Segment) Attach(ns, ifname, cidr string) {
	l := s.lab
	l.t.Helper()
	port := "p" + strings.TrimPrefix(ns, l.prefix)
	if len(port) > 15 {
		port = port[:15]
	}
	l.must("ip", "-n", s.NS, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
	l.must("ip", "-n", s.NS, "link", "set", port, "master", "br0", "up")
	l.must("ip", "-n", ns, "addr", "add", cidr, "dev", ifname)
	l.must("ip", "-n", ns, "link", "set", ifname, "up")
}

// Link joins hosts a and b with a veth pair (ifA in a, ifB in b) and gives
// the ends the addresses cidrA and cidrB.
func (l *Lab) Link(a, ifA, cidrA, b, ifB, cidrB string) {
	l.t.Helper()
	l.must("ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b)
	l.must("ip", "-n", a, "addr", "add", cidrA, "dev", ifA)
	l.must("ip", "-n", b, "addr", "add", cidrB, "dev", ifB)
	l.must("ip", "-n", a, "link", "set", ifA, "up")
	l.must("ip", "-n", b, "link", "set", ifB, "up")
}

// Route adds a route in ns: dst ("default" or a prefix) via gateway.
func (l *Lab) Route(ns, dst, via string) {
	l.t.Helper()
	l.must("ip", "-n", ns, "route", "add", dst, "via", via)
}

// NAT makes router ns forward and masquerade everything leaving through
// outIf. symmetric randomises the source port of every new mapping
// (nftables "masquerade random"), so each destination sees another port;
// otherwise Linux keeps the source port where it can (an
// endpoint-independent mapping: a cone NAT with port-restricted
// filtering).
func (l *Lab) NAT(ns, outIf string, symmetric bool) {
	l.t.Helper()
	l.Sysctl(ns, "net.ipv4.ip_forward", "1")
	rule := fmt.Sprintf("oifname %q masquerade", outIf)
	if symmetric {
		rule += " random"
	}
	script := "table ip nat {\n chain post {\n  type nat hook postrouting priority srcnat; policy accept;\n  " + rule + "\n }\n}\n"
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("nft in %s: %v\n%s", ns, err, out)
	}
}

// TempDir returns a new directory for a process of the lab to write in.
// Unlike t.TempDir, whose cleanup runs before the lab's (cleanups run last
// registered first), it is removed only after every process the lab
// started has exited, so a process still flushing its state on shutdown
// cannot make the removal fail.
func (l *Lab) TempDir() string {
	l.t.Helper()
	d, err := os.MkdirTemp("", "pxlab")
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.dirs = append(l.dirs, d)
	l.mu.Unlock()
	return d
}

// Proc is a process a Lab started inside a namespace.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop interrupts the process and waits up to grace before killing it.
func (p *Proc) Stop(grace time.Duration) {
	p.once.Do(func() { p.Cmd.Process.Signal(os.Interrupt) })
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// Start runs prog with args inside ns as a child stopped (SIGINT, then
// SIGKILL) when the lab closes. Output goes to out.
func (l *Lab) Start(ns string, out io.Writer, prog string, args ...string) *Proc {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, prog}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s in %s: %v", prog, ns, err)
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p
}

// Output collects a child's output for the test to read.
type Output struct {
	// mu guards b.
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// InNS runs fn on an OS thread switched into namespace ns, so sockets fn
// opens live there. The thread is switched back before it is released;
// if that fails the thread is discarded.
func InNS(ns string, fn func() error) error {
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Dial connects from inside namespace ns.
func Dial(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := InNS(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside namespace ns.
func Listen(ns, network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := InNS(ns, func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// HTTPClient is an HTTP client whose connections are opened inside ns.
func HTTPClient(ns string) *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return Dial(ctx, ns, network, addr)
		},
		MaxIdleConnsPerHost: 4,
	}}
}
