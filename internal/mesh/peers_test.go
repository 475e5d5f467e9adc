package mesh

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// fakePaths answers a fixed Path for every pair and counts its calls.
type fakePaths struct {
	calls, viewerCalls int
}

func (p *fakePaths) Paths(_ context.Context, _ *sql.Tx, viewer string, subjects []string) (map[string]Path, error) {
	p.calls++
	out := map[string]Path{}
	for _, s := range subjects {
		out[s] = Path{Endpoint: "192.0.2.1:51820", Keepalive: 25, Candidates: []string{"198.51.100.7:51820"}}
	}
	return out, nil
}

type batchPaths struct{ fakePaths }

func (p *batchPaths) PathsTo(_ context.Context, _ *sql.Tx, subject string, viewers []string) (map[string]Path, error) {
	p.viewerCalls++
	out := map[string]Path{}
	for _, v := range viewers {
		out[v] = Path{Endpoint: "203.0.113.9:4000"}
	}
	return out, nil
}

// peersBy is PeersOf keyed by peer id.
func (f *fixture) peersBy(t *testing.T, id string) map[string]nodeproto.Peer {
	t.Helper()
	out := map[string]nodeproto.Peer{}
	f.inTx(t, func(tx *sql.Tx) error {
		ps, err := f.svc.PeersOf(context.Background(), tx, id)
		if err != nil {
			return err
		}
		if !slices.IsSortedFunc(ps, func(a, b nodeproto.Peer) int { return cmpStr(a.ID, b.ID) }) {
			t.Errorf("peers of %s not sorted", id)
		}
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Errorf("peer %s of %s: %v", p.ID, id, err)
			}
			out[p.ID] = p
		}
		return nil
	})
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestPeersAndPSKs: each node's peers are exactly the other live nodes of
// its Domain, complete and valid; both sides of a pair hold the same PSK,
// distinct pairs different ones; RotatePSKs changes exactly the rotated
// node's pairs; the level decides the level-2 members.
func TestPeersAndPSKs(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			paths := &fakePaths{}
			f := newFixture(t, b, func(c *Config) { c.Paths = paths })
			f.addDomain(t, "d1", "10.3.0.0/24")
			f.addDomain(t, "d2", "10.4.0.0/24")
			f.addProject(t, "p1", "d1", "")
			f.addProject(t, "p2", "d2", "")
			f.join(t, "a", "d1", "p1", "node", 1)
			bAddr := f.join(t, "b", "d1", "p1", "node", 2)
			f.join(t, "c", "d1", "p1", "node", 2)
			f.join(t, "gone", "d1", "p1", "node", 1)
			f.join(t, "other", "d2", "p2", "node", 2)
			f.leave(t, "gone")

			view := map[string]map[string]nodeproto.Peer{}
			for _, id := range []string{"a", "b", "c"} {
				view[id] = f.peersBy(t, id)
			}
			for id, want := range map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}} {
				if got := keys(view[id]); !slices.Equal(got, want) {
					t.Fatalf("peers of %s = %v, want %v", id, got, want)
				}
			}
			pairPSKs := map[string]string{}
			for _, pair := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "c"}} {
				x, y := view[pair[0]][pair[1]].PSK, view[pair[1]][pair[0]].PSK
				if x == "" || x != y || !nodeproto.ValidWireGuardKey(x) {
					t.Fatalf("pair %v: PSKs %q and %q", pair, x, y)
				}
				pairPSKs[pair[0]+pair[1]] = x
			}
			if pairPSKs["ab"] == pairPSKs["ac"] || pairPSKs["ab"] == pairPSKs["bc"] {
				t.Fatal("two pairs share a PSK")
			}
			// Level: a (level 1) sees b without the level-2 members; c
			// (level 2) sees b's IPv6 address and the path's keepalive.
			if p := view["a"]["b"]; p.MeshIPv6 != "" || len(p.AllowedIPs) != 1 || p.PersistentKeepalive != 0 ||
				p.Candidates != nil || p.Endpoint != "192.0.2.1:51820" || p.NodeID != "b" {
				t.Fatalf("level-1 view of b: %+v", p)
			}
			if p := view["c"]["b"]; p.MeshIPv6 != bAddr.IPv6.String() || !slices.Contains(p.AllowedIPs, bAddr.IPv6.String()+"/128") ||
				p.PersistentKeepalive != 25 || len(p.Candidates) != 1 {
				t.Fatalf("level-2 view of b: %+v", p)
			}
			// A level-1 agent decodes the record as before.
			raw, _ := json.Marshal(view["a"]["b"])
			var legacy struct {
				ID, PublicKey, MeshIP, Endpoint, PSK string
				AllowedIPs                           []string `json:"allowed_ips"`
			}
			if err := json.Unmarshal(raw, &legacy); err != nil || legacy.ID != "b" {
				t.Fatalf("level-1 decode: %v %s", err, raw)
			}

			f.inTx(t, func(tx *sql.Tx) error { return f.svc.RotatePSKs(context.Background(), tx, "b") })
			after := map[string]map[string]nodeproto.Peer{}
			for _, id := range []string{"a", "b", "c"} {
				after[id] = f.peersBy(t, id)
			}
			if after["a"]["c"].PSK != pairPSKs["ac"] || after["c"]["a"].PSK != pairPSKs["ac"] {
				t.Fatal("rotating b changed the pair (a, c)")
			}
			for _, pair := range [][2]string{{"a", "b"}, {"b", "c"}} {
				x, y := after[pair[0]][pair[1]].PSK, after[pair[1]][pair[0]].PSK
				if x != y || x == pairPSKs[pair[0]+pair[1]] {
					t.Fatalf("pair %v after rotating b: %q %q (before %q)", pair, x, y, pairPSKs[pair[0]+pair[1]])
				}
			}
			f.inTx(t, func(tx *sql.Tx) error {
				if err := f.svc.RotatePSKs(context.Background(), tx, "gone"); !errors.Is(err, ErrUnknownNode) {
					t.Errorf("rotating a revoked node: %v", err)
				}
				for _, pair := range [][2]string{{"a", "other"}, {"a", "a"}, {"a", "gone"}} {
					if _, err := f.svc.Render(context.Background(), tx, pair[0], pair[1]); !errors.Is(err, ErrNotPeer) {
						t.Errorf("Render%v: %v", pair, err)
					}
				}
				p, err := f.svc.Render(context.Background(), tx, "c", "b")
				if err != nil || p.PSK != after["c"]["b"].PSK || p.MeshIPv6 == "" {
					t.Errorf("Render(c, b) = %+v, %v", p, err)
				}
				return nil
			})
		})
	}
}

