package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/netnstest"
)

// The mesh lab's addresses. 198.18.0.0/15 (RFC 2544, benchmarking) is not
// used on any real network; here it exists only inside the lab's
// namespaces, which have no link to anything else.
const (
	labSegment = "198.18.0.0/24" // the "internet"
	labCP      = "198.18.0.2"
	labCPPort  = "8080"
	labMesh    = "10.77.0.0/24" // the Domain's mesh CIDR
	relayPort  = 51900          // each bridge's relay (UDP)
)

var (
	plexdOnce sync.Once
	plexdErr  error
)

// plexdBinary builds plexd next to the binaries TestMain built.
func plexdBinary(t testing.TB) string {
	t.Helper()
	plexdOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "plexd"), "../cmd/plexd").CombinedOutput()
		if err != nil {
			plexdErr = fmt.Errorf("build plexd: %v\n%s", err, out)
		}
	})
	if plexdErr != nil {
		t.Fatal(plexdErr)
	}
	return filepath.Join(binDir, "plexd")
}

// hostSpec places one plexd host in the lab.
type hostSpec struct {
	name string
	// addr is the host's address on the segment, or behind its router.
	addr string
	// nat is "", "cone" or "symmetric": the host sits behind its own
	// router (router wan address natWAN) on a private /24 whose .1 is the
	// router.
	nat    string
	natWAN string
	bridge bool
	// args are extra `plexd up` arguments.
	args []string
}

// meshNode is one plexd host.
type meshNode struct {
	spec          hostSpec
	ns            string
	dataDir, sock string
	tokenFile     string
	proc          *netnstest.Proc
	out           *netnstest.Output
	// id and meshIP are known once the node has joined.
	id, meshIP string
}

// meshLab is the control plane and the plexd hosts of one test.
type meshLab struct {
	lab       *netnstest.Lab
	seg       *netnstest.Segment
	cpNS      string
	url       string
	admin     string
	api       *http.Client
	cpOut     *netnstest.Output
	domainID  string
	projectID string
	nodes     map[string]*meshNode
	order     []string
	// ca is the control plane's TLS authority when the lab serves HTTPS
	// (newTLSMeshLab); plexd trusts it through SSL_CERT_FILE.
	ca *labCA
}

// newMeshLab builds the segment, starts plexsphere (SQLite, plain HTTP)
// in its own namespace and creates a Domain and a Project. Hosts are
// placed but their plexd is not started.
func newMeshLab(t testing.TB, hosts []hostSpec) *meshLab {
	t.Helper()
	return buildMeshLab(t, hosts, false)
}

// newTLSMeshLab is newMeshLab with the control plane on HTTPS under a
// lab CA (what kubectl needs to send a bearer token).
func newTLSMeshLab(t testing.TB, hosts []hostSpec) *meshLab {
	t.Helper()
	return buildMeshLab(t, hosts, true)
}

func buildMeshLab(t testing.TB, hosts []hostSpec, withTLS bool) *meshLab {
	t.Helper()
	netnstest.Require(t)
	plexdBinary(t)
	l := netnstest.New(t)
	m := &meshLab{lab: l, nodes: map[string]*meshNode{}}
	if withTLS {
		ca := newLabCA(t, l.TempDir(), labCP)
		m.ca = &ca
	}
	m.seg = l.Switch("net")
	m.cpNS = l.Host("cp")
	m.seg.Attach(m.cpNS, "eth0", labCP+"/24")
	sockRoot := l.TempDir()
	for _, h := range hosts {
		n := &meshNode{spec: h, dataDir: filepath.Join(l.TempDir(), "data"), sock: filepath.Join(sockRoot, h.name+".sock")}
		n.ns = l.Host(h.name)
		switch h.nat {
		case "":
			m.seg.Attach(n.ns, "eth0", h.addr+"/24")
		default:
			rtr := l.Host(h.name + "r")
			m.seg.Attach(rtr, "wan", h.natWAN+"/24")
			lan := h.addr[:strings.LastIndex(h.addr, ".")]
			l.Link(rtr, "lan", lan+".1/24", n.ns, "eth0", h.addr+"/24")
			l.Route(n.ns, "default", lan+".1")
			l.NAT(rtr, "wan", h.nat == "symmetric")
		}
		m.nodes[h.name] = n
		m.order = append(m.order, h.name)
	}
	m.startCP(t)
	var dom struct{ ID string }
	if st, raw := m.do(t, "POST", "/v1/domains", map[string]any{"name": "lab", "slug": "lab", "mesh_cidr": labMesh}, &dom); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	// A full mesh without policies: the allow-all bootstrap mode (new Domains deny).
	if st, raw := m.do(t, "PUT", "/v1/domains/"+dom.ID+"/policy-default", map[string]any{"policy_default": "allow"}, nil); st != 200 {
		t.Fatalf("policy default: %d %s", st, raw)
	}
	var proj struct{ ID string }
	if st, raw := m.do(t, "POST", "/v1/projects", map[string]any{"domain_id": dom.ID, "name": "lab", "slug": "lab"}, &proj); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	m.domainID, m.projectID = dom.ID, proj.ID
	return m
}

