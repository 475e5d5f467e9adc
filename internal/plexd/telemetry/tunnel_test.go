package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

type fakeMesh struct{ st mesh.Stats }

func (f fakeMesh) Stats() mesh.Stats { return f.st }

func TestTunnelsCollector(t *testing.T) {
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	m := fakeMesh{mesh.Stats{Peers: []nodeproto.PeerStatus{
		{PeerID: "p-fresh", Path: "direct", LastHandshake: now.Add(-30 * time.Second), RTTMillis: 1.5, RxBytes: 10, TxBytes: 20},
		{PeerID: "p-stale", Path: "down", LastHandshake: now.Add(-10 * time.Minute), RxBytes: 1},
		{PeerID: "p-new", Path: "direct"}, // no handshake, no probe yet
		{PeerID: ""},
	}}}
	ps, err := NewTunnels(m).Collect(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]MetricPoint{}
	for _, p := range ps {
		byKey[p.Group+"/"+p.PeerID] = p
	}
	if len(ps) != 5 || len(byKey) != 5 {
		t.Fatalf("points %+v", ps)
	}
	f := byKey["tunnel/p-fresh"].Data
	if f["rx_bytes"] != int64(10) || f["tx_bytes"] != int64(20) || f["handshake_succeeded"] != true || f["handshake_stale"] != false ||
		f["handshake_age_seconds"] != 30.0 || f["last_handshake_time"] != "2026-12-06T03:59:30Z" || f["peer_id"] != "p-fresh" {
		t.Errorf("fresh tunnel %v", f)
	}
	if s := byKey["tunnel/p-stale"].Data; s["handshake_stale"] != true || s["handshake_succeeded"] != true {
		t.Errorf("stale tunnel %v", s)
	}
	if n := byKey["tunnel/p-new"].Data; n["handshake_succeeded"] != false || n["handshake_stale"] != true || n["last_handshake_time"] != nil {
		t.Errorf("new tunnel %v", n)
	}
	if l := byKey["latency/p-fresh"].Data; l["rtt_nano"] != int64(1500000) {
		t.Errorf("latency %v", l)
	}
	if l := byKey["latency/p-stale"].Data; l["rtt_nano"] != int64(-1) {
		t.Errorf("down path latency %v, want -1", l)
	}
	if _, ok := byKey["latency/p-new"]; ok {
		t.Error("a latency point before any probe answered")
	}
	if ps, _ := NewTunnels(mesh.NewMemory()).Collect(context.Background(), now); len(ps) != 0 {
		t.Errorf("the memory engine observes no peers: %v", ps)
	}
}
