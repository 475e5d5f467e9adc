package events_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Environment of the client process of BenchmarkEventPlane.
const (
	benchClientsEnv = "EVENTS_BENCH_CLIENT_URL"
	benchCountEnv   = "EVENTS_BENCH_CLIENTS"
)

// benchClients is the number of SSE clients of BenchmarkEventPlane.
const benchClients = 2000

// TestBenchClientProcess is not a test: it is the client side of
// BenchmarkEventPlane, run in its own process so that the benchmark's
// memory figures hold the server's side only. It opens the streams over
// raw HTTP/1.1, prints READY when every stream has sent its first comment,
// then one line "D <node> <id> <unix-nanos>" per received event.
func TestBenchClientProcess(t *testing.T) {
	base := os.Getenv(benchClientsEnv)
	if base == "" {
		t.Skip("client side of BenchmarkEventPlane")
	}
	n, _ := strconv.Atoi(os.Getenv(benchCountEnv))
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var ready sync.WaitGroup
	ready.Add(n)
	for i := range n {
		node := fmt.Sprintf("n%05d", i)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /v1/nodes/%s/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer node:%s\r\n"+
			"Accept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: plexd/bench\r\n\r\n", node, u.Host, node)
		go func() {
			r := bufio.NewReaderSize(conn, 4096)
			first := true
			id := ""
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				s := string(line)
				switch {
				case first && strings.HasPrefix(s, ":"):
					first = false
					ready.Done()
				case strings.HasPrefix(s, "id: "):
					id = strings.TrimSpace(s[4:])
				case strings.HasPrefix(s, "data: "):
					at := time.Now().UnixNano()
					mu.Lock()
					fmt.Fprintf(out, "D %s %s %d\n", node, id, at)
					out.Flush()
					mu.Unlock()
				}
			}
		}()
	}
	ready.Wait()
	mu.Lock()
	fmt.Fprintln(out, "READY")
	out.Flush()
	mu.Unlock()
	select {} // the parent kills this process
}

// BenchmarkEventPlane measures, with benchClients SSE clients connected to
// one event plane on SQLite over loopback (clients in a child process):
// the latency from the commit of one event addressed to every node until
// its delivery at each client (p50, p99, max = last delivery), the server
// memory per connected stream, and emission signing throughput against raw
// ed25519.Sign in the same run. Run with -benchtime=1x; each b.N adds one
// event round (at least 5). EVENTS_BENCH_BACKEND=postgres runs it on the
// PostgreSQL named by PLEXSPHERE_TEST_POSTGRES_URL.
func BenchmarkEventPlane(b *testing.B) {
	if testing.Short() {
		b.Skip("2,000 clients")
	}
	backend := sqliteDB
	if os.Getenv("EVENTS_BENCH_BACKEND") == string(postgresDB) {
		backend = postgresDB
	}
	p := startPlane(b, newDatabase(b, backend), nil, nil)
	nodes := make([]string, benchClients)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%05d", i)
	}
	// Warm the log so every node has a head row.
	p.emit(b, nodeproto.EventPolicyUpdated, nil, nodes...)

	before := memNow()
	goBefore := runtime.NumGoroutine()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClientProcess$", "-test.v")
	cmd.Env = append(os.Environ(), benchClientsEnv+"="+p.hs.URL, benchCountEnv+"="+strconv.Itoa(benchClients))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string, 4*benchClients)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine(b, lines, "READY")
	if got := p.svc.Streams(); got != benchClients {
		b.Fatalf("%d streams open, want %d", got, benchClients)
	}
	after := memNow()
	perNode := float64(after-before) / benchClients
	goPerNode := float64(runtime.NumGoroutine()-goBefore) / benchClients

	rounds := max(b.N, 5)
	var lat []time.Duration
	var last []time.Duration
	b.ResetTimer()
	for r := range rounds {
		seq := strconv.Itoa(r + 2)
		p.emit(b, nodeproto.EventPeerRemoved, nodeproto.PeerRemoved{PeerID: "bench"}, nodes...)
		committed := time.Now()
		var worst time.Duration
		for got := 0; got < benchClients; {
			line := nextLine(b, lines)
			f := strings.Fields(line)
			if len(f) != 4 || f[0] != "D" {
				continue
			}
			if f[2] != seq {
				b.Fatalf("round %d: got id %s at %s", r, f[2], f[1])
			}
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			d := time.Unix(0, ns).Sub(committed)
			lat = append(lat, d)
			worst = max(worst, d)
			got++
		}
		last = append(last, worst)
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	slices.Sort(last)

	raw, signed := signingRates(b, p)
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(last[len(last)-1].Microseconds())/1000, "last-delivery-max-ms")
	b.ReportMetric(perNode, "server-bytes/node")
	b.ReportMetric(goPerNode, "goroutines/node")
	b.ReportMetric(raw, "raw-sign/s/core")
	b.ReportMetric(signed, "events-signed/s/core")
	b.ReportMetric(100*signed/raw, "signed/raw-%")
	b.Logf("backend %s", backend)
	b.Logf("clients %d, rounds %d, deliveries %d: p50 %s p99 %s max %s; last delivery per round %v",
		benchClients, rounds, len(lat), pct(0.5), pct(0.99), lat[len(lat)-1], last)
	b.Logf("server memory %.0f B/node (heap+stacks, after GC), %.2f goroutines/node", perNode, goPerNode)
	b.Logf("signing on one goroutine: raw ed25519.Sign %.0f/s, emitted envelopes %.0f/s (%.1f%%)", raw, signed, 100*signed/raw)
}

