package events_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Environment of BenchmarkMeshJoinFanOut: the Domain's size and how many
// of its nodes hold an open event stream.
const (
	fanOutNodesEnv       = "MESH_FANOUT_NODES"
	fanOutSubscribersEnv = "MESH_FANOUT_SUBSCRIBERS"
)

// envInt is the positive integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkMeshJoinFanOut measures one join's fan-out in a Domain of
// 10,000 live nodes (MESH_FANOUT_NODES) where every node sees every other,
// with 2,000 of them (MESH_FANOUT_SUBSCRIBERS, nodes n00000 upwards)
// holding an SSE stream from a child process (TestBenchClientProcess).
// Each round one new node joins in one transaction, as enrolment does:
// mesh.Allocate under the Domain's lock, the node row, and the mesh
// context's Announce of peer_added, which renders the joiner for each of
// its peers and appends one event per peer (events.EmitEach, the real
// Directory over the nodes table). Latency = a subscriber's receive time
// of its peer_added − the transaction's start; reported over every
// delivery of every round (p50, p99, max), with the transaction's own
// duration (start → commit returned). Run with -benchtime=1x; each b.N
// adds a round (at least 5). EVENTS_BENCH_BACKEND=postgres runs it on the
// PostgreSQL named by PLEXSPHERE_TEST_POSTGRES_URL.
func BenchmarkMeshJoinFanOut(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 nodes, 2,000 clients")
	}
	backend := sqliteDB
	if os.Getenv("EVENTS_BENCH_BACKEND") == string(postgresDB) {
		backend = postgresDB
	}
	nodes, subs := envInt(fanOutNodesEnv, 10_000), envInt(fanOutSubscribersEnv, benchClients)
	if subs > nodes {
		b.Fatalf("%d subscribers of %d nodes", subs, nodes)
	}
	p := startPlane(b, newDatabase(b, backend), nil, func(c *events.Config) { c.Directory = enroll.Directory{} })
	m := fanOutMesh(b, p, nodes)
	join := func(r int) (began, committed time.Time) {
		began = time.Now()
		if err := p.db.Tx(context.Background(), func(tx *sql.Tx) error { return joinNode(tx, m, fmt.Sprintf("j%04d", r)) }); err != nil {
			b.Fatal(err)
		}
		return began, time.Now()
	}
	join(0) // creates the Domain's mesh row; before the streams, so none sees it

	lines := startClients(b, p, subs)
	rounds := max(b.N, 5)
	var fromStart, fromCommit, txs []time.Duration
	b.ResetTimer()
	for r := 1; r <= rounds; r++ {
		began, committed := join(r)
		txs = append(txs, committed.Sub(began))
		seen := make(map[string]bool, subs)
		for len(seen) < subs {
			f := strings.Fields(nextLine(b, lines))
			if len(f) != 4 || f[0] != "D" {
				continue
			}
			if seen[f[1]] {
				b.Fatalf("round %d: %s got two events", r, f[1])
			}
			seen[f[1]] = true
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			at := time.Unix(0, ns)
			fromStart = append(fromStart, at.Sub(began))
			fromCommit = append(fromCommit, at.Sub(committed))
		}
	}
	b.StopTimer()
	checkFanOutLog(b, p.db, fmt.Sprintf("j%04d", rounds), nodes+rounds)
	pct := func(d []time.Duration, q float64) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, int(q*float64(len(d))))]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(fromStart, 0.50)), "p50-ms")
	b.ReportMetric(ms(pct(fromStart, 0.99)), "p99-ms")
	b.ReportMetric(ms(fromStart[len(fromStart)-1]), "max-ms")
	b.ReportMetric(ms(pct(txs, 0.50)), "join-tx-p50-ms")
	b.ReportMetric(ms(pct(fromCommit, 0.99)), "commit-to-delivery-p99-ms")
	b.Logf("backend %s, %d nodes, %d subscribers, %d rounds, %d deliveries", backend, nodes, subs, rounds, len(fromStart))
	b.Logf("tx start → delivery: p50 %s p99 %s max %s; join transactions %v", pct(fromStart, 0.5), pct(fromStart, 0.99),
		fromStart[len(fromStart)-1], txs)
}

