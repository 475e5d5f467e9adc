package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/netnstest"
)

// The mesh data-plane benchmarks (docs/benchmarks.md, "Mesh data plane").
// They need root like TestMeshInNamespaces and are run by hand:
//
//	go test ./e2e -run '^$' -bench BenchmarkMesh -benchtime 5x

// BenchmarkMeshEnrolToFirstPing measures, on the namespace lab, the time
// from starting `plexd up` with a bootstrap token on a fresh host to the
// first echo reply from a running peer through the tunnel. Each iteration
// adds one new host. The ping is retried every 100 ms (one ping -W 0.1
// per try), which bounds the resolution.
func BenchmarkMeshEnrolToFirstPing(b *testing.B) {
	m := newMeshLab(b, []hostSpec{{name: "pub1", addr: "198.18.0.11"}})
	tok := m.issueToken(b, "node", 1000)
	m.start(b, m.nodes["pub1"], tok)
	m.waitJoined(b, m.nodes["pub1"], 30*time.Second)
	target := m.nodes["pub1"].meshIP
	seq := 0
	b.Run("join-to-ping", func(b *testing.B) {
		var total, worst time.Duration
		b.StopTimer()
		for range b.N {
			seq++
			if seq > 200 {
				b.Fatal("more than 200 hosts on one lab")
			}
			name := fmt.Sprintf("e%d", seq)
			n := &meshNode{spec: hostSpec{name: name, addr: fmt.Sprintf("198.18.0.%d", 40+seq)},
				dataDir: m.lab.TempDir() + "/data", sock: fmt.Sprintf("%s/%s.sock", m.lab.TempDir(), name)}
			n.ns = m.lab.Host(name)
			m.seg.Attach(n.ns, "eth0", n.spec.addr+"/24")
			m.nodes[name] = n
			b.StartTimer()
			t0 := time.Now()
			m.start(b, n, tok)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := m.lab.Exec(ctx, n.ns, "ping", "-n", "-q", "-c", "1", "-W", "0.1", target)
				cancel()
				if err == nil {
					break
				}
				if time.Since(t0) > 30*time.Second {
					b.Fatalf("no ping from %s within 30 s:\n%s", name, n.out)
				}
			}
			d := time.Since(t0)
			b.StopTimer()
			total += d
			worst = max(worst, d)
			m.stop(n)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-ping")
		b.ReportMetric(float64(worst.Milliseconds()), "ms-worst")
	})
}

// BenchmarkMeshTCPThroughput sends a bulk TCP stream between two hosts of
// the lab, once over the raw veth path (host → bridge → host) and once
// over their mesh IPs through both plexd's wireguard-go (userspace TUN),
// in the same run, and reports both rates and their ratio. Sender and
// receiver are this test process, with sockets opened inside the two
// namespaces.
func BenchmarkMeshTCPThroughput(b *testing.B) {
	m := newMeshLab(b, []hostSpec{{name: "pub1", addr: "198.18.0.11"}, {name: "pub2", addr: "198.18.0.12"}})
	tok := m.issueToken(b, "node", 2)
	for _, name := range m.order {
		m.start(b, m.nodes[name], tok)
	}
	for _, name := range m.order {
		m.waitJoined(b, m.nodes[name], 30*time.Second)
	}
	src, dst := m.nodes["pub1"], m.nodes["pub2"]
	if !m.waitPing(src, dst.meshIP, time.Now().Add(30*time.Second)) {
		b.Fatalf("no ping over the mesh")
	}
	ln, err := netnstest.Listen(dst.ns, "tcp4", ":5201")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	const size = 64 << 20
	send := func(b *testing.B, addr string) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := netnstest.Dial(ctx, src.ns, "tcp4", addr)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 128<<10)
		t0 := time.Now()
		for sent := 0; sent < size; sent += len(buf) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		// Half-close and wait for the receiver's close: every byte is in.
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		io.Copy(io.Discard, c)
		d := time.Since(t0)
		c.Close()
		return d
	}
	b.Run("veth-vs-wireguard", func(b *testing.B) {
		b.SetBytes(2 * size)
		var veth, wg time.Duration
		for range b.N {
			veth += send(b, dst.spec.addr+":5201")
			wg += send(b, dst.meshIP+":5201")
		}
		mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
		b.ReportMetric(mbps(veth), "veth-MB/s")
		b.ReportMetric(mbps(wg), "wg-MB/s")
		b.ReportMetric(mbps(wg)/mbps(veth), "wg/veth")
	})
}
