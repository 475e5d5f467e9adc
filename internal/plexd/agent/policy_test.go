package agent_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// snapshotCP serves a state snapshot with a policy block and records
// drift reports.
type snapshotCP struct {
	stubCP
	mu     sync.Mutex
	policy *nodeproto.NodeStatePolicy
	drift  []nodeproto.DriftCorrection
}

func (c *snapshotCP) Snapshot(context.Context) (*nodeproto.StateSnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &nodeproto.StateSnapshot{ContractState: nodeproto.ContractState{Policy: c.policy}}, nil
}

func (c *snapshotCP) Drift(_ context.Context, r nodeproto.DriftReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drift = append(c.drift, r.Corrections...)
	return nil
}

func webPolicy(fp string, port int) *nodeproto.NodeStatePolicy {
	return &nodeproto.NodeStatePolicy{RevisionID: "r-" + fp, Fingerprint: fp, Rules: []nodeproto.CompiledRule{
		{Action: "allow", Protocol: "tcp", SourceCIDR: "10.100.0.3/32", DestinationCIDR: "10.100.0.2/32", Ports: &nodeproto.PortRange{From: port, To: port}},
	}}
}

var synPort uint16 = 40000

// syn is a TCP SYN of a new flow (a new source port each time; a tracked
// flow would pass whatever the ruleset) from 10.100.0.3 to the node.
func syn(port uint16) []byte {
	synPort++
	b := make([]byte, 40)
	b[0], b[8], b[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(b[2:], 40)
	copy(b[12:], netip.MustParseAddr("10.100.0.3").AsSlice())
	copy(b[16:], netip.MustParseAddr("10.100.0.2").AsSlice())
	binary.BigEndian.PutUint16(b[20:], synPort)
	binary.BigEndian.PutUint16(b[22:], port)
	b[32], b[33] = 5<<4, 0x02
	return b
}

// TestPolicyEnforcedFromStateAndEvents: the state's policy block reaches
// the firewall, a level-2 policy_updated replaces it without a state
// pull, {} asks for one, a refused block keeps the previous ruleset and
// shows in heartbeat and status, null ends enforcement.
func TestPolicyEnforcedFromStateAndEvents(t *testing.T) {
	fw := firewall.NewUserspace(firewall.UserspaceOptions{})
	cp := &snapshotCP{policy: webPolicy("fp1", 5432)}
	nsk, _ := nodeproto.NewNSK(nil)
	kp, _ := identity.NewKeyPair(nil)
	a, err := agent.New(agent.Options{
		Identity: &identity.Identity{NodeID: "n1", MeshIP: "10.100.0.2", NSK: nsk, PrivateKey: kp.Private, PublicKey: kp.Public,
			RegistrationSigningKey: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="},
		Store: stubStore{}, ControlPlane: cp, Mesh: mesh.NewMemory(), Firewall: fw,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if a.Heartbeat().Policy != nil {
		t.Fatal("a heartbeat reports a policy before any was enforced")
	}
	if err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !fw.Inbound(syn(5432)) || fw.Inbound(syn(22)) {
		t.Fatal("the state's ruleset is not enforced")
	}
	hb := a.Heartbeat().Policy
	if hb == nil || hb.Fingerprint != "fp1" || hb.Backend != "userspace" || hb.Denied != 1 || hb.Logged != 0 {
		t.Fatalf("heartbeat policy %+v", hb)
	}
	if st := a.Status().Policy; st == nil || !st.Enforcing || st.Rules != 1 || st.Denied != 1 {
		t.Fatalf("status policy %+v", st)
	}
	if len(cp.drift) == 0 || cp.drift[len(cp.drift)-1].Detail != "ruleset fp1" {
		t.Fatalf("drift %+v", cp.drift)
	}
	// A level-2 policy_updated carries the new ruleset itself.
	event := func(p any) {
		raw, _ := json.Marshal(p)
		a.HandleEvent(ctx, &envelope.Envelope{EventType: nodeproto.EventPolicyUpdated, EventID: "e", IssuedAt: time.Now(), Payload: raw})
	}
	event(webPolicy("fp2", 22))
	if fw.Inbound(syn(5432)) || !fw.Inbound(syn(22)) {
		t.Fatal("the event's ruleset is not enforced")
	}
	// A block the node cannot enforce exactly is refused; fp2 stays.
	bad := webPolicy("fp3", 80)
	bad.Rules[0].Protocol = "sctp"
	event(bad)
	if hb := a.Heartbeat().Policy; hb.Fingerprint != "fp2" || hb.Error == "" {
		t.Fatalf("after a refused block: %+v", hb)
	}
	if !fw.Inbound(syn(22)) {
		t.Fatal("a refused block changed enforcement")
	}
	// {} (level 1) asks for state, which now says: no policy control.
	cp.mu.Lock()
	cp.policy = nil
	cp.mu.Unlock()
	event(struct{}{})
	if err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !fw.Inbound(syn(5432)) || a.Status().Policy.Enforcing || a.Status().Policy.Error != "" {
		t.Fatalf("null policy still enforced: %+v", a.Status().Policy)
	}
}

// appliedStore hands out a persisted applied state.
type appliedStore struct {
	stubStore
	raw []byte
}

func (s appliedStore) LoadApplied() ([]byte, error) { return s.raw, nil }

// downCP is a control plane that never answers state.
type downCP struct{ stubCP }

func (downCP) State(ctx context.Context) (*nodeproto.StateResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestRestartEnforcesTheAppliedRuleset: a restarted agent enforces the
// ruleset it applied before, even while the control plane is down.
func TestRestartEnforcesTheAppliedRuleset(t *testing.T) {
	raw, _ := json.Marshal(agent.Desired{Policy: webPolicy("fp1", 5432)})
	fw := firewall.NewUserspace(firewall.UserspaceOptions{})
	nsk, _ := nodeproto.NewNSK(nil)
	kp, _ := identity.NewKeyPair(nil)
	a, err := agent.New(agent.Options{
		Identity: &identity.Identity{NodeID: "n1", MeshIP: "10.100.0.2", NSK: nsk, PrivateKey: kp.Private, PublicKey: kp.Public,
			RegistrationSigningKey: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="},
		Store: appliedStore{raw: raw}, ControlPlane: downCP{}, Mesh: mesh.NewMemory(), Firewall: fw,
		BinaryChecksum: func() (string, error) { return "", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for fw.Stats().Fingerprint != "fp1" {
		if time.Now().After(deadline) {
			t.Fatalf("the applied ruleset is not enforced after a restart: %+v", fw.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fw.Inbound(syn(22)) || !fw.Inbound(syn(5432)) {
		t.Fatal("the restored ruleset decides wrongly")
	}
}
