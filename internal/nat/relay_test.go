package nat_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
)

// relayWorld is a Domain with two level-2 bridges (relays configured but
// not enabled yet), a level-2 node behind a symmetric NAT and a level-1
// node behind a full-cone NAT.
type relayWorld struct {
	e              *apptest.Env
	fx             apptest.Enrolment
	br1, br2, x, y node
	res1, res2     string
	relay1, relay2 string // the relays' addresses
}

func newRelayWorld(t *testing.T, b apptest.Backend) *relayWorld {
	e := apptest.Start(t, b)
	w := &relayWorld{e: e, fx: e.NewEnrolment(t, "d", "10.100.0.0/16", 10)}
	btok := bridgeToken(t, e, w.fx, 2)
	w.br1, w.br2 = register(t, e, btok, 2), register(t, e, btok, 2)
	w.x, w.y = register(t, e, w.fx.Token.Token, 2), register(t, e, w.fx.Token.Token, 1)
	w.res1, w.res2 = resourceOf(t, e, w.br1.ID), resourceOf(t, e, w.br2.ID)
	for i, br := range []node{w.br1, w.br2} {
		heartbeat(t, e, br, nil)
		ip := []string{"203.0.113.10", "203.0.113.20"}[i]
		report(t, e, br, map[string]any{"endpoint": ip + ":51820", "nat_type": "none", "reported_at": time.Now().UTC()}, 200)
	}
	w.relay1, w.relay2 = "203.0.113.10:51821", "203.0.113.20:51821"
	return w
}

func (w *relayWorld) setRelay(t *testing.T, res string, enabled bool, want int) apiv1.BridgeRelayResponse {
	t.Helper()
	var out apiv1.BridgeRelayResponse
	st, raw := w.e.Do(t, "PUT", "/v1/projects/"+w.fx.Project.ID+"/resources/"+res+"/bridge/relay",
		apiv1.BridgeRelayConfigureRequest{Enabled: enabled, ListenPort: 51821}, &out)
	if st != want {
		t.Fatalf("PUT relay: %d %s, want %d", st, raw, want)
	}
	return out
}

// relayOf checks the pair x–y is relayed through relayNode at addr as
// both sides and the bridge see it, and returns the session id.
func (w *relayWorld) relayedThrough(t *testing.T, relayNode node, addr string) string {
	t.Helper()
	px := peerIn(t, state(t, w.e, w.x), w.y.ID)
	if px.Relay == nil || px.Relay.Endpoint != addr || px.Relay.RelayNodeID != relayNode.ID || px.FallbackEndpoint != addr {
		t.Fatalf("level-2 view of y: %+v relay %+v, want relay %s via %s", px, px.Relay, addr, relayNode.ID)
	}
	if _, err := relaywire.ParseToken(px.Relay.Token); err != nil {
		t.Errorf("token %q: %v", px.Relay.Token, err)
	}
	if px.Endpoint != "198.51.100.3:51820" || px.PersistentKeepalive != 25 {
		t.Errorf("level-2 view keeps the direct endpoint and keepalive 25: %+v", px)
	}
	py := peerIn(t, state(t, w.e, w.y), w.x.ID)
	if py.Endpoint != addr || py.Relay != nil {
		t.Errorf("level-1 view of x: endpoint %q relay %+v, want the relay address %s", py.Endpoint, py.Relay, addr)
	}
	// The bridge may carry other pairs of x too (a symmetric NAT relays
	// every pair with a relay other than its sides): find x–y's session.
	bs := state(t, w.e, relayNode)
	if bs.RelayConfig == nil {
		t.Fatalf("bridge relay_config: %+v", bs.RelayConfig)
	}
	var s nodeproto.RelaySession
	for _, c := range bs.RelayConfig.Sessions {
		if c.SessionID == px.Relay.SessionID {
			s = c
		}
	}
	if s.SessionID != px.Relay.SessionID || s.PeerAToken == "" || s.PeerBToken == "" || s.PeerAToken == s.PeerBToken {
		t.Errorf("bridge session %+v, want %s with two distinct tokens", s, px.Relay.SessionID)
	}
	ends := map[string]string{s.PeerAID: s.PeerAEndpoint, s.PeerBID: s.PeerBEndpoint}
	if ends[w.x.ID] != "198.51.100.2:51820" || ends[w.y.ID] != "198.51.100.3:51820" {
		t.Errorf("session endpoints %+v", ends)
	}
	tokens := map[string]string{s.PeerAID: s.PeerAToken, s.PeerBID: s.PeerBToken}
	if tokens[w.x.ID] != px.Relay.Token {
		t.Errorf("x's token is not the bridge's token of x")
	}
	if time.Until(s.ExpiresAt) <= 0 || time.Until(s.ExpiresAt) > 5*time.Minute {
		t.Errorf("expires_at %v", s.ExpiresAt)
	}
	if bs.BridgeConfig == nil || bs.BridgeConfig.Relay == nil || !bs.BridgeConfig.Relay.Enabled || bs.BridgeConfig.Relay.ListenPort != 51821 {
		t.Errorf("bridge_config.relay %+v", bs.BridgeConfig)
	}
	return s.SessionID
}

