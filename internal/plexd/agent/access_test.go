package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh/meshtest"
)

// fakeAccess records what the agent hands the access listener.
type fakeAccess struct {
	// mu guards setups and revoked.
	mu      sync.Mutex
	setups  []nodeproto.SessionSetup
	revoked []string
}

func (f *fakeAccess) Setup(s nodeproto.SessionSetup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setups = append(f.setups, s)
}

func (f *fakeAccess) Revoke(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
}

func (f *fakeAccess) AccessStatus() agent.AccessStatus {
	return agent.AccessStatus{Port: nodeproto.DefaultAccessPort, Sessions: 2}
}

// accessAgent builds an agent (not running) with acc as its listener.
func accessAgent(t *testing.T, acc agent.Access) (*agent.Agent, *cptest.Server) {
	t.Helper()
	cp := cptest.New(t, cptest.Options{})
	id, store, cl := joinNode(t, cp, t.TempDir())
	ag, err := agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Mesh: meshtest.New(16), Access: acc})
	if err != nil {
		t.Fatal(err)
	}
	return ag, cp
}

func event(t *testing.T, typ string, payload any) *envelope.Envelope {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return &envelope.Envelope{EventType: typ, EventID: "evt_1", Payload: raw}
}

func TestSessionEventsReachTheAccessListener(t *testing.T) {
	acc := &fakeAccess{}
	ag, _ := accessAgent(t, acc)
	ctx := context.Background()
	good := nodeproto.SessionSetup{
		SessionID: "sess-1", JTI: "sess-1", Kind: nodeproto.SessionTCP,
		Target:    nodeproto.SessionTarget{TCP: &nodeproto.TCPTarget{Host: "127.0.0.1", Port: 5432}},
		ExpiresAt: time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second), Source: "100.64.0.1",
	}
	ag.HandleEvent(ctx, event(t, nodeproto.EventSessionSetup, good))
	tooLong := good
	tooLong.SessionID, tooLong.ExpiresAt = "sess-2", time.Now().Add(2*time.Hour).UTC().Truncate(time.Second)
	ag.HandleEvent(ctx, event(t, nodeproto.EventSessionSetup, tooLong))
	noTarget := good
	noTarget.SessionID, noTarget.Target = "sess-3", nodeproto.SessionTarget{}
	ag.HandleEvent(ctx, event(t, nodeproto.EventSessionSetup, noTarget))
	ag.HandleEvent(ctx, event(t, nodeproto.EventSessionRevoked, nodeproto.SessionRevoked{SessionID: "sess-1"}))
	ag.HandleEvent(ctx, event(t, nodeproto.EventSessionRevoked, nodeproto.SessionRevoked{SessionID: ""}))

	acc.mu.Lock()
	defer acc.mu.Unlock()
	if len(acc.setups) != 1 || acc.setups[0].SessionID != "sess-1" || acc.setups[0].Target.TCP.Port != 5432 {
		t.Errorf("setups %+v, want only the valid one", acc.setups)
	}
	if len(acc.revoked) != 1 || acc.revoked[0] != "sess-1" {
		t.Errorf("revoked %v", acc.revoked)
	}
	if st := ag.Status().Access; st == nil || st.Port != nodeproto.DefaultAccessPort || st.Sessions != 2 {
		t.Errorf("status access %+v", st)
	}
}

func TestSessionEventsWithoutAccessListener(t *testing.T) {
	ag, _ := accessAgent(t, nil)
	ag.HandleEvent(context.Background(), event(t, nodeproto.EventSessionRevoked, nodeproto.SessionRevoked{SessionID: "s"}))
	if ag.Status().Access != nil {
		t.Error("status has an access object without a listener")
	}
}

func TestSigningPublicKeys(t *testing.T) {
	ag, cp := accessAgent(t, nil)
	keys := ag.SigningPublicKeys()
	if len(keys) != 1 || !bytes.Equal(keys[0], cp.Signer().Public()) {
		t.Fatalf("keys %v, want the registration key", keys)
	}
	old := keys[0]
	next, _, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.StdEncoding.EncodeToString
	live := nodeproto.SigningKeys{Current: b64(next), Previous: b64(old), TransitionExpires: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	ag.HandleEvent(context.Background(), event(t, nodeproto.EventSigningKeyRotated, live))
	keys = ag.SigningPublicKeys()
	if len(keys) != 2 || !bytes.Equal(keys[0], next) || !bytes.Equal(keys[1], old) {
		t.Fatalf("keys during the transition %v", keys)
	}
	over := nodeproto.SigningKeys{Current: b64(next), Previous: b64(old), TransitionExpires: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)}
	ag.HandleEvent(context.Background(), event(t, nodeproto.EventSigningKeyRotated, over))
	if keys = ag.SigningPublicKeys(); len(keys) != 1 || !bytes.Equal(keys[0], next) {
		t.Fatalf("keys after the transition %v, want only the current", keys)
	}
}
