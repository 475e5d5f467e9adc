package mesh

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/events/eventstest"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// fixture is a migrated database, a mesh Service over it and a recording
// emitter.
type fixture struct {
	db    *store.DB
	svc   *Service
	sent  *eventstest.Recorder
	clock *clock
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openDB(t testing.TB, b storetest.Backend) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{URL: storetest.DatabaseURL(t, b),
		SQLitePath: filepath.Join(t.TempDir(), "mesh.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func newFixture(t testing.TB, b storetest.Backend, tune func(*Config)) *fixture {
	t.Helper()
	db := openDB(t, b)
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, sent: &eventstest.Recorder{},
		clock: &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}}
	cfg := Config{DB: db, Keyring: kr, Events: f.sent, Now: f.clock.Now}
	if tune != nil {
		tune(&cfg)
	}
	if f.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) addDomain(t testing.TB, id, cidr string) {
	t.Helper()
	if _, err := f.db.Exec(`INSERT INTO domains (id, slug, name, mesh_cidr, heartbeat_interval, stale_after,
		unreachable_after, created_at, updated_at) VALUES ($1, $1, $1, $2, '30s', '90s', '300s', 0, 0)`, id, cidr); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) addProject(t testing.TB, id, domain, subRange string) {
	t.Helper()
	if _, err := f.db.Exec(`INSERT INTO projects (id, domain_id, slug, name, sub_range_cidr, created_at, updated_at)
		VALUES ($1, $2, $1, $1, $3, 0, 0)`, id, domain, subRange); err != nil {
		t.Fatal(err)
	}
}

// wgKey is a random WireGuard-shaped key.
func wgKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// insertNode writes a node row with the given addresses (ipv6 "" for
// none) at level.
func insertNode(ctx context.Context, q store.Querier, id, domain, project, kind, ip, ipv6 string, level int) error {
	var v6 any
	if ipv6 != "" {
		v6 = ipv6
	}
	_, err := q.ExecContext(ctx, `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, public_key,
		mesh_ip, mesh_ipv6, nsk_digest, nsk_sealed, registered_level, created_at, updated_at)
		VALUES ($1, $2, $3, 'r', 't', $4, $5, $6, $7, $1, 's', $8, 0, 0)`, id, domain, project, kind, wgKey(), ip, v6, level)
	return err
}

// join allocates and writes a node in one transaction, as enrolment does,
// and returns its addresses.
func (f *fixture) join(t testing.TB, id, domain, project, kind string, level int) Addresses {
	t.Helper()
	var a Addresses
	err := f.db.Tx(context.Background(), func(tx *sql.Tx) error {
		var err error
		if a, err = f.svc.Allocate(context.Background(), tx, Request{DomainID: domain, ProjectID: project, Kind: kind, Level: level}); err != nil {
			return err
		}
		v6 := ""
		if a.IPv6.IsValid() {
			v6 = a.IPv6.String()
		}
		return insertNode(context.Background(), tx, id, domain, project, kind, a.IPv4.String(), v6, level)
	})
	if err != nil {
		t.Fatalf("join %s: %v", id, err)
	}
	return a
}

// leave revokes a node and quarantines its address, as decommissioning
// does.
func (f *fixture) leave(t testing.TB, id string) {
	t.Helper()
	err := f.db.Tx(context.Background(), func(tx *sql.Tx) error {
		var domain, ip string
		if err := tx.QueryRow(`SELECT domain_id, mesh_ip FROM nodes WHERE id = $1`, id).Scan(&domain, &ip); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE nodes SET revoked_at = 1, mesh_ip = NULL WHERE id = $1`, id); err != nil {
			return err
		}
		return f.svc.Release(context.Background(), tx, domain, ip)
	})
	if err != nil {
		t.Fatalf("leave %s: %v", id, err)
	}
}

// inTx runs fn in a transaction and fails the test on error.
func (f *fixture) inTx(t testing.TB, fn func(tx *sql.Tx) error) {
	t.Helper()
	if err := f.db.Tx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func nodeID(i int) string { return fmt.Sprintf("n%05d", i) }