// TestRelayAssignment: a symmetric + cone pair is relayed through the
// enabled relay (level 2 gets the session, level 1 the relay address, the
// bridge the session with exact endpoints and tokens); disabling that
// relay moves the pair to the other; a direct path ends the relay.
func TestRelayAssignment(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newRelayWorld(t, b)
			e := w.e

			// Relay configuration: a non-bridge Resource is refused.
			if st, raw := e.Do(t, "PUT", "/v1/projects/"+w.fx.Project.ID+"/resources/"+resourceOf(t, e, w.x.ID)+"/bridge/relay",
				apiv1.BridgeRelayConfigureRequest{Enabled: true, ListenPort: 51821}, nil); st != 409 || !strings.Contains(string(raw), "resource_not_bridge") {
				t.Errorf("non-bridge: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "PUT", "/v1/projects/"+w.fx.Project.ID+"/resources/"+w.res1+"/bridge/relay",
				apiv1.BridgeRelayConfigureRequest{Enabled: true, ListenPort: 70000}, nil); st != 400 || !strings.Contains(string(raw), "relay_port_out_of_range") {
				t.Errorf("port: %d %s", st, raw)
			}
			if st, _ := e.Do(t, "GET", "/v1/projects/"+w.fx.Project.ID+"/resources/"+w.res1+"/bridge/relay", nil, nil); st != 404 {
				t.Errorf("unconfigured relay: %d, want 404", st)
			}
			r := w.setRelay(t, w.res1, true, 200)
			if r.ResourceID != w.res1 || !r.Enabled || r.ListenPort != 51821 || r.CreatedAt.IsZero() {
				t.Errorf("relay answer %+v", r)
			}
			var got apiv1.BridgeRelayResponse
			if st, raw := e.Do(t, "GET", "/v1/projects/"+w.fx.Project.ID+"/resources/"+w.res1+"/bridge/relay", nil, &got); st != 200 || got != r {
				t.Errorf("GET relay: %d %s, want %+v", st, raw, r)
			}
			if n := len(ofType(eventsOf(t, e, w.br1.ID), nodeproto.EventBridgeConfigUpdated)); n != 1 {
				t.Errorf("%d bridge_config_updated, want 1", n)
			}
			w.setRelay(t, w.res1, true, 200) // identical: no event
			if n := len(ofType(eventsOf(t, e, w.br1.ID), nodeproto.EventBridgeConfigUpdated)); n != 1 {
				t.Errorf("identical PUT: %d bridge_config_updated, want 1", n)
			}

			// The pair x (symmetric) – y (full cone) is relayed.
			report(t, e, w.y, `{"public_endpoint":"198.51.100.3:51820","nat_type":"full_cone"}`, 200)
			report(t, e, w.x, map[string]any{"endpoint": "198.51.100.2:51820", "nat_type": "symmetric",
				"reported_at": time.Now().UTC()}, 200)
			first := w.relayedThrough(t, w.br1, w.relay1)
			// x–y and x–br2 (br2's relay is not enabled yet).
			if n := len(ofType(eventsOf(t, e, w.br1.ID), nodeproto.EventRelaySessionAssigned)); n != 2 {
				t.Errorf("%d relay_session_assigned to the bridge, want 2", n)
			}
			// y (level 1) heard x's new endpoint: the relay address.
			ys := ofType(eventsOf(t, e, w.y.ID), nodeproto.EventPeerEndpointChanged)
			var last nodeproto.Peer
			json.Unmarshal(ys[len(ys)-1].Payload, &last)
			if last.ID != w.x.ID || last.Endpoint != w.relay1 {
				t.Errorf("y's last peer_endpoint_changed: %+v, want x at %s", last, w.relay1)
			}

			// Another relay comes up; the first is disabled: the pair moves.
			heartbeat(t, e, w.br2, nil)
			w.setRelay(t, w.res2, true, 200)
			w.setRelay(t, w.res1, false, 200)
			second := w.relayedThrough(t, w.br2, w.relay2)
			if second == first {
				t.Error("the session did not change with the relay")
			}
			// Both of br1's sessions end: x–y moved to br2, and x–br2 has no
			// relay left but its own side, so it goes direct.
			revoked := ofType(eventsOf(t, e, w.br1.ID), nodeproto.EventRelaySessionRevoked)
			if len(revoked) != 2 || !strings.Contains(string(revoked[0].Payload)+string(revoked[1].Payload), first) {
				t.Errorf("revocations to the first bridge: %+v", revoked)
			}
			if px := peerIn(t, state(t, e, w.x), w.br2.ID); px.Relay != nil {
				t.Errorf("x–br2 still relayed through the disabled relay: %+v", px.Relay)
			}
			if bs := state(t, e, w.br1); bs.RelayConfig == nil || len(bs.RelayConfig.Sessions) != 0 ||
				bs.BridgeConfig.Relay == nil || bs.BridgeConfig.Relay.Enabled {
				t.Errorf("disabled bridge still relays: %+v %+v", bs.RelayConfig, bs.BridgeConfig)
			}

			// x is no longer behind a symmetric NAT: back to direct.
			report(t, e, w.x, map[string]any{"endpoint": "198.51.100.2:51820", "nat_type": "full_cone",
				"reported_at": time.Now().UTC()}, 200)
			if px := peerIn(t, state(t, e, w.x), w.y.ID); px.Relay != nil || px.FallbackEndpoint != "" {
				t.Errorf("direct pair still relayed: %+v", px)
			}
			if py := peerIn(t, state(t, e, w.y), w.x.ID); py.Endpoint != "198.51.100.2:51820" {
				t.Errorf("level-1 view after relay: %q", py.Endpoint)
			}
			// br2 carried x–y and x–br1 (br1's relay being off): both end.
			if n := len(ofType(eventsOf(t, e, w.br2.ID), nodeproto.EventRelaySessionRevoked)); n != 2 {
				t.Errorf("%d revocations to the second bridge, want 2", n)
			}
		})
	}
}