// TestAnnounce: peer_added carries to each peer its own complete view of
// the subject (its PSK, its path), peer_removed the subject's id; the
// batch PathSource is asked once.
func TestAnnounce(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			paths := &batchPaths{}
			f := newFixture(t, b, func(c *Config) { c.Paths = paths })
			f.addDomain(t, "d1", "10.5.0.0/24")
			f.addProject(t, "p1", "d1", "")
			for _, id := range []string{"a", "b", "c"} {
				f.join(t, id, "d1", "p1", "node", 2)
			}
			f.inTx(t, func(tx *sql.Tx) error { return f.svc.Announce(context.Background(), tx, "c", nodeproto.EventPeerAdded) })
			if paths.viewerCalls != 1 || paths.calls != 0 {
				t.Fatalf("path calls: %d batch, %d single", paths.viewerCalls, paths.calls)
			}
			if got := f.sent.Of("c"); len(got) != 0 {
				t.Fatalf("the subject was told about itself: %v", got)
			}
			psks := map[string]string{}
			for _, viewer := range []string{"a", "b"} {
				got := f.sent.Of(viewer)
				if len(got) != 1 || got[0].Type != nodeproto.EventPeerAdded {
					t.Fatalf("%s got %v", viewer, got)
				}
				var p nodeproto.Peer
				if err := json.Unmarshal(got[0].Payload, &p); err != nil || p.Validate() != nil || p.ID != "c" ||
					p.Endpoint != "203.0.113.9:4000" || p.MeshIPv6 == "" {
					t.Fatalf("%s's record of c: %s (%v)", viewer, got[0].Payload, err)
				}
				if want := f.peersBy(t, viewer)["c"].PSK; p.PSK != want {
					t.Fatalf("%s's announced PSK %q differs from its state's %q", viewer, p.PSK, want)
				}
				psks[viewer] = p.PSK
			}
			if psks["a"] == psks["b"] {
				t.Fatal("two recipients got the same PSK")
			}
			f.leave(t, "c")
			f.inTx(t, func(tx *sql.Tx) error {
				return f.svc.Announce(context.Background(), tx, "c", nodeproto.EventPeerRemoved)
			})
			for _, viewer := range []string{"a", "b"} {
				got := f.sent.Of(viewer)
				if len(got) != 2 || got[1].Type != nodeproto.EventPeerRemoved || string(got[1].Payload) != `{"peer_id":"c"}` {
					t.Fatalf("%s after c left: %v", viewer, got)
				}
			}
		})
	}
}

// TestStateProvider: peers at the request's level; state.mesh only at
// level 2, with the pool, the node's IPv6 address and the Domain's /64.
func TestStateProvider(t *testing.T) {
	f := newFixture(t, storetest.SQLite, nil)
	f.addDomain(t, "d1", "10.6.0.0/24")
	f.addProject(t, "p1", "d1", "")
	a := f.join(t, "a", "d1", "p1", "node", 2)
	f.join(t, "b", "d1", "p1", "node", 2)
	c := nodestate.New(f.svc.StateProvider())
	for _, level := range []int{1, 2} {
		var doc nodeproto.StateSnapshot
		f.inTx(t, func(tx *sql.Tx) error {
			return c.Compose(context.Background(), tx, nodestate.Node{ID: "a", DomainID: "d1", Level: level}, &doc)
		})
		if len(doc.Peers) != 1 || doc.Peers[0].ID != "b" || (level == 1) != (doc.Peers[0].MeshIPv6 == "") {
			t.Fatalf("level %d peers: %+v", level, doc.Peers)
		}
		if level == 1 && doc.Mesh != nil {
			t.Fatalf("level 1 got state.mesh %+v", doc.Mesh)
		}
		if level == 2 && (doc.Mesh == nil || doc.Mesh.MeshCIDR != "10.6.0.0/24" || doc.Mesh.MeshIPv6 != a.IPv6.String() ||
			doc.Mesh.MeshIPv6CIDR != ULAFor("d1").String() || doc.Mesh.STUNServers == nil) {
			t.Fatalf("level 2 state.mesh: %+v", doc.Mesh)
		}
	}
}