// signingRates runs raw ed25519.Sign and the stream's emission path (key
// lookup, fresh nonce and issued_at, canonical bytes, signature, framing)
// on one goroutine in alternating batches of 200, 100 batches each, and
// returns the median batch rate of each per second. Alternating small
// batches and taking medians keeps load from other processes on a shared
// machine from favouring either side.
func signingRates(b *testing.B, p *plane) (raw, signed float64) {
	payload := []byte(`{"peer_id":"0192f0c4-7a1e-7cc3-9a51-5e2f7d1c2b3a"}`)
	msg := []byte(`{"event_type":"peer_removed","event_id":"0192f0c4-7a1e-7cc3-9a51-5e2f7d1c2b3a","issued_at":"2026-03-01T12:00:00.12Z","nonce":"q3Zx0mY1s9Tn8VwBq3Zx0m","payload":{"peer_id":"0192f0c4-7a1e-7cc3-9a51-5e2f7d1c2b3a"}}`)
	ctx := context.Background()
	const batch, batches = 200, 100
	var rawRates, sigRates []float64
	for range batches {
		start := time.Now()
		for range batch {
			ed25519.Sign(testKey, msg)
		}
		rawRates = append(rawRates, batch/time.Since(start).Seconds())
		start = time.Now()
		for i := range batch {
			if err := p.svc.EmitRecordForBench(ctx, io.Discard, int64(i+1), "peer_removed", "0192f0c4-7a1e-7cc3-9a51-5e2f7d1c2b3a", payload); err != nil {
				b.Fatal(err)
			}
		}
		sigRates = append(sigRates, batch/time.Since(start).Seconds())
	}
	slices.Sort(rawRates)
	slices.Sort(sigRates)
	return rawRates[batches/2], sigRates[batches/2]
}

func memNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func nextLine(b *testing.B, lines <-chan string) string {
	select {
	case l, ok := <-lines:
		if !ok {
			b.Fatal("client process ended")
		}
		return l
	case <-time.After(30 * time.Second):
		b.Fatal("no client output within 30s")
	}
	return ""
}

func waitLine(b *testing.B, lines <-chan string, want string) {
	for {
		if nextLine(b, lines) == want {
			return
		}
	}
}
