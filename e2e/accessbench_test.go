package e2e

import (
	"bufio"
	"context"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkAccessSSHSetup is the time from starting `plexctl ssh NODE --
// echo x` (session issuance, the WebSocket attach through the control
// plane, the gateway's WireGuard path to the node, the SSH handshake and
// authentication with the session's key) to the first byte of the
// command's output, in the namespace lab (docs/benchmarks.md).
func BenchmarkAccessSSHSetup(b *testing.B) {
	a := newAccessLab(b)
	// Warm the gateway and the node's handshake with one session.
	if out, errOut, err := a.op(b, 60*time.Second, "plexctl", "ssh", "--project", a.projectID, "root@web", "--", "true"); err != nil {
		b.Fatalf("warm-up: %v %s %s", err, out, errOut)
	}
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := a.command(ctx, a.opNS, "plexctl", "ssh", "--project", a.projectID, "root@web", "--", "echo", "first-byte")
		stdout, _ := cmd.StdoutPipe()
		var errOut syncBuffer
		cmd.Stderr = &errOut
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := io.ReadFull(stdout, one); err != nil {
			b.Fatalf("no output: %v %s", err, errOut.String())
		}
		took = append(took, time.Since(t0))
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		cancel()
	}
	b.StopTimer()
	reportQuantiles(b, took)
}

// BenchmarkAccessTCPThroughput downloads 64 MiB from the web node through
// a plexctl tcp forward (operator → control plane over TLS WebSocket →
// session gateway → WireGuard → node) and, in the same run, directly over
// the mesh from another node; it reports both rates and their ratio.
func BenchmarkAccessTCPThroughput(b *testing.B) {
	a := newAccessLab(b, hostSpec{name: "peer", addr: "198.18.0.12"})
	peer := a.nodes["peer"]
	if !a.waitPing(peer, a.web.meshIP, time.Now().Add(30*time.Second)) {
		b.Fatal("peer does not reach web over the mesh")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fwd := a.command(ctx, a.opNS, "plexctl", "tcp", "web:8088", "--local", "127.0.0.1:18089")
	stdout, _ := fwd.StdoutPipe()
	if err := fwd.Start(); err != nil {
		b.Fatal(err)
	}
	defer fwd.Wait()
	defer cancel()
	if !bufio.NewScanner(stdout).Scan() {
		b.Fatal("plexctl tcp never became ready")
	}
	curl := func(ns, url string) float64 {
		b.Helper()
		out, err := a.lab.Exec(context.Background(), ns, "curl", "-sS", "-o", "/dev/null", "--max-time", "120", "-w", "%{size_download} %{time_total}", url)
		f := strings.Fields(out)
		if err != nil || len(f) != 2 {
			b.Fatalf("curl %s: %v %s", url, err, out)
		}
		size, _ := strconv.ParseFloat(f[0], 64)
		secs, _ := strconv.ParseFloat(f[1], 64)
		if size != blobSize || secs <= 0 {
			b.Fatalf("curl %s: %s", url, out)
		}
		return size / secs / (1 << 20)
	}
	var gw, direct []float64
	b.ResetTimer()
	for range b.N {
		gw = append(gw, curl(a.opNS, "http://127.0.0.1:18089/blob"))
		direct = append(direct, curl(peer.ns, "http://"+a.web.meshIP+":8089/blob"))
	}
	b.StopTimer()
	g, d := median(gw), median(direct)
	b.ReportMetric(g, "MiB/s-gateway")
	b.ReportMetric(d, "MiB/s-direct")
	b.ReportMetric(g/d, "ratio")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// reportQuantiles reports p50 and p99 (ms) of took.
func reportQuantiles(b *testing.B, took []time.Duration) {
	s := append([]time.Duration(nil), took...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) float64 {
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
