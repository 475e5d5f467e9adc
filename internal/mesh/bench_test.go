package mesh

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// benchSizes are the Domain sizes of the peer-delta benchmarks.
var benchSizes = []int{1_000, 10_000, 50_000}

// populate adds n live level-2 nodes to domain (pool 10.0.0.0/8) in
// multi-row INSERTs, ids nodeID(1..n), addresses 10.0.0.1 upwards.
func populate(tb testing.TB, f *fixture, domain string, n int) {
	tb.Helper()
	ctx := context.Background()
	ula := ULAFor(domain)
	for start := 1; start <= n; start += 500 {
		end := min(start+500, n+1)
		var b strings.Builder
		b.WriteString(`INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, public_key,
			mesh_ip, mesh_ipv6, nsk_digest, nsk_sealed, registered_level, created_at, updated_at) VALUES `)
		var args []any
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			k := len(args)
			fmt.Fprintf(&b, "($%d,$%d,'p','r','t','node',$%d,$%d,$%d,$%d,'s',2,0,0)", k+1, k+2, k+3, k+4, k+5, k+6)
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			args = append(args, nodeID(i), domain, wgKey(), a.String(), IPv6For(ula, a).String(), "digest-"+nodeID(i))
		}
		if _, err := f.db.ExecContext(ctx, b.String(), args...); err != nil {
			tb.Fatal(err)
		}
	}
}

// cpuTime is the CPU time (user + system) this process has used so far:
// on a machine shared with other work, wall time per operation includes
// waiting for a core, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerPeer adds ns/peer (wall) and cpu-ns/peer and cpu-ms/op (this
// process's CPU time, all goroutines and the GC included) to b.
func reportPerPeer(b *testing.B, cpu time.Duration, peers int) {
	ops := float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops/float64(peers), "ns/peer")
	b.ReportMetric(float64(cpu.Nanoseconds())/ops/float64(peers), "cpu-ns/peer")
	b.ReportMetric(float64(cpu.Nanoseconds())/ops/1e6, "cpu-ms/op")
}

// BenchmarkPeerDelta measures what one node's change costs the mesh
// context in a Domain of N nodes where every node sees every other: for
// the changed node S, the delta is "every peer V gains (or updates) S, as
// V sees it": S's peers read through the live-node index, and S's record
// rendered for each of them (PSK derivation, path merge, validation), in
// one transaction. That is all of Announce except appending to the logs
// (the event plane's part, measured with the fan-out benchmark). No other
// node's peer set is read or rebuilt. ns/op is per change; ns/peer per
// affected peer. PostgreSQL runs too when storetest.PostgresEnv is set
// (its server's CPU time is not in cpu-*).
func BenchmarkPeerDelta(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/N=%d", backend, n), func(b *testing.B) {
				f := newFixture(b, backend, nil)
				f.addDomain(b, "d1", "10.0.0.0/8")
				populate(b, f, "d1", n)
				subject := nodeID(n / 2)
				ctx := context.Background()
				cpu := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
						views, err := f.svc.views(ctx, tx, subject)
						if err == nil && len(views) != n-1 {
							err = fmt.Errorf("%d views", len(views))
						}
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
				reportPerPeer(b, cpuTime()-cpu, n-1)
			})
		}
	}
}

// BenchmarkPeerDeltaPair is the delta one viewer receives when one node
// changes: the changed node's record as that peer sees it (Render: two
// indexed node reads, the Domain's secret, one PSK, validation) in one
// transaction. Its cost must not depend on N.
func BenchmarkPeerDeltaPair(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sqlite/N=%d", n), func(b *testing.B) {
			f := newFixture(b, storetest.SQLite, nil)
			f.addDomain(b, "d1", "10.0.0.0/8")
			populate(b, f, "d1", n)
			viewer, subject := nodeID(1), nodeID(n/2)
			ctx := context.Background()
			cpu := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
					p, err := f.svc.Render(ctx, tx, viewer, subject)
					if err == nil && p.ID != subject {
						err = fmt.Errorf("rendered %s", p.ID)
					}
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			reportPerPeer(b, cpuTime()-cpu, 1)
		})
	}
}

// benchMembers is a Domain of n level-2 members in memory.
func benchMembers(d domainSecret, n int) []member {
	members := make([]member, n)
	a := netip.MustParseAddr("10.0.0.0")
	for i := range members {
		a = a.Next()
		members[i] = member{id: nodeID(i), domainID: "d1", publicKey: wgKey(), meshIP: a.String(),
			meshIPv6: IPv6For(d.ipv6, a).String(), level: nodeproto.Level2}
	}
	return members
}

// BenchmarkPeerDeltaCompute is BenchmarkPeerDelta without the database:
// the viewers already in memory, only the per-peer rendering and checks
// (renderViews, as Announce runs it). "before" is the rendering as it was
// before the per-subject preparation (every record parsing the subject's
// IPv6 address, hashing through fresh buffers and fully validated), kept
// here so both run under the same load.
func BenchmarkPeerDeltaCompute(b *testing.B) {
	for _, variant := range []string{"before", "after"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/N=%d", variant, n), func(b *testing.B) {
				d := domainSecret{ipv6: ULAFor("d1"), secret: make([]byte, 32)}
				members := benchMembers(d, n)
				subject := members[n/2]
				viewers := append(append([]member(nil), members[:n/2]...), members[n/2+1:]...)
				cpu := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					var out map[string]any
					var err error
					if variant == "before" {
						out, err = renderViewsBefore(d, subject, viewers)
					} else {
						out, err = renderViews(d, subject, viewers, nil)
					}
					if err != nil || len(out) != n-1 {
						b.Fatalf("%d views: %v", len(out), err)
					}
				}
				reportPerPeer(b, cpuTime()-cpu, n-1)
			})
		}
	}
}

// renderViewsBefore is renderViews as it was before per-subject
// preparation (commit 100750e): the baseline of BenchmarkPeerDeltaCompute.
func renderViewsBefore(d domainSecret, sub member, viewers []member) (map[string]any, error) {
	mac := hmac.New(sha256.New, d.secret)
	out := make(map[string]any, len(viewers))
	for _, v := range viewers {
		peer := nodeproto.Peer{ID: sub.id, NodeID: sub.id, PublicKey: sub.publicKey, MeshIP: sub.meshIP,
			AllowedIPs: []string{sub.meshIP + "/32"}, PSK: pskBefore(mac, v, sub)}
		if a, err := netip.ParseAddr(sub.meshIPv6); err == nil && a.Is6() {
			peer.MeshIPv6 = a.String()
			peer.AllowedIPs = append(peer.AllowedIPs, a.String()+"/128")
		}
		if err := peer.Validate(); err != nil {
			return nil, err
		}
		out[v.id] = peer
	}
	return out, nil
}

// pskBefore is pairMAC.psk as it was before (the same bytes hashed, with
// a fresh sum and a slice per pair).
func pskBefore(mac hash.Hash, a, b member) string {
	if b.id < a.id {
		a, b = b, a
	}
	mac.Reset()
	mac.Write([]byte(pskLabel))
	var buf [8]byte
	for _, m := range []member{a, b} {
		binary.BigEndian.PutUint64(buf[:], uint64(len(m.id)))
		mac.Write(buf[:])
		mac.Write([]byte(m.id))
		binary.BigEndian.PutUint64(buf[:], uint64(m.epoch))
		mac.Write(buf[:])
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