// startCP runs plexsphere serve in the control plane's namespace and
// waits for /v1/health.
func (m *meshLab) startCP(t testing.TB) {
	t.Helper()
	dir := m.lab.TempDir()
	m.cpOut = &netnstest.Output{}
	m.url = "http://" + labCP + ":" + labCPPort
	args := []string{"serve", "--data-dir", dir, "--listen", labCP + ":" + labCPPort}
	m.api = netnstest.HTTPClient(m.cpNS)
	if m.ca != nil {
		m.url = "https://" + labCP + ":" + labCPPort
		args = append(args, "--tls-cert-file", m.ca.certFile, "--tls-key-file", m.ca.keyFile, "--public-url", m.url)
		m.api.Transport.(*http.Transport).TLSClientConfig = m.ca.tlsConfig()
	}
	m.lab.Start(m.cpNS, m.cpOut, filepath.Join(binDir, "plexsphere"), args...)
	cl := m.api
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := cl.Get(m.url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plexsphere never became healthy in its namespace: %v\n%s", err, m.cpOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	m.admin = strings.TrimSpace(string(tok))
}

// do sends an operator request to the control plane from inside the lab.
func (m *meshLab) do(t testing.TB, method, path string, body, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, m.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+m.admin)
	resp, err := m.api.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// issueToken issues a bootstrap token of kind node or bridge.
func (m *meshLab) issueToken(t testing.TB, kind string, uses int) string {
	t.Helper()
	var tok struct{ Token string }
	if st, raw := m.do(t, "POST", "/v1/projects/"+m.projectID+"/bootstrap-tokens",
		map[string]any{"kind": kind, "env_prefix": "lab", "max_uses": uses}, &tok); st != 201 {
		t.Fatalf("issue %s token: %d %s", kind, st, raw)
	}
	return tok.Token
}

// start runs `plexd up` in n's namespace with the userspace engine; the
// first start registers with token.
func (m *meshLab) start(t testing.TB, n *meshNode, token string) {
	t.Helper()
	if n.tokenFile == "" {
		n.tokenFile = filepath.Join(filepath.Dir(n.dataDir), "token")
		if err := os.WriteFile(n.tokenFile, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"up", "--server", m.url, "--data-dir", n.dataDir, "--socket", n.sock,
		"--token-file", n.tokenFile, "--hostname", n.spec.name, "--heartbeat-interval", "2s",
		"--wireguard-backend", "userspace"}
	if n.spec.bridge {
		args = append(args, "--mode", "bridge")
	}
	args = append(args, n.spec.args...)
	n.out = &netnstest.Output{}
	if m.ca != nil {
		n.proc = m.lab.Start(n.ns, n.out, "env", append([]string{"SSL_CERT_FILE=" + m.ca.caFile, plexdBinary(t)}, args...)...)
		return
	}
	n.proc = m.lab.Start(n.ns, n.out, plexdBinary(t), args...)
}

// stop stops n's plexd.
func (m *meshLab) stop(n *meshNode) {
	if n.proc != nil {
		n.proc.Stop(5 * time.Second)
		n.proc = nil
	}
}

// plexdStatus is what the tests read of `plexd status -o json`.
type plexdStatus struct {
	NodeID     string `json:"node_id"`
	MeshIP     string `json:"mesh_ip"`
	Backend    string `json:"backend"`
	Connection string `json:"connection"`
	Peers      []struct {
		ID            string `json:"id"`
		MeshIP        string `json:"mesh_ip"`
		Path          string `json:"path"`
		Endpoint      string `json:"endpoint"`
		LastHandshake string `json:"last_handshake"`
	} `json:"peers"`
}

// status runs `plexd status -o json` against n's socket.
func (m *meshLab) status(n *meshNode) (plexdStatus, error) {
	var st plexdStatus
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "plexd"), "status", "-o", "json", "--socket", n.sock).Output()
	if err != nil {
		return st, fmt.Errorf("plexd status: %v %s", err, out)
	}
	err = json.Unmarshal(out, &st)
	return st, err
}

