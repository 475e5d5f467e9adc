package natpath

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/stun"
)

func TestClassify(t *testing.T) {
	local := []netip.Addr{netip.MustParseAddr("192.0.2.10")}
	ap := netip.MustParseAddrPort
	cases := []struct {
		name   string
		mapped []netip.AddrPort
		want   string
	}{
		{"no answer", nil, nodeproto.NATUnknown},
		{"local address and port", []netip.AddrPort{ap("192.0.2.10:51820"), ap("192.0.2.10:51820")}, nodeproto.NATNone},
		{"local address, one server", []netip.AddrPort{ap("192.0.2.10:51820")}, nodeproto.NATNone},
		{"local address, other port", []netip.AddrPort{ap("192.0.2.10:40000"), ap("192.0.2.10:40000")}, nodeproto.NATFullCone},
		{"same mapping twice", []netip.AddrPort{ap("198.51.100.1:51820"), ap("198.51.100.1:51820")}, nodeproto.NATFullCone},
		{"one foreign mapping", []netip.AddrPort{ap("198.51.100.1:51820")}, nodeproto.NATUnknown},
		{"ports differ", []netip.AddrPort{ap("198.51.100.1:1000"), ap("198.51.100.1:1001")}, nodeproto.NATSymmetric},
		{"addresses differ", []netip.AddrPort{ap("198.51.100.1:1000"), ap("198.51.100.2:1000")}, nodeproto.NATSymmetric},
	}
	for _, c := range cases {
		if got := Classify(local, 51820, c.mapped); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// fakeNAT is a Socket behind a simulated NAT: a Binding request sent to
// a server is answered (through the real STUN encoder) with the mapping
// the test chose for that server, or not at all.
type fakeNAT struct {
	mu      sync.Mutex
	port    uint16
	mapping map[netip.AddrPort]netip.AddrPort // server → mapped address
	onSTUN  func([]byte, netip.AddrPort)
	sent    int
}

func (f *fakeNAT) SendRaw(pkt []byte, to netip.AddrPort) error {
	f.mu.Lock()
	f.sent++
	m, ok := f.mapping[to]
	fn := f.onSTUN
	f.mu.Unlock()
	if f.port == 0 {
		return errors.New("closed")
	}
	if !stun.IsSTUN(pkt) {
		return errors.New("not STUN")
	}
	if ok && fn != nil {
		resp, ok := stun.Respond(pkt, m)
		if !ok {
			return errors.New("not a Binding request")
		}
		go fn(resp, to)
	}
	return nil
}

func (f *fakeNAT) OnSTUN(fn func([]byte, netip.AddrPort)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onSTUN = fn
}

func (f *fakeNAT) LocalPort() uint16 { return f.port }

func (f *fakeNAT) sentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

func (f *fakeNAT) set(server, mapped string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mapping[netip.MustParseAddrPort(server)] = netip.MustParseAddrPort(mapped)
}

// reports records endpoint reports and answers with peer endpoints.
type reports struct {
	mu   sync.Mutex
	got  []nodeproto.EndpointReport
	fail bool
}

func (r *reports) ReportEndpoint(_ context.Context, rep nodeproto.EndpointReport) (*cpclient.EndpointAnswer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return nil, errors.New("control plane down")
	}
	if err := rep.Validate(); err != nil {
		return nil, err
	}
	r.got = append(r.got, rep)
	now := time.Now()
	return &cpclient.EndpointAnswer{PeerEndpoints: []nodeproto.PeerEndpoint{{PeerID: "peer-1", Endpoint: "203.0.113.9:51820"}},
		AcceptedAt: now, StaleAfter: now.Add(time.Minute)}, nil
}

func (r *reports) all() []nodeproto.EndpointReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

var (
	server1 = "198.18.0.2:3478"
	server2 = "198.18.0.2:3479"
)

func newTestDiscoverer(t *testing.T, sock *fakeNAT, rep *reports, applied chan []nodeproto.PeerEndpoint) *Discoverer {
	t.Helper()
	d, err := New(Options{
		Socket: sock, Reporter: rep,
		Servers: func() ([]string, bool) { return []string{server1, server2}, true },
		Exclude: func() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")} },
		Addrs: func() ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.77.0.3"), netip.MustParseAddr("192.168.1.5"), netip.MustParseAddr("127.0.0.1"),
				netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("192.168.1.5")}, nil
		},
		Apply: func(_ context.Context, p []nodeproto.PeerEndpoint) {
			select {
			case applied <- p:
			default:
			}
		},
		Interval: 20 * time.Millisecond, Refresh: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func waitReports(t *testing.T, rep *reports, n int) []nodeproto.EndpointReport {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := rep.all(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports, want %d: %+v", len(rep.all()), n, rep.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunReportsConeThenSymmetric: a cone mapping (both servers agree) is
// reported with the local candidates (mesh, loopback and link-local
// addresses left out); the answer's peer endpoints are applied; the same
// result is not reported again; a NAT that turns symmetric is reported at
// once.
func TestRunReportsConeThenSymmetric(t *testing.T) {
	sock := &fakeNAT{port: 51820, mapping: map[netip.AddrPort]netip.AddrPort{}}
	sock.set(server1, "198.51.100.7:51820")
	sock.set(server2, "198.51.100.7:51820")
	rep := &reports{}
	applied := make(chan []nodeproto.PeerEndpoint, 1)
	d := newTestDiscoverer(t, sock, rep, applied)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	first := waitReports(t, rep, 1)[0]
	if first.PublicEndpoint != "198.51.100.7:51820" || first.Endpoint != first.PublicEndpoint || first.NATType != nodeproto.NATFullCone {
		t.Errorf("first report %+v", first)
	}
	if want := []string{"192.168.1.5:51820", "[2001:db8::5]:51820"}; !slices.Equal(first.Candidates, want) {
		t.Errorf("candidates %v, want %v", first.Candidates, want)
	}
	if first.ReportedAt.IsZero() {
		t.Error("reported_at not set")
	}
	select {
	case p := <-applied:
		if len(p) != 1 || p[0].PeerID != "peer-1" {
			t.Errorf("applied %+v", p)
		}
	case <-time.After(2 * time.Second):
		t.Error("peer endpoints of the answer not applied")
	}
	time.Sleep(150 * time.Millisecond) // several intervals: nothing changed
	if n := len(rep.all()); n != 1 {
		t.Errorf("%d reports of an unchanged endpoint, want 1", n)
	}
	if d.Last().NATType != nodeproto.NATFullCone {
		t.Errorf("Last %+v", d.Last())
	}

	sock.set(server2, "198.51.100.7:40001") // the NAT now maps per destination
	got := waitReports(t, rep, 2)[1]
	if got.NATType != nodeproto.NATSymmetric || got.PublicEndpoint != "198.51.100.7:51820" {
		t.Errorf("after the change: %+v", got)
	}
}

// TestDiscoverWithoutAnswers: no STUN answer and no socket port fall back
// to the best local address with nat_type unknown; a mapping equal to a
// local address and the port is none.
func TestDiscoverWithoutAnswers(t *testing.T) {
	sock := &fakeNAT{port: 51820, mapping: map[netip.AddrPort]netip.AddrPort{}}
	d := newTestDiscoverer(t, sock, &reports{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.opts.Socket.OnSTUN(d.onSTUN)
	start := time.Now()
	r := d.Discover(ctx, []string{server1, server2}, 51820)
	if r.Public.String() != "192.168.1.5:51820" || r.NATType != nodeproto.NATUnknown || len(r.Mapped) != 0 {
		t.Errorf("no answers: %+v", r)
	}
	if !slices.Equal(r.Candidates, []string{"[2001:db8::5]:51820"}) {
		t.Errorf("candidates %v", r.Candidates)
	}
	if el := time.Since(start); el > 3*queryTries*queryTimeout {
		t.Errorf("discovery without answers took %v", el)
	}
	if n := sock.sentCount(); n != 2*queryTries {
		t.Errorf("%d requests sent, want %d (retransmits to each server)", n, 2*queryTries)
	}

	sock.set(server1, "192.168.1.5:51820")
	sock.set(server2, "192.168.1.5:51820")
	if r := d.Discover(ctx, []string{server1, server2}, 51820); r.NATType != nodeproto.NATNone || r.Public.String() != "192.168.1.5:51820" {
		t.Errorf("public address: %+v", r)
	}
}

// TestRunRetriesAfterFailure: a failed report is retried, and a
// discoverer without a state does not report before the servers are
// known.
func TestRunRetriesAfterFailure(t *testing.T) {
	sock := &fakeNAT{port: 51820, mapping: map[netip.AddrPort]netip.AddrPort{}}
	sock.set(server1, "198.51.100.7:51820")
	sock.set(server2, "198.51.100.7:51820")
	rep := &reports{fail: true}
	d := newTestDiscoverer(t, sock, rep, nil)
	var mu sync.Mutex
	known := false
	d.opts.Servers = func() ([]string, bool) {
		mu.Lock()
		defer mu.Unlock()
		return []string{server1, server2}, known
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)
	if n := sock.sentCount(); n != 0 {
		t.Errorf("%d STUN requests before the state was applied", n)
	}
	mu.Lock()
	known = true
	mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	rep.mu.Lock()
	rep.fail = false
	rep.mu.Unlock()
	if got := waitReports(t, rep, 1)[0]; got.NATType != nodeproto.NATFullCone {
		t.Errorf("report after the retry: %+v", got)
	}
}

func TestNewNeedsReporter(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a Reporter succeeded")
	}
}
