package agent_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh/meshtest"
)

// slowStateCP hands out state only when the test releases it.
type slowStateCP struct {
	stubCP
	asked   chan struct{}
	release chan *nodeproto.StateResponse
}

func (c *slowStateCP) State(ctx context.Context) (*nodeproto.StateResponse, error) {
	c.asked <- struct{}{}
	return <-c.release, nil
}

// TestSnapshotOlderThanAnEventIsNotApplied: an event applied while a
// state request is in flight is not rolled back by that (older) snapshot;
// the agent fetches state again instead.
func TestSnapshotOlderThanAnEventIsNotApplied(t *testing.T) {
	cp := &slowStateCP{asked: make(chan struct{}, 4), release: make(chan *nodeproto.StateResponse, 4)}
	fake := meshtest.New(16)
	nsk, _ := nodeproto.NewNSK(nil)
	kp, _ := identity.NewKeyPair(nil)
	a, err := agent.New(agent.Options{
		Identity: &identity.Identity{NodeID: "n1", MeshIP: "10.100.0.2", NSK: nsk, PrivateKey: kp.Private, PublicKey: kp.Public,
			RegistrationSigningKey: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="},
		Store: stubStore{}, ControlPlane: cp, Mesh: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Reconcile(context.Background()) }()
	<-cp.asked
	p := testPeer("late")
	raw, _ := json.Marshal(p)
	a.HandleEvent(context.Background(), &envelope.Envelope{EventType: nodeproto.EventPeerAdded, EventID: "e", IssuedAt: time.Now(), Payload: raw})
	cp.release <- &nodeproto.StateResponse{} // a snapshot from before the peer existed
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := fake.Applied().Peers; len(got) != 1 || got[0].ID != "late" {
		t.Fatalf("applied peers %+v: the older snapshot rolled back the event", got)
	}
	// The agent asks for a fresh snapshot (Trigger); a run loop would now
	// fetch again. Drive that fetch by hand with a snapshot that has it.
	cp.release <- &nodeproto.StateResponse{Peers: []nodeproto.Peer{p}}
	if err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-cp.asked
	if got := fake.Applied().Peers; len(got) != 1 {
		t.Fatalf("after a fresh snapshot: %+v", got)
	}
}
