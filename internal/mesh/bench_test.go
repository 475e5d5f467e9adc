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
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
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
// context in a Domain of N nodes where every node sees every other: node
// S's PSKs are rotated (its epoch bumped) and, in the same transaction,
// S's record is rendered for each of its N-1 peers as that peer sees it
// (PSK derivation, path merge, validation): all of RotatePSKs and
// Announce(peer_key_rotated) except appending to the logs (the event
// plane's part, measured with the fan-out benchmark). No other node's
// peer set is read or rebuilt. Variants, in the same run:
//
//   - before: the code before the member index: the epoch UPDATE, then
//     S's peers read from the database (viewersFromDB) and rendered on one
//     core (renderViewsSerial);
//   - after: RotatePSKs and views as they are, the index warm (patched by
//     the previous change);
//   - miss: the same with the index dropped before each change: the cost
//     of the first change after a restart, or after another replica (or
//     Service) changed the Domain.
//
// ns/op is per change; ns/peer per affected peer. PostgreSQL runs too
// when storetest.PostgresEnv is set (its server's CPU time is not in
// cpu-*).
func BenchmarkPeerDelta(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		for _, n := range benchSizes {
			f := newFixture(b, backend, nil)
			f.addDomain(b, "d1", "10.0.0.0/8")
			populate(b, f, "d1", n)
			subject := nodeID(n / 2)
			for _, variant := range []string{"before", "after", "miss"} {
				b.Run(fmt.Sprintf("%s/%s/N=%d", backend, variant, n), func(b *testing.B) {
					benchDelta(b, f, variant, subject, n)
				})
			}
		}
	}
}

// benchDelta runs one variant of BenchmarkPeerDelta.
func benchDelta(b *testing.B, f *fixture, variant, subject string, n int) {
	ctx := context.Background()
	change := func(tx *sql.Tx) (map[string]any, error) {
		if variant == "before" {
			return viewsBefore(ctx, f.svc, tx, subject)
		}
		if variant == "miss" {
			f.svc.Forget()
		}
		if err := f.svc.RotatePSKs(ctx, tx, subject); err != nil {
			return nil, err
		}
		return f.svc.views(ctx, tx, subject)
	}
	f.inTx(b, func(tx *sql.Tx) error { _, err := change(tx); return err }) // warm up
	runtime.GC()                                                           // not the population's garbage
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
			views, err := change(tx)
			if err == nil && len(views) != n-1 {
				err = fmt.Errorf("%d views", len(views))
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	reportPerPeer(b, cpuTime()-cpu, n-1)
}

// viewsBefore is a PSK rotation and views as they were before the member
// index (commit ed4e82e): the epoch bumped, the peers read from the
// database, the records rendered on one core.
func viewsBefore(ctx context.Context, s *Service, tx *sql.Tx, subject string) (map[string]any, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE nodes SET psk_epoch = psk_epoch + 1 WHERE id = $1`, subject); err != nil {
		return nil, err
	}
	sub, err := liveMember(ctx, tx, subject)
	if err != nil {
		return nil, err
	}
	viewers, err := viewersFromDB(ctx, tx, sub.domainID, sub.id)
	if err != nil {
		return nil, err
	}
	d, err := s.domain(ctx, tx, sub.domainID)
	if err != nil {
		return nil, err
	}
	return renderViewsSerial(d, sub, viewers, nil)
}

// viewersFromDB is viewersOf as it was before the member index: every
// peer of self read from the database, sorted by id.
func viewersFromDB(ctx context.Context, q store.Querier, domainID, self string) ([]member, error) {
	rows, err := q.QueryContext(ctx, `SELECT n.id, n.registered_level, COALESCE(a.protocol_level, 0), n.psk_epoch
		FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id
		WHERE n.domain_id = $1 AND n.revoked_at IS NULL AND n.id <> $2 AND n.mesh_ip IS NOT NULL ORDER BY n.id`,
		domainID, self)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []member
	for rows.Next() {
		m := member{domainID: domainID}
		var announced int
		if err := rows.Scan(&m.id, &m.level, &announced, &m.epoch); err != nil {
			return nil, err
		}
		m.level = max(m.level, announced)
		out = append(out, m)
	}
	return out, rows.Err()
}

// renderViewsSerial is renderViews as it was before the parallel
// rendering (commit ed4e82e): one MAC, one core, each record boxed into
// the map by value.
func renderViewsSerial(d domainSecret, sub member, viewers []member, paths map[string]Path) (map[string]any, error) {
	k, rec := newMAC(d), prepare(sub)
	var checked [2]bool
	out := make(map[string]any, len(viewers))
	for _, v := range viewers {
		p := rec.render(k, v.asViewer(), v.level, paths[v.id])
		if err := checkView(&p, &checked[levelIndex(v.level)]); err != nil {
			return nil, fmt.Errorf("mesh: record of %s for %s: %w", sub.id, v.id, err)
		}
		out[v.id] = p
	}
	return out, nil
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

// asViewers is ms as the receivers of records.
func asViewers(ms []member) []viewer {
	out := make([]viewer, len(ms))
	for i, m := range ms {
		out[i] = m.asViewer()
	}
	return out
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
// the viewers already in memory, only the per-peer rendering and checks.
// "before" is the rendering as it was before the per-subject preparation
// (every record parsing the subject's IPv6 address, hashing through fresh
// buffers and fully validated), "serial" as it was before the parallel
// rendering (renderViewsSerial), "after" renderViews as Announce runs it;
// all in the same run, so under the same load.
func BenchmarkPeerDeltaCompute(b *testing.B) {
	for _, variant := range []string{"before", "serial", "after"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/N=%d", variant, n), func(b *testing.B) {
				d := domainSecret{ipv6: ULAFor("d1"), secret: make([]byte, 32)}
				members := benchMembers(d, n)
				subject := members[n/2]
				viewers := append(append([]member(nil), members[:n/2]...), members[n/2+1:]...)
				vs := asViewers(viewers)
				cpu := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					var out map[string]any
					var err error
					switch variant {
					case "before":
						out, err = renderViewsBefore(d, subject, viewers)
					case "serial":
						out, err = renderViewsSerial(d, subject, viewers, nil)
					default:
						out, err = renderViews(d, subject, vs, nil)
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
