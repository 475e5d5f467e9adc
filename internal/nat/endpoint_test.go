package nat_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

type endpointAnswer struct {
	PeerEndpoints []nodeproto.PeerEndpoint `json:"peer_endpoints"`
	AcceptedAt    time.Time                `json:"accepted_at"`
	StaleAfter    time.Time                `json:"stale_after"`
}

// TestEndpointReports covers both wire forms, their errors, the event a
// change sends to the peers (a complete Peer, NT1) and the silence of an
// identical report.
func TestEndpointReports(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			fx := e.NewEnrolment(t, "d", "10.100.0.0/16", 10)
			a := register(t, e, fx.Token.Token, 1)
			bn := register(t, e, fx.Token.Token, 2)

			// Level-1 form.
			var ans endpointAnswer
			raw := report(t, e, a, `{"public_endpoint":"198.51.100.1:51820","nat_type":"full_cone"}`, 200)
			if err := json.Unmarshal(raw, &ans); err != nil {
				t.Fatal(err)
			}
			if ans.PeerEndpoints == nil || len(ans.PeerEndpoints) != 0 || !strings.Contains(string(raw), `"peer_endpoints":[]`) {
				t.Errorf("peer_endpoints = %s, want []", raw)
			}
			if ans.AcceptedAt.IsZero() || ans.StaleAfter.Sub(ans.AcceptedAt) != 5*time.Minute {
				t.Errorf("accepted_at %v stale_after %v, want 5 minutes apart", ans.AcceptedAt, ans.StaleAfter)
			}
			changed := ofType(eventsOf(t, e, bn.ID), nodeproto.EventPeerEndpointChanged)
			if len(changed) != 1 {
				t.Fatalf("%d peer_endpoint_changed for the peer, want 1", len(changed))
			}
			var p nodeproto.Peer
			if err := json.Unmarshal(changed[0].Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.ID != a.ID || p.Endpoint != "198.51.100.1:51820" || p.MeshIP != a.MeshIP || p.PublicKey == "" ||
				len(p.AllowedIPs) == 0 || p.Validate() != nil {
				t.Errorf("event payload is not the complete Peer: %+v", p)
			}
			if got := peerIn(t, state(t, e, bn), a.ID).Endpoint; got != "198.51.100.1:51820" {
				t.Errorf("state.peers endpoint %q", got)
			}

			// Identical report: no event.
			report(t, e, a, `{"public_endpoint":"198.51.100.1:51820","nat_type":"full_cone"}`, 200)
			if n := len(ofType(eventsOf(t, e, bn.ID), nodeproto.EventPeerEndpointChanged)); n != 1 {
				t.Errorf("identical report sent events: %d, want 1 in all", n)
			}

			// Contract form, gzip, from the level-2 node: the answer lists a.
			body := map[string]any{"endpoint": "[2001:db8::2]:51820", "nat_type": "port_restricted",
				"reported_at": time.Now().UTC(), "candidates": []string{"192.168.1.5:51820", "192.168.1.5:51820"}}
			st, raw := send(t, e, bn.NSK, http.MethodPut, "/v1/nodes/"+bn.ID+"/endpoint", body, 2, true)
			if st != 200 {
				t.Fatalf("contract form: %d %s", st, raw)
			}
			if err := json.Unmarshal(raw, &ans); err != nil {
				t.Fatal(err)
			}
			if len(ans.PeerEndpoints) != 1 || ans.PeerEndpoints[0] != (nodeproto.PeerEndpoint{PeerID: a.ID, Endpoint: "198.51.100.1:51820"}) {
				t.Errorf("peer_endpoints %+v", ans.PeerEndpoints)
			}
			// The level-2 viewer sees a's keepalive (a is behind NAT);
			// the level-1 viewer sees b's endpoint, not the level-2 members.
			if pa := peerIn(t, state(t, e, bn), a.ID); pa.PersistentKeepalive != 25 {
				t.Errorf("keepalive %d, want 25", pa.PersistentKeepalive)
			}
			pb := peerIn(t, state(t, e, a), bn.ID)
			if pb.Endpoint != "[2001:db8::2]:51820" || pb.Candidates != nil || pb.PersistentKeepalive != 0 {
				t.Errorf("level-1 view of b: %+v", pb)
			}

			// Errors.
			old := time.Now().Add(-2 * time.Minute).UTC().Format(time.RFC3339)
			for name, c := range map[string]struct {
				body string
				st   int
				code string
			}{
				"clock skew": {`{"endpoint":"198.51.100.9:1","nat_type":"symmetric","reported_at":"` + old + `"}`, 400, "endpoint_clock_skew"},
				"loopback":   {`{"endpoint":"127.0.0.1:51820","nat_type":"none"}`, 400, "endpoint_unparseable"},
				"link-local": {`{"public_endpoint":"169.254.1.1:51820","nat_type":"none"}`, 400, "endpoint_unparseable"},
				"hostname":   {`{"endpoint":"example.com:51820","nat_type":"none"}`, 400, "endpoint_unparseable"},
				"disagree":   {`{"endpoint":"198.51.100.1:1","public_endpoint":"198.51.100.2:1","nat_type":"none"}`, 400, "endpoint_unparseable"},
				"nat type":   {`{"endpoint":"198.51.100.1:1","nat_type":"cone"}`, 400, nodeproto.CodeInvalidRequest},
				"not json":   {`{"endpoint":`, 400, nodeproto.CodeInvalidRequest},
				"too large":  {`{"endpoint":"198.51.100.1:1","nat_type":"none","x":"` + strings.Repeat("a", 5000) + `"}`, 413, "endpoint_body_too_large"},
			} {
				st, raw := call(t, e, a.NSK, http.MethodPut, "/v1/nodes/"+a.ID+"/endpoint", c.body, 1)
				if st != c.st || !strings.Contains(string(raw), `"code":"`+c.code+`"`) {
					t.Errorf("%s: %d %s, want %d %s", name, st, raw, c.st, c.code)
				}
			}
			if st, raw := call(t, e, a.NSK, http.MethodPut, "/v1/nodes/"+bn.ID+"/endpoint",
				`{"endpoint":"198.51.100.1:1","nat_type":"none"}`, 1); st != 403 {
				t.Errorf("another node's NSK: %d %s", st, raw)
			}

			// A removed node: 410.
			if st, raw := call(t, e, a.NSK, http.MethodPost, "/v1/nodes/"+a.ID+"/deregister", nil, 1); st/100 != 2 {
				t.Fatalf("deregister: %d %s", st, raw)
			}
			if st, raw := call(t, e, a.NSK, http.MethodPut, "/v1/nodes/"+a.ID+"/endpoint",
				`{"public_endpoint":"198.51.100.1:51820","nat_type":"full_cone"}`, 1); st != 410 ||
				!strings.Contains(string(raw), "endpoint_peer_gone") {
				t.Errorf("removed node: %d %s, want 410 endpoint_peer_gone", st, raw)
			}
		})
	}
}