// waitJoined waits until n's agent is connected and knows its identity.
func (m *meshLab) waitJoined(t testing.TB, n *meshNode, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := m.status(n)
		if err == nil && st.Connection == "connected" && st.NodeID != "" && st.MeshIP != "" {
			n.id, n.meshIP = st.NodeID, st.MeshIP
			if st.Backend != "userspace" {
				t.Errorf("%s: backend %q, want userspace", n.spec.name, st.Backend)
			}
			return
		}
		exited := false
		if n.proc != nil {
			select {
			case <-n.proc.Done():
				exited = true
			default:
			}
		}
		if exited || time.Now().After(deadline) {
			t.Fatalf("%s never connected (%v, %+v); plexd output:\n%s", n.spec.name, err, st, n.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ping sends one echo request from n's namespace to ip.
func (m *meshLab) ping(n *meshNode, ip string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := m.lab.Exec(ctx, n.ns, "ping", "-n", "-q", "-c", "1", "-W", "1", ip)
	return err == nil
}

// waitPing retries ping until it succeeds or deadline passes.
func (m *meshLab) waitPing(from *meshNode, ip string, deadline time.Time) bool {
	for {
		if m.ping(from, ip) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reachPeer is one peer of GET /v1/nodes/{id}/reachability. The peer id
// is read from whichever of peer_id / node_id / peer_node_id is set.
type reachPeer struct {
	PeerID      string `json:"peer_id"`
	NodeID      string `json:"node_id"`
	PeerNodeID  string `json:"peer_node_id"`
	Path        string `json:"path"`
	RelayNodeID string `json:"relay_node_id"`
}

func (p reachPeer) id() string {
	for _, s := range []string{p.PeerID, p.PeerNodeID, p.NodeID} {
		if s != "" {
			return s
		}
	}
	return ""
}

// reachability reads the control plane's per-peer paths of n. The
// operation is the node's own (the contract authenticates it with the
// node's NSK), so it is called with the NSK from n's identity file.
func (m *meshLab) reachability(t testing.TB, n *meshNode) (map[string]reachPeer, []byte) {
	t.Helper()
	var body struct {
		Peers []reachPeer `json:"peers"`
	}
	raw, err := os.ReadFile(filepath.Join(n.dataDir, "identity.json"))
	if err != nil {
		return nil, []byte(err.Error())
	}
	var id struct {
		NSK string `json:"node_secret_key"`
	}
	if err := json.Unmarshal(raw, &id); err != nil || id.NSK == "" {
		return nil, []byte("identity.json has no node_secret_key")
	}
	req, _ := http.NewRequest("GET", m.url+"/v1/nodes/"+n.id+"/reachability", nil)
	req.Header.Set("Authorization", "Bearer "+id.NSK)
	resp, err := m.api.Do(req)
	if err != nil {
		return nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	raw, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return nil, raw
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, raw
	}
	out := map[string]reachPeer{}
	for _, p := range body.Peers {
		out[p.id()] = p
	}
	return out, raw
}

// node reads GET /v1/nodes/{id}.
func (m *meshLab) node(t testing.TB, id string) (pub, resourceID string) {
	t.Helper()
	var nd struct {
		PublicKey  string `json:"public_key"`
		ResourceID string `json:"resource_id"`
	}
	if st, raw := m.do(t, "GET", "/v1/nodes/"+id, nil, &nd); st != 200 {
		t.Fatalf("get node %s: %d %s", id, st, raw)
	}
	return nd.PublicKey, nd.ResourceID
}

// setRelay configures a bridge node's relay.
func (m *meshLab) setRelay(t testing.TB, n *meshNode, enabled bool) {
	t.Helper()
	_, res := m.node(t, n.id)
	if st, raw := m.do(t, "PUT", "/v1/projects/"+m.projectID+"/resources/"+res+"/bridge/relay",
		map[string]any{"enabled": enabled, "listen_port": relayPort}, nil); st != 200 {
		t.Fatalf("relay of %s enabled=%v: %d %s", n.spec.name, enabled, st, raw)
	}
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// pingRun parses ping's summary line.
func pingRun(out string) (sent, received int, ok bool) {
	mm := pingSummary.FindStringSubmatch(out)
	if mm == nil {
		return 0, 0, false
	}
	sent, _ = strconv.Atoi(mm[1])
	received, _ = strconv.Atoi(mm[2])
	return sent, received, true
}

// dump logs every process's output, for a failing test.
func (m *meshLab) dump(t testing.TB) {
	t.Helper()
	t.Logf("plexsphere:\n%s", tail(m.cpOut.String(), 4000))
	for _, name := range m.order {
		if n := m.nodes[name]; n.out != nil {
			t.Logf("plexd %s (%s):\n%s", name, n.id, tail(n.out.String(), 4000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// wgDump summarises n's WireGuard device from its UAPI socket (under its
// data dir) for a failing test: each peer's key, a digest of its PSK (the
// PSK itself is never logged), endpoint, last handshake and counters.
func (m *meshLab) wgDump(n *meshNode) string {
	c, err := net.DialTimeout("unix", filepath.Join(n.dataDir, "wireguard", "plexd0.sock"), time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("get=1\n\n")); err != nil {
		return err.Error()
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "public_key":
			b.WriteString("\n  peer " + v[:8])
		case "preshared_key":
			sum := sha256.Sum256([]byte(v))
			b.WriteString(" psk#" + hex.EncodeToString(sum[:4]))
		case "endpoint", "last_handshake_time_sec", "rx_bytes", "tx_bytes":
			b.WriteString(" " + k + "=" + v)
		case "errno":
			return b.String()
		}
	}
	return b.String()
}
