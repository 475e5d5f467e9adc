package events_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/events"
)

// testClock is a settable clock.
type testClock struct {
	// mu guards now.
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// contractSnapshot is the contract's NodeStateSnapshot as a generated
// client sees it (the members this test checks).
type contractSnapshot struct {
	Peers []struct {
		NodeID    string `json:"node_id"`
		MeshIP    string `json:"mesh_ip"`
		PublicKey string `json:"public_key"`
	} `json:"peers"`
	Reachability struct {
		State           string     `json:"state"`
		LastHeartbeatAt *time.Time `json:"last_heartbeat_at"`
		ChangedAt       time.Time  `json:"changed_at"`
	} `json:"reachability"`
	State   contractBuckets `json:"state"`
	Reports contractBuckets `json:"reports"`
}

type contractBuckets struct {
	Metadata []contractEntry `json:"metadata"`
	Data     []contractEntry `json:"data"`
	Reports  []contractEntry `json:"reports"`
}

type contractEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// getState fetches n1's state and decodes it both as raw members and in
// the contract's form.
func getState(t *testing.T, p *plane) (map[string]json.RawMessage, contractSnapshot) {
	t.Helper()
	resp, raw := p.call(t, "n1", http.MethodGet, "/v1/nodes/n1/state", nil, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("state: %d %s", resp.StatusCode, raw)
	}
	var members map[string]json.RawMessage
	var snap contractSnapshot
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	return members, snap
}

// Issue 8: GET /v1/nodes/{id}/state answers the union of the node-protocol
// and contract forms: the contract's required executions, sessions,
// reachability, policy, bridge, state and reports are present (policy and
// bridge null, the lists []), peers carry node_id, and the state buckets
// hold the node's metadata and synced reports. Before the fix only the
// level-1 members were sent.
func TestStateContractBlocks(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			p.addNode(t, "n1", "d1", "10.100.0.1", `{"team":"a","n":3}`, false)
			p.addNode(t, "n2", "d1", "10.100.0.2", `{}`, false)
			report := `{"entries":[{"key":"k1","content_type":"application/json","payload":{"a":1},"version":1,"updated_at":"2026-01-01T00:00:00Z"}]}`
			if resp, raw := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/report", []byte(report), false); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("report: %d %s", resp.StatusCode, raw)
			}
			members, snap := getState(t, p)
			for k, want := range map[string]string{"executions": "[]", "sessions": "[]", "policy": "null", "bridge": "null"} {
				if got, ok := members[k]; !ok || string(got) != want {
					t.Errorf("%s = %s (present %v), want %s", k, got, ok, want)
				}
			}
			for _, k := range []string{"reachability", "state", "reports", "peers", "policies", "data", "secret_refs"} {
				if _, ok := members[k]; !ok {
					t.Errorf("member %s missing", k)
				}
			}
			if len(snap.Peers) != 1 || snap.Peers[0].NodeID != "n2" || snap.Peers[0].MeshIP != "10.100.0.2" || snap.Peers[0].PublicKey == "" {
				t.Errorf("peers %+v", snap.Peers)
			}
			if snap.Reachability.State != "unreachable" || snap.Reachability.ChangedAt.IsZero() || snap.Reachability.LastHeartbeatAt != nil {
				t.Errorf("reachability before any heartbeat %+v", snap.Reachability)
			}
			st := snap.State
			if len(st.Metadata) != 1 || st.Metadata[0] != (contractEntry{"team", "a"}) || st.Data == nil ||
				len(st.Reports) != 1 || st.Reports[0] != (contractEntry{"k1", `{"a":1}`}) {
				t.Errorf("state %+v", st)
			}
			if string(members["state"]) != string(members["reports"]) {
				t.Errorf("reports %s does not mirror state %s", members["reports"], members["state"])
			}
		})
	}
}

// Issue 8: reachability.changed_at is when the state last changed: the
// first heartbeat of the current healthy run, not the last heartbeat (the
// old projection), the moment the last heartbeat went stale, and the start
// of a new run after a gap.
func TestReachabilityChangedAt(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			clock := &testClock{now: t0}
			p := startPlane(t, newDatabase(t, b), nil, func(c *events.Config) { c.Now = clock.Now })
			p.addNode(t, "n1", "d1", "10.100.0.1", `{}`, false)
			beat := func(at time.Time) {
				clock.set(at)
				if resp, raw := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/heartbeat", []byte("{}"), false); resp.StatusCode != http.StatusOK {
					t.Fatalf("heartbeat: %d %s", resp.StatusCode, raw)
				}
			}
			expect := func(at time.Time, state string, changed time.Time) {
				t.Helper()
				clock.set(at)
				_, snap := getState(t, p)
				if r := snap.Reachability; r.State != state || !r.ChangedAt.Equal(changed) {
					t.Errorf("at +%v: %s changed_at +%v, want %s changed_at +%v", at.Sub(t0), r.State, r.ChangedAt.Sub(t0), state, changed.Sub(t0))
				}
			}
			beat(t0)
			beat(t0.Add(30 * time.Second))
			beat(t0.Add(60 * time.Second))
			expect(t0.Add(61*time.Second), "healthy", t0)
			// The default stale window (the test Domain has no row) is 90 s.
			expect(t0.Add(200*time.Second), "stale", t0.Add(150*time.Second))
			beat(t0.Add(210 * time.Second))
			expect(t0.Add(211*time.Second), "healthy", t0.Add(210*time.Second))
		})
	}
}
