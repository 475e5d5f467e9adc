package mesh

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// TestPairPSKDerivation pins the PSK of a pair to its documented
// derivation, computed here from scratch (HMAC-SHA-256 of the label, then
// per node in id order: 8-byte length, id, 8-byte epoch), in both
// argument orders, across reuses of one pairMAC, and for an id longer
// than the scratch buffer.
func TestPairPSKDerivation(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	want := func(a, b member) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("plexsphere mesh psk v1"))
		for _, x := range []member{a, b} {
			m.Write([]byte{0, 0, 0, 0, 0, 0, 0, byte(len(x.id))})
			m.Write([]byte(x.id))
			m.Write([]byte{0, 0, 0, 0, 0, 0, 0, byte(x.epoch)})
		}
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	k := newMAC(domainSecret{secret: secret})
	long := member{id: strings.Repeat("z", 200), epoch: 7}
	pairs := [][2]member{
		{{id: "a", epoch: 0}, {id: "b", epoch: 0}},
		{{id: "a", epoch: 1}, {id: "b", epoch: 0}},
		{{id: "c", epoch: 3}, long},
		{{id: "a", epoch: 0}, {id: "b", epoch: 0}},
	}
	for _, p := range pairs {
		w := want(p[0], p[1])
		if got := k.psk(p[0].asViewer(), p[1].asViewer()); got != w {
			t.Fatalf("psk(%s,%s) = %s, want %s", p[0].id, p[1].id, got, w)
		}
		if got := k.psk(p[1].asViewer(), p[0].asViewer()); got != w {
			t.Fatalf("psk(%s,%s) = %s, want %s (reversed)", p[1].id, p[0].id, got, w)
		}
	}
}

// TestRenderViewsMatchesRender: the prepared, once-checked records of an
// announcement equal the records rendered and validated one by one, at
// both levels, with and without an IPv6 address; a record with an
// invalid endpoint after a valid one still fails; an invalid subject
// fails on its first record.
func TestRenderViewsMatchesRender(t *testing.T) {
	d := domainSecret{ipv6: ULAFor("d1"), secret: make([]byte, 32)}
	members := benchMembers(d, 6)
	members[1].level = nodeproto.Level1
	members[4].level = nodeproto.Level1
	paths := map[string]Path{members[2].id: {Endpoint: "198.51.100.7:51820", Keepalive: 25,
		Candidates: []string{"192.0.2.1:51820"}}}
	for _, sub := range []member{members[0], {id: "v4only", domainID: "d1", publicKey: wgKey(), meshIP: "10.9.9.9",
		level: nodeproto.Level2}} {
		viewers := members[1:]
		got, err := renderViews(d, sub, asViewers(viewers), paths)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range viewers {
			want := render(newMAC(d), v.asViewer(), v.level, sub, paths[v.id])
			if err := want.Validate(); err != nil {
				t.Fatal(err)
			}
			if p, ok := got[v.id].(*nodeproto.Peer); !ok || !reflect.DeepEqual(*p, want) {
				t.Fatalf("record of %s for %s:\n got %+v\nwant %+v", sub.id, v.id, got[v.id], want)
			}
		}
		x := append(got[members[2].id].(*nodeproto.Peer).AllowedIPs, "10.1.1.1/32")
		y := append(got[members[3].id].(*nodeproto.Peer).AllowedIPs, "10.2.2.2/32")
		if x[len(x)-1] != "10.1.1.1/32" || y[len(y)-1] != "10.2.2.2/32" {
			t.Fatalf("appends to two records' allowed IPs share an array: %v %v", x, y)
		}
	}
	bad := map[string]Path{members[3].id: {Endpoint: "127.0.0.1:51820"}}
	if _, err := renderViews(d, members[0], asViewers(members[1:]), bad); err == nil || !strings.Contains(err.Error(), members[3].id) {
		t.Fatalf("loopback endpoint for %s after valid records: %v", members[3].id, err)
	}
	broken := members[0]
	broken.publicKey = "not-a-key"
	if _, err := renderViews(d, broken, asViewers(members[1:]), nil); err == nil || !strings.Contains(err.Error(), members[1].id) {
		t.Fatalf("invalid subject key: %v", err)
	}
}

// TestRenderViewsParallel: a fan-out large enough for several workers
// gives the records of the one-core rendering, and reports the first
// failing viewer in order, whichever worker meets it.
func TestRenderViewsParallel(t *testing.T) {
	d := domainSecret{ipv6: ULAFor("d1"), secret: make([]byte, 32)}
	members := benchMembers(d, 4*minPerWorker+3)
	members[7].level = nodeproto.Level1
	sub, viewers := members[0], members[1:]
	if renderWorkers(len(viewers)) < 2 {
		t.Logf("GOMAXPROCS %d: one worker", runtime.GOMAXPROCS(0))
	}
	got, err := renderViews(d, sub, asViewers(viewers), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := renderViewsSerial(d, sub, viewers, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, w := range want {
		if p, ok := got[id].(*nodeproto.Peer); !ok || !reflect.DeepEqual(*p, w) {
			t.Fatalf("record for %s: %+v, want %+v", id, got[id], w)
		}
	}
	last, first := viewers[len(viewers)-1].id, viewers[len(viewers)/2].id
	bad := map[string]Path{last: {Endpoint: "127.0.0.1:1"}, first: {Endpoint: "127.0.0.1:1"}}
	if _, err := renderViews(d, sub, asViewers(viewers), bad); err == nil || !strings.Contains(err.Error(), first) {
		t.Fatalf("invalid records for %s and %s: %v", first, last, err)
	}
}
