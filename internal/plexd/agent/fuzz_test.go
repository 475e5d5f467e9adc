package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

// stubCP answers every call with an empty success.
type stubCP struct{}

func (stubCP) State(context.Context) (*nodeproto.StateResponse, error) {
	return &nodeproto.StateResponse{}, nil
}
func (stubCP) Heartbeat(context.Context, nodeproto.Heartbeat) (*nodeproto.HeartbeatResponse, error) {
	return &nodeproto.HeartbeatResponse{}, nil
}
func (stubCP) Drift(context.Context, nodeproto.DriftReport) error { return nil }
func (stubCP) OpenEvents(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("no stream")
}

type stubStore struct{}

func (stubStore) Save(*identity.Identity) error { return nil }
func (stubStore) SaveCursor(string) error       { return nil }
func (stubStore) LoadCursor() (string, error)   { return "", nil }
func (stubStore) SaveApplied([]byte) error      { return nil }
func (stubStore) LoadApplied() ([]byte, error)  { return nil, nil }

var fuzzSeed = bytes.Repeat([]byte{7}, 32)

func fuzzAgent(t testing.TB) *agent.Agent {
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	pub := base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	nsk, _ := nodeproto.NewNSK(nil)
	kp, _ := identity.NewKeyPair(nil)
	a, err := agent.New(agent.Options{
		Identity: &identity.Identity{NodeID: "n1", MeshIP: "10.100.0.2", NSK: nsk, PrivateKey: kp.Private, PublicKey: kp.Public,
			RegistrationSigningKey: pub},
		Store: stubStore{}, ControlPlane: stubCP{}, Mesh: mesh.NewMemory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// FuzzHandleEvent feeds arbitrary verified-looking envelopes (any type,
// any payload bytes) to the event handler: it must never panic.
func FuzzHandleEvent(f *testing.F) {
	types := nodeproto.EventTypes()
	f.Add(uint8(0), []byte(`{"current":"AAAA"}`))
	f.Add(uint8(3), []byte(`{"id":"p","public_key":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","mesh_ip":"10.1.1.1","endpoint":"","allowed_ips":["10.1.1.1/32"],"psk":""}`))
	f.Add(uint8(1), []byte(`{"metadata":{"a":"b"},"data":[{"key":"..","version":1,"payload":{}}]}`))
	f.Add(uint8(4), []byte(`{"peer_id":null}`))
	f.Add(uint8(2), []byte(`null`))
	f.Add(uint8(200), []byte(`[]`))
	a := fuzzAgent(f)
	f.Fuzz(func(t *testing.T, ti uint8, payload []byte) {
		typ := "unknown_type"
		if int(ti) < len(types) {
			typ = types[ti]
		}
		a.HandleEvent(context.Background(), &envelope.Envelope{EventType: typ, EventID: "e1", IssuedAt: time.Now(), Payload: payload})
	})
}

// FuzzConsume feeds arbitrary bytes to the stream reader and verifier: it
// must never panic and must return (the reader ends at EOF).
func FuzzConsume(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	k, _ := envelope.NewLocalKey(priv)
	sg, _ := envelope.NewSigner(envelope.SignerOptions{Key: k})
	env, _ := sg.Sign(context.Background(), envelope.Event{Type: "peer_removed", ID: "e1", Payload: json.RawMessage(`{"peer_id":"x"}`)})
	good, _ := json.Marshal(env)
	f.Add(append(append([]byte("id: 1\nevent: peer_removed\ndata: "), good...), "\n\n"...))
	f.Add([]byte(": keepalive\n\nid: 2\ndata: {\n\n"))
	f.Add([]byte("data: {\"event_type\":\"x\",\"event_id\":\"y\",\"issued_at\":\"2026-01-01T00:00:00Z\",\"nonce\":\"n\",\"payload\":{},\"signature\":\"AA==\"}\n\n"))
	f.Add([]byte("\xef\xbb\xbfid\x00: 3\r\ndata\r\n\r\n"))
	a := fuzzAgent(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := stream.New(stream.Options{Source: stubCP{}, Verifier: a.Verifier(), Handler: a})
		if err != nil {
			t.Fatal(err)
		}
		s.Consume(context.Background(), bytes.NewReader(data))
	})
}
