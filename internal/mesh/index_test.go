package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/events/eventstest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// replica is a second Service on f's database (another control-plane
// replica, or the second Service of one process).
func (f *fixture) replica(t testing.TB) *Service {
	t.Helper()
	s, err := New(Config{DB: f.db, Keyring: f.svc.cfg.Keyring, Events: &eventstest.Recorder{}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// joinVia enrols id as enrolment does, through svc: addresses, the node's
// row and peer_added, in one transaction.
func (f *fixture) joinVia(t testing.TB, svc *Service, id string, level int) {
	t.Helper()
	f.inTx(t, func(tx *sql.Tx) error { return joinTx(svc, tx, id, level) })
}

func joinTx(svc *Service, tx *sql.Tx, id string, level int) error {
	ctx := context.Background()
	a, err := svc.Allocate(ctx, tx, Request{DomainID: "d1", ProjectID: "p1", Kind: "node", Level: level})
	if err != nil {
		return err
	}
	v6 := ""
	if a.IPv6.IsValid() {
		v6 = a.IPv6.String()
	}
	if err := insertNode(ctx, tx, id, "d1", "p1", "node", a.IPv4.String(), v6, level); err != nil {
		return err
	}
	return svc.Announce(ctx, tx, id, nodeproto.EventPeerAdded)
}

// leaveVia decommissions id as enrolment does, through svc.
func (f *fixture) leaveVia(t testing.TB, svc *Service, id string) {
	t.Helper()
	ctx := context.Background()
	f.inTx(t, func(tx *sql.Tx) error {
		var ip string
		if err := tx.QueryRow(`SELECT mesh_ip FROM nodes WHERE id = $1`, id).Scan(&ip); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE nodes SET revoked_at = 1, mesh_ip = NULL WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM node_agents WHERE node_id = $1`, id); err != nil {
			return err
		}
		if err := svc.Release(ctx, tx, "d1", ip); err != nil {
			return err
		}
		return svc.Announce(ctx, tx, id, nodeproto.EventPeerRemoved)
	})
}

// rotateVia completes a key rotation of id as meshkeys does, through svc.
func (f *fixture) rotateVia(t testing.TB, svc *Service, id string) {
	t.Helper()
	ctx := context.Background()
	f.inTx(t, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`UPDATE nodes SET public_key = $2 WHERE id = $1`, id, wgKey()); err != nil {
			return err
		}
		if err := svc.RotatePSKs(ctx, tx, id); err != nil {
			return err
		}
		return svc.Announce(ctx, tx, id, nodeproto.EventPeerKeyRotated)
	})
}

// heartbeat records the protocol level id's agent announced, as the event
// plane's heartbeat does (no mesh call).
func (f *fixture) heartbeat(t testing.TB, id string, level int) {
	t.Helper()
	if _, err := f.db.Exec(`INSERT INTO node_agents (node_id, protocol_level) VALUES ($1, $2)
		ON CONFLICT (node_id) DO UPDATE SET protocol_level = $2`, id, level); err != nil {
		t.Fatal(err)
	}
}

// checkIndex fails unless svc's recipients of an announcement about each
// live node of d1 are exactly the database's (ids, levels, PSK epochs),
// and the records equal those rendered from the database.
func (f *fixture) checkIndex(t testing.TB, svc *Service, step string) {
	t.Helper()
	ctx := context.Background()
	f.inTx(t, func(tx *sql.Tx) error {
		all, err := viewersFromDB(ctx, tx, "d1", "")
		if err != nil {
			return err
		}
		for _, m := range all {
			want, err := viewersFromDB(ctx, tx, "d1", m.id)
			if err != nil {
				return err
			}
			got, err := svc.viewersOf(ctx, tx, "d1", m.id)
			if err != nil {
				return err
			}
			slices.SortFunc(got, func(a, b viewer) int { return strings.Compare(a.id, b.id) })
			if w := asViewers(want); !slices.Equal(got, w) {
				return fmt.Errorf("%s: viewers of %s:\n got %v\nwant %v", step, m.id, got, w)
			}
			views, err := svc.views(ctx, tx, m.id)
			if err != nil {
				return err
			}
			sub, _ := liveMember(ctx, tx, m.id)
			d, _ := svc.domain(ctx, tx, "d1")
			fromDB, err := renderViewsSerial(d, sub, want, nil)
			if err != nil {
				return err
			}
			if len(views) != len(fromDB) {
				return fmt.Errorf("%s: %d records of %s, want %d", step, len(views), m.id, len(fromDB))
			}
			for id, p := range fromDB {
				if got, ok := views[id].(*nodeproto.Peer); !ok || !samePeer(*got, p.(nodeproto.Peer)) {
					return fmt.Errorf("%s: record of %s for %s: %+v, want %+v", step, m.id, id, views[id], p)
				}
			}
		}
		return nil
	})
}

func samePeer(a, b nodeproto.Peer) bool {
	return a.ID == b.ID && a.PSK == b.PSK && a.PublicKey == b.PublicKey && a.MeshIPv6 == b.MeshIPv6 &&
		slices.Equal(a.AllowedIPs, b.AllowedIPs)
}

// indexAt reports whether svc's index of d1 is at the Domain's token
// (patched by the last change rather than left to be rebuilt).
func (f *fixture) indexAt(t testing.TB, svc *Service) bool {
	t.Helper()
	token, err := readToken(context.Background(), f.db, "d1")
	if err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	x := svc.indexes["d1"]
	return x != nil && x.token == token
}

// TestMemberIndexCoherent: the recipients of every announcement, taken
// from a Service's in-memory index, are exactly what the database says
// after joins, leaves, PSK rotations and level upgrades made through that
// Service, through a second one on the same database (another replica),
// by a heartbeat (no mesh call) and by a transaction that rolls back. A
// change through a Service patches its own index (no rebuild); one
// through the other replica leaves it behind the token.
func TestMemberIndexCoherent(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := newFixture(t, b, nil)
			f.addDomain(t, "d1", "10.7.0.0/24")
			f.addProject(t, "p1", "d1", "")
			a, r := f.svc, f.replica(t)
			for _, id := range []string{"n1", "n2", "n3", "n4"} {
				f.joinVia(t, a, id, nodeproto.Level2)
			}
			f.joinVia(t, a, "old", nodeproto.Level1)
			f.checkIndex(t, a, "joins")
			f.checkIndex(t, r, "joins, replica")

			f.joinVia(t, a, "n5", nodeproto.Level2)
			if !f.indexAt(t, a) || f.indexAt(t, r) {
				t.Fatalf("after a join through a: a at token %v, replica %v", f.indexAt(t, a), f.indexAt(t, r))
			}
			f.checkIndex(t, a, "join through a")
			f.checkIndex(t, r, "join through a, seen by the replica")

			f.rotateVia(t, r, "n2")
			if !f.indexAt(t, r) || f.indexAt(t, a) {
				t.Fatal("a rotation through the replica did not patch its index, or a's stayed current")
			}
			f.checkIndex(t, a, "rotation through the replica")
			f.rotateVia(t, a, "n2")
			f.checkIndex(t, r, "second rotation through a")

			f.leaveVia(t, r, "n3")
			f.checkIndex(t, a, "leave through the replica")
			f.leaveVia(t, a, "n4")
			if !f.indexAt(t, a) {
				t.Fatal("a leave through a did not patch its index")
			}
			f.checkIndex(t, a, "leave through a")
			f.checkIndex(t, r, "leave through a, seen by the replica")

			// A join that rolls back after announcing: its token never
			// commits, so the patched index is not used.
			boom := errors.New("boom")
			if err := f.db.Tx(context.Background(), func(tx *sql.Tx) error {
				if err := joinTx(a, tx, "ghost", nodeproto.Level2); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Fatal(err)
			}
			f.checkIndex(t, a, "rolled-back join")

			// A level-1 node's agent announces level 2 in a heartbeat.
			f.heartbeat(t, "old", nodeproto.Level2)
			f.checkIndex(t, a, "level upgrade")
			f.checkIndex(t, r, "level upgrade, replica")
			f.joinVia(t, r, "n6", nodeproto.Level2)
			f.checkIndex(t, a, "after the upgrade")
			// A change through the replica, then one through a before a
			// reads its index: a's index is behind and must not be patched.
			f.joinVia(t, r, "n7", nodeproto.Level2)
			f.rotateVia(t, a, "n1")
			f.checkIndex(t, a, "a's change after the replica's")
			// Allocate without announcing (the node row written, no
			// peer_added), then another transaction's change: the first
			// one's pending change is not taken for the second's.
			f.join(t, "quiet", "d1", "p1", "node", nodeproto.Level2)
			f.rotateVia(t, a, "n1")
			f.checkIndex(t, a, "unannounced join")
		})
	}
}

// TestMemberIndexConcurrent: replicas changing one Domain at the same
// time (rotations, joins and leaves through two Services, several
// goroutines each) leave both indexes agreeing with the database (run
// under -race).
func TestMemberIndexConcurrent(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := newFixture(t, b, nil)
			f.addDomain(t, "d1", "10.8.0.0/22")
			f.addProject(t, "p1", "d1", "")
			svcs := []*Service{f.svc, f.replica(t)}
			for i := range 8 {
				f.joinVia(t, svcs[i%2], nodeID(i), nodeproto.Level2)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 4 {
				wg.Go(func() {
					svc := svcs[g%2]
					for i := range 5 {
						id := nodeID(g*100 + 100 + i)
						err := f.db.Tx(context.Background(), func(tx *sql.Tx) error { return joinTx(svc, tx, id, nodeproto.Level2) })
						if err == nil {
							err = f.db.Tx(context.Background(), func(tx *sql.Tx) error {
								if err := svc.RotatePSKs(context.Background(), tx, nodeID(i)); err != nil {
									return err
								}
								return svc.Announce(context.Background(), tx, nodeID(i), nodeproto.EventPeerKeyRotated)
							})
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			f.leaveVia(t, svcs[1], nodeID(3))
			for i, svc := range svcs {
				f.checkIndex(t, svc, fmt.Sprintf("service %d", i))
			}
		})
	}
}