// TestDirectFailedRelaysAndDownReroutes: a direct_failed report relays a
// pair of cone NATs; a relayed path reported down (after the grace)
// moves it to another relay through the sweep.
func TestDirectFailedRelays(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			w := newRelayWorld(t, b)
			e := w.e
			w.setRelay(t, w.res1, true, 200)
			report(t, e, w.y, `{"public_endpoint":"198.51.100.3:51820","nat_type":"full_cone"}`, 200)
			report(t, e, w.x, map[string]any{"endpoint": "198.51.100.2:51820", "nat_type": "full_cone",
				"reported_at": time.Now().UTC()}, 200)
			if px := peerIn(t, state(t, e, w.x), w.y.ID); px.Relay != nil {
				t.Fatalf("cone pair relayed without a failure: %+v", px.Relay)
			}
			heartbeat(t, e, w.x, map[string]any{"mesh": map[string]any{"peers": []map[string]any{
				{"peer_id": w.y.ID, "path": "down", "endpoint": "198.51.100.3:51820", "direct_failed": true,
					"rx_bytes": 0, "tx_bytes": 10},
				{"peer_id": "not-a-peer-id-0000", "path": "direct", "rx_bytes": 0, "tx_bytes": 0},
			}}})
			first := w.relayedThrough(t, w.br1, w.relay1)

			// The relayed path goes down past the grace: another relay.
			heartbeat(t, e, w.br2, nil)
			w.setRelay(t, w.res2, true, 200)
			if _, err := e.Server.DB.ExecContext(context.Background(),
				`UPDATE relay_sessions SET created_at = created_at - 60000000`); err != nil {
				t.Fatal(err)
			}
			heartbeat(t, e, w.x, map[string]any{"mesh": map[string]any{"peers": []map[string]any{
				{"peer_id": w.y.ID, "path": "down", "endpoint": w.relay1, "direct_failed": true, "rx_bytes": 0, "tx_bytes": 10},
			}}})
			if second := w.relayedThrough(t, w.br2, w.relay2); second == first {
				t.Error("the pair stayed on the relay reported down")
			}

			// Renewal: a session close to expiry is re-sent by the sweep.
			before := len(ofType(eventsOf(t, e, w.br2.ID), nodeproto.EventRelaySessionAssigned))
			if _, err := e.Server.DB.ExecContext(context.Background(),
				`UPDATE relay_sessions SET expires_at = expires_at - 180000000`); err != nil {
				t.Fatal(err)
			}
			if err := e.Server.NAT.Sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			assigned := ofType(eventsOf(t, e, w.br2.ID), nodeproto.EventRelaySessionAssigned)
			if len(assigned) != before+1 {
				t.Fatalf("%d assignments after the sweep, want %d", len(assigned), before+1)
			}
			var rs nodeproto.RelaySession
			json.Unmarshal(assigned[len(assigned)-1].Payload, &rs)
			if time.Until(rs.ExpiresAt) < 3*time.Minute {
				t.Errorf("renewed expires_at %v", rs.ExpiresAt)
			}

			// Tombstone: y's report goes stale; x no longer renders its
			// endpoint and the pair loses its relay (no endpoint to relay).
			if _, err := e.Server.DB.ExecContext(context.Background(),
				`UPDATE node_endpoints SET stale_after = 0 WHERE node_id = $1`, w.y.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.Server.NAT.Sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			if px := peerIn(t, state(t, e, w.x), w.y.ID); px.Endpoint != "" {
				t.Errorf("tombstoned endpoint still rendered: %+v", px)
			}
		})
	}
}
