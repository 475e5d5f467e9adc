package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// meshHosts is the lab of the mesh tests: three hosts on the "internet"
// segment, one behind a cone NAT, one behind a symmetric NAT, and two
// bridges (the relay and its stand-by).
var meshHosts = []hostSpec{
	{name: "pub1", addr: "198.18.0.11"},
	{name: "pub2", addr: "198.18.0.12"},
	{name: "pub3", addr: "198.18.0.13"},
	{name: "cone", addr: "198.19.1.2", nat: "cone", natWAN: "198.18.0.31"},
	{name: "sym", addr: "198.19.2.2", nat: "symmetric", natWAN: "198.18.0.32"},
	{name: "br1", addr: "198.18.0.21", bridge: true},
	{name: "br2", addr: "198.18.0.22", bridge: true},
}

// TestMeshInNamespaces is issue 9's privileged end-to-end test: the real
// plexsphere and seven real plexd (userspace WireGuard) each in its own
// network namespace, every one of them built by the test and torn down
// after it. One set-up is shared by the subtests, which run in order.
func TestMeshInNamespaces(t *testing.T) {
	start := time.Now()
	m := newMeshLab(t, meshHosts)
	defer func() {
		if t.Failed() {
			m.dump(t)
		}
	}()
	nodeTok := m.issueToken(t, "node", 5)
	bridgeTok := m.issueToken(t, "bridge", 2)
	n := m.nodes
	for _, name := range m.order {
		tok := nodeTok
		if n[name].spec.bridge {
			tok = bridgeTok
		}
		m.start(t, n[name], tok)
	}
	for _, name := range m.order {
		m.waitJoined(t, n[name], 30*time.Second)
	}
	// The first bridge relays; the second stands by with its relay off.
	m.setRelay(t, n["br1"], true)
	m.setRelay(t, n["br2"], false)
	t.Logf("lab up, all %d nodes joined after %v", len(m.order), time.Since(start).Round(time.Millisecond))

	t.Run("every pair pings over its mesh IP", func(t *testing.T) {
		m.pingAll(t, m.order, time.Now().Add(45*time.Second))
	})

	t.Run("cone NAT direct, symmetric NAT relayed", func(t *testing.T) {
		pubs := []string{"pub1", "pub2", "pub3"}
		want := map[[2]string]string{} // (node, peer) → path
		for _, p := range append(pubs, "br1", "br2") {
			want[[2]string{"cone", p}] = "direct"
		}
		want[[2]string{"cone", "sym"}] = "relayed"
		for _, p := range append(pubs, "cone") {
			want[[2]string{"sym", p}] = "relayed"
			want[[2]string{p, "sym"}] = "relayed"
		}
		m.waitPaths(t, want, time.Now().Add(30*time.Second))
	})

	t.Run("key rotation under continuous ping loses at most 3 s", func(t *testing.T) {
		from, target := n["pub1"], n["pub2"]
		before, _ := m.node(t, target.id)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		type result struct {
			out string
			err error
		}
		done := make(chan result, 1)
		go func() {
			// 120 probes at 100 ms: 12 s, each answered within 1 s.
			out, err := m.lab.Exec(ctx, from.ns, "ping", "-n", "-q", "-i", "0.1", "-c", "120", "-W", "1", target.meshIP)
			done <- result{out, err}
		}()
		time.Sleep(time.Second) // let the ping establish its baseline first
		rotatedAt := time.Now()
		if st, raw := m.do(t, "POST", "/v1/nodes/"+target.id+"/keys/rotate", map[string]any{}, nil); st != 200 && st != 201 && st != 202 {
			t.Fatalf("rotate: %d %s", st, raw)
		}
		var after string
		for time.Since(rotatedAt) < 10*time.Second {
			if after, _ = m.node(t, target.id); after != before {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := <-done
		sent, received, ok := pingRun(r.out)
		if !ok {
			t.Fatalf("ping gave no summary: %v %s", r.err, r.out)
		}
		t.Logf("rotation of %s under ping: %d sent, %d received, key swapped after %v", target.spec.name, sent, received, time.Since(rotatedAt).Round(time.Millisecond))
		if after == before {
			t.Errorf("the public key of %s did not change within 10 s of the rotation", target.spec.name)
		}
		if lost := sent - received; sent < 100 || lost > 30 {
			t.Errorf("%d of %d probes lost across the rotation (at most 30 = 3 s at 10/s)", lost, sent)
			t.Logf("%s's device:%s", from.spec.name, m.wgDump(from))
			t.Logf("%s's device:%s", target.spec.name, m.wgDump(target))
		}
		// Everyone still reaches the rotated node.
		deadline := time.Now().Add(15 * time.Second)
		for _, name := range m.order {
			if name != target.spec.name && !m.waitPing(n[name], target.meshIP, deadline) {
				t.Errorf("%s cannot reach %s after its rotation", name, target.spec.name)
			}
		}
	})

	t.Run("the relay fails over within 30 s", func(t *testing.T) {
		sym, cone := n["sym"], n["cone"]
		if !m.waitPing(sym, cone.meshIP, time.Now().Add(10*time.Second)) {
			t.Fatal("sym does not reach cone through the first relay")
		}
		t0 := time.Now()
		m.setRelay(t, n["br1"], false)
		m.stop(n["br1"])
		m.setRelay(t, n["br2"], true)
		if !m.waitPing(sym, cone.meshIP, t0.Add(30*time.Second)) {
			t.Fatalf("sym has not reached cone 30 s after the relay stopped")
		}
		pinged := time.Since(t0)
		// The control plane says which relay carries the pair.
		var edge string
		for {
			edge = m.relayOf(t, sym.id, cone.id)
			if edge == n["br2"].id || time.Since(t0) > 30*time.Second {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("relay failover: ping back after %v, topology on br2 after %v", pinged.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		if edge != n["br2"].id {
			t.Errorf("topology: the sym–cone pair is relayed by %q, want br2 (%s)", edge, n["br2"].id)
		}
		if !m.waitPing(cone, sym.meshIP, time.Now().Add(5*time.Second)) {
			t.Error("cone does not reach sym through the second relay")
		}
	})
	t.Logf("mesh end-to-end: %v in all", time.Since(start).Round(time.Millisecond))
}

// pingAll pings every ordered pair of names over the mesh, in parallel,
// each retried until deadline.
func (m *meshLab) pingAll(t *testing.T, names []string, deadline time.Time) {
	t.Helper()
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	started := time.Now()
	for _, a := range names {
		for _, b := range names {
			if a == b {
				continue
			}
			wg.Go(func() {
				if !m.waitPing(m.nodes[a], m.nodes[b].meshIP, deadline) {
					mu.Lock()
					failed = append(failed, a+"→"+b)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d pairs pinged, %d failed, in %v", len(names)*(len(names)-1), len(failed), time.Since(started).Round(time.Millisecond))
	if len(failed) > 0 {
		t.Errorf("no ping over the mesh for %d pairs: %s", len(failed), strings.Join(failed, " "))
	}
}

// waitPaths waits until the control plane's reachability and each node's
// own `plexd status` give every (node, peer) pair of want its path.
func (m *meshLab) waitPaths(t *testing.T, want map[[2]string]string, deadline time.Time) {
	t.Helper()
	for {
		var bad []string
		statuses := map[string]plexdStatus{}
		reach := map[string]map[string]reachPeer{}
		for pair, path := range want {
			self, peer := m.nodes[pair[0]], m.nodes[pair[1]]
			if _, ok := reach[pair[0]]; !ok {
				r, raw := m.reachability(t, self)
				if r == nil {
					bad = append(bad, fmt.Sprintf("reachability of %s: %s", pair[0], raw))
				}
				reach[pair[0]] = r
				st, err := m.status(self)
				if err != nil {
					bad = append(bad, err.Error())
				}
				statuses[pair[0]] = st
			}
			if got := reach[pair[0]][peer.id].Path; got != path {
				bad = append(bad, fmt.Sprintf("reachability %s→%s %q, want %q", pair[0], pair[1], got, path))
			}
			got := ""
			for _, p := range statuses[pair[0]].Peers {
				if p.ID == peer.id {
					got = p.Path
				}
			}
			if got != path {
				bad = append(bad, fmt.Sprintf("plexd status %s→%s %q, want %q", pair[0], pair[1], got, path))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("paths not as expected:\n  %s", strings.Join(dedup(bad), "\n  "))
			_, raw := m.do(t, "GET", "/v1/domains/"+m.domainID+"/mesh/topology", nil, nil)
			t.Logf("topology: %s", raw)
			for _, name := range m.order {
				st, _ := m.status(m.nodes[name])
				t.Logf("plexd status %s (%s): %+v", name, m.nodes[name].id, st.Peers)
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// relayOf reads the Domain topology and returns the relay node of the
// edge between a and b ("" when direct or absent).
func (m *meshLab) relayOf(t testing.TB, a, b string) string {
	t.Helper()
	var topo struct {
		Edges []struct {
			Source string `json:"source_node_id"`
			Target string `json:"target_node_id"`
			Mode   string `json:"mode"`
			Relay  string `json:"relay_node_id"`
		} `json:"edges"`
	}
	if st, raw := m.do(t, "GET", "/v1/domains/"+m.domainID+"/mesh/topology", nil, &topo); st != 200 {
		t.Logf("topology: %d %s", st, raw)
		return ""
	}
	for _, e := range topo.Edges {
		if (e.Source == a && e.Target == b) || (e.Source == b && e.Target == a) {
			if e.Mode == "relayed" {
				return e.Relay
			}
		}
	}
	return ""
}