// fanOutMesh creates Domain d1 (10.0.0.0/8) with n live level-2 nodes
// n00000… and returns a mesh Service announcing through p's event plane.
func fanOutMesh(b *testing.B, p *plane, n int) *mesh.Service {
	ctx, db := context.Background(), p.db
	if _, err := db.ExecContext(ctx, `INSERT INTO domains (id, slug, name, mesh_cidr, heartbeat_interval, stale_after,
		unreachable_after, created_at, updated_at) VALUES ('d1', 'd1', 'd1', '10.0.0.0/8', '30s', '90s', '300s', 0, 0)`); err != nil {
		b.Fatal(err)
	}
	ula := mesh.ULAFor("d1")
	for start := 0; start < n; start += 500 {
		var q strings.Builder
		q.WriteString(`INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, public_key,
			mesh_ip, mesh_ipv6, nsk_digest, nsk_sealed, registered_level, created_at, updated_at) VALUES `)
		var args []any
		for i := start; i < min(start+500, n); i++ {
			if i > start {
				q.WriteByte(',')
			}
			k := len(args)
			fmt.Fprintf(&q, "($%d,'d1','p','r','t','node',$%d,$%d,$%d,$%d,'s',2,0,0)", k+1, k+2, k+3, k+4, k+5)
			a := netip.AddrFrom4([4]byte{10, byte((i + 1) >> 16), byte((i + 1) >> 8), byte(i + 1)})
			id := fmt.Sprintf("n%05d", i)
			args = append(args, id, randomKey(), a.String(), mesh.IPv6For(ula, a).String(), "digest-"+id)
		}
		if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	kr, err := keyring.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		b.Fatal(err)
	}
	m, err := mesh.New(mesh.Config{DB: db, Keyring: kr, Events: p.svc})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// joinNode is a join inside tx: addresses allocated under the Domain's
// lock, the node row, and peer_added announced to its peers.
func joinNode(tx *sql.Tx, m *mesh.Service, id string) error {
	ctx := context.Background()
	a, err := m.Allocate(ctx, tx, mesh.Request{DomainID: "d1", ProjectID: "p", Kind: "node", Level: nodeproto.Level2})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, public_key,
		mesh_ip, mesh_ipv6, nsk_digest, nsk_sealed, registered_level, created_at, updated_at)
		VALUES ($1, 'd1', 'p', 'r', 't', 'node', $2, $3, $4, $1, 's', 2, 0, 0)`,
		id, randomKey(), a.IPv4.String(), a.IPv6.String()); err != nil {
		return err
	}
	return m.Announce(ctx, tx, id, nodeproto.EventPeerAdded)
}

// startClients runs n SSE clients (nodes n00000…) in a child process and
// returns its output lines once every stream is open.
func startClients(b *testing.B, p *plane, n int) <-chan string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClientProcess$", "-test.v")
	cmd.Env = append(os.Environ(), benchClientsEnv+"="+p.hs.URL, benchCountEnv+"="+strconv.Itoa(n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 4*n)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine(b, lines, "READY")
	if got := p.svc.Streams(); got != n {
		b.Fatalf("%d streams open, want %d", got, n)
	}
	return lines
}

// checkFanOutLog asserts that the last join appended one peer_added to
// each of its want peers, each a valid record of the joiner.
func checkFanOutLog(b *testing.B, db *store.DB, joiner string, want int) {
	var count int
	var payload string
	if err := db.QueryRow(`SELECT COUNT(*), MIN(payload) FROM event_log WHERE event_type = $1 AND payload LIKE $2`,
		nodeproto.EventPeerAdded, `%"id":"`+joiner+`"%`).Scan(&count, &payload); err != nil {
		b.Fatal(err)
	}
	if count != want {
		b.Fatalf("peer_added of %s appended for %d nodes, want %d", joiner, count, want)
	}
	var peer nodeproto.Peer
	if err := json.Unmarshal([]byte(payload), &peer); err != nil || peer.Validate() != nil || peer.ID != joiner {
		b.Fatalf("peer_added payload %s: %v", payload, err)
	}
}

func randomKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}
