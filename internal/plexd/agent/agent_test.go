package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh/meshtest"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

const waitFor = 10 * time.Second

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	t     *testing.T
	cp    *cptest.Server
	id    *identity.Identity
	store *identity.Store
	mesh  *meshtest.Fake
	agent *agent.Agent
	logs  *syncBuffer
	done  chan error
	stop  context.CancelFunc
}

// joinNode registers one node against cp and returns its identity.
func joinNode(t *testing.T, cp *cptest.Server, dir string) (*identity.Identity, *identity.Store, *cpclient.Client) {
	t.Helper()
	tok := "psb_" + strings.ReplaceAll(t.Name(), "/", "_") + dir[len(dir)-3:]
	cp.AddToken(tok, 1)
	store, err := identity.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := cpclient.New(cpclient.Options{Server: cp.URL})
	if err != nil {
		t.Fatal(err)
	}
	id, err := enroll.Join(context.Background(), enroll.Options{Client: cl, Store: store, Token: tok, Server: cp.URL, Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	cl.SetCredentials(id.NodeID, id.NSK)
	return id, store, cl
}

// start joins a node and runs its agent until the test ends.
func start(t *testing.T, cp *cptest.Server) *harness {
	t.Helper()
	id, store, cl := joinNode(t, cp, t.TempDir())
	h := &harness{t: t, cp: cp, id: id, store: store, mesh: meshtest.New(256), logs: &syncBuffer{}, done: make(chan error, 1)}
	ag, err := agent.New(agent.Options{
		Identity: id, Store: store, ControlPlane: cl, Rotator: cl, Mesh: h.mesh, Mode: "node",
		Logger:            slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HeartbeatInterval: time.Hour, ReconcileInterval: time.Hour,
		BinaryChecksum: func() (string, error) { return strings.Repeat("ab", 32), nil },
		Stream:         stream.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.agent = ag
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(waitFor):
			t.Error("agent did not stop")
		}
		if strings.Contains(h.logs.String(), id.NSK) {
			t.Error("the NSK appears in the agent's log")
		}
	})
	return h
}

func (h *harness) waitConnect() cptest.Connect {
	h.t.Helper()
	for {
		select {
		case c := <-h.cp.Connects:
			if c.NodeID == h.id.NodeID {
				return c
			}
		case <-time.After(waitFor):
			h.t.Fatal("no stream connection")
		}
	}
}

// waitPeers waits until the mesh holds exactly ids.
func (h *harness) waitPeers(ids ...string) mesh.Config {
	h.t.Helper()
	slices.Sort(ids)
	deadline := time.After(waitFor)
	for {
		select {
		case cfg := <-h.mesh.Sets:
			var got []string
			for _, p := range cfg.Peers {
				got = append(got, p.ID)
			}
			if slices.Equal(got, ids) {
				return cfg
			}
		case <-deadline:
			h.t.Fatalf("mesh never held peers %v; last applied %+v\nlogs:\n%s", ids, h.mesh.Applied().Peers, h.logs.String())
		}
	}
}

// waitLog waits until the agent's log contains s.
func (h *harness) waitLog(s string) bool {
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(h.logs.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

var peerN = 0

func testPeer(id string) nodeproto.Peer {
	peerN++
	key := make([]byte, 32)
	key[0], key[1] = byte(peerN), 1
	ip := fmt.Sprintf("10.100.9.%d", peerN%250+1)
	return nodeproto.Peer{ID: id, PublicKey: base64.StdEncoding.EncodeToString(key), MeshIP: ip, AllowedIPs: []string{ip + "/32"}}
}

// signed returns the compact wire JSON of ev signed by sg.
func signed(t *testing.T, sg *envelope.Signer, typ string, payload any) []byte {
	t.Helper()
	raw, err := envelope.MarshalPayload(payload)
	if err != nil {
		t.Fatal(err)
	}
	env, err := sg.Sign(context.Background(), envelope.Event{Type: typ, ID: fmt.Sprintf("evt_%d", time.Now().UnixNano()), Payload: raw})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func shiftedSigner(t *testing.T, cp *cptest.Server, priv ed25519.PrivateKey, shift time.Duration) *envelope.Signer {
	t.Helper()
	k, err := envelope.NewLocalKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := envelope.NewSigner(envelope.SignerOptions{Key: k, Now: func() time.Time { return time.Now().Add(shift) }})
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

// TestStreamRejectsBadEnvelopesAndSurvives sends each rejection case of
// §7.4 followed by a good event on the same connection: the bad event is
// never applied, the good one is, and the stream never reconnects.
func TestStreamRejectsBadEnvelopesAndSurvives(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	cpPriv := signerPriv(t, cp)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)

	tampered := func() []byte {
		data := signed(t, cp.Signer(), nodeproto.EventPeerAdded, testPeer("bad-tampered"))
		return bytes.Replace(data, []byte(`"mesh_ip":"10.100.9.`), []byte(`"mesh_ip":"10.100.8.`), 1)
	}
	replayed := signed(t, cp.Signer(), nodeproto.EventPeerAdded, testPeer("good-replayed"))
	cases := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"tampered", tampered(), "bad_signature"},
		{"stale", signed(t, shiftedSigner(t, cp, cpPriv, -5*time.Minute-time.Second), nodeproto.EventPeerAdded, testPeer("bad-stale")), "stale"},
		{"future", signed(t, shiftedSigner(t, cp, cpPriv, 5*time.Minute+time.Second), nodeproto.EventPeerAdded, testPeer("bad-future")), "future"},
		{"wrong key", signed(t, shiftedSigner(t, cp, otherPriv, 0), nodeproto.EventPeerAdded, testPeer("bad-wrongkey")), "bad_signature"},
		{"not json", []byte(`{"event_type":"peer_added",`), "malformed"},
		{"bad signature encoding", bytes.Replace(signed(t, cp.Signer(), nodeproto.EventPeerAdded, testPeer("bad-b64")), []byte(`"signature":"`), []byte(`"signature":"!!`), 1), "malformed"},
	}
	good := []string{}
	for i, c := range cases {
		cp.EmitRaw(h.id.NodeID, c.data)
		id := fmt.Sprintf("good-%d", i)
		cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer(id))
		good = append(good, id)
		h.waitPeers(good...) // may come from a state pull before the stream delivers it
		if !h.waitLog(`"reason":"` + c.reason + `"`) {
			t.Errorf("%s: no rejection with reason %s logged", c.name, c.reason)
		}
	}
	// Replayed nonce: the first delivery is accepted, the second rejected.
	cp.EmitRaw(h.id.NodeID, replayed)
	good = append(good, "good-replayed")
	h.waitPeers(good...)
	cp.EmitRaw(h.id.NodeID, replayed)
	cp.Emit(h.id.NodeID, nodeproto.EventPeerRemoved, nodeproto.PeerRemoved{PeerID: "good-0"})
	h.waitPeers(good[1:]...)
	if !h.waitLog(`"reason":"replayed_nonce"`) {
		t.Error("replayed nonce not rejected")
	}
	h.waitLog(`"event_type":"peer_removed"`)
	st := h.agent.Status()
	if st.EventsRejected != len(cases)+1 {
		t.Errorf("rejected %d envelopes, want %d", st.EventsRejected, len(cases)+1)
	}
	select {
	case c := <-cp.Connects:
		t.Fatalf("stream reconnected (%+v): bad input must not end it", c)
	default:
	}
}

// signerPriv extracts nothing secret from cp: it rotates cp onto a key the
// test holds, so crafted envelopes are signed by the trusted key.
func signerPriv(t *testing.T, cp *cptest.Server) ed25519.PrivateKey {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cp.RotateKey(cp.NewSigner(priv), time.Now().Add(time.Hour))
	return priv
}

// TestStreamSurvivesOversizedLineAndHostilePayloads: an oversized line ends
// one connection (the reader cannot resync mid-line) and the agent
// reconnects; malformed keys and payloads are dropped without effect.
func TestStreamSurvivesOversizedLineAndHostilePayloads(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	cp.Emit(h.id.NodeID, nodeproto.EventSigningKeyRotated, map[string]string{"current": "not-base64"})
	cp.Emit(h.id.NodeID, nodeproto.EventSigningKeyRotated, map[string]string{"current": ""})
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, map[string]any{"id": "bad", "public_key": "AAAA", "mesh_ip": "x"})
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, map[string]any{"id": 5, "allowed_ips": "x"})
	cp.Emit(h.id.NodeID, nodeproto.EventNodeStateUpdated, map[string]any{"metadata": 7})
	cp.Emit(h.id.NodeID, "no_such_event", map[string]any{})
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("p1"))
	h.waitPeers("p1")
	cp.EmitRaw(h.id.NodeID, bytes.Repeat([]byte("x"), envelope.MaxLineBytes+10))
	c := h.waitConnect() // reconnects after the oversized line
	if c.LastEventID == "" {
		t.Error("reconnect after an oversized line sent no Last-Event-ID")
	}
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("p2"))
	h.waitPeers("p1", "p2")
	// The trusted keys survived the malformed key events.
	ks := h.agent.Verifier().Keys()
	if !bytes.Equal(ks.Current.Public, cp.Signer().Public()) {
		t.Error("a malformed signing key update replaced the trusted key")
	}
}

// TestReconnectReplaysWithLastEventID: the control plane drops the stream
// (a restart), events are appended while the agent is away, and the agent
// resumes with Last-Event-ID and applies each missed event exactly once.
func TestReconnectReplaysWithLastEventID(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	seq := cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("a"))
	h.waitPeers("a")
	// The peer may have come from a state pull; wait for the stream itself.
	for deadline := time.Now().Add(waitFor); h.agent.Status().LastEventID != fmt.Sprint(seq); {
		if time.Now().After(deadline) {
			t.Fatal("the stream never delivered the first event")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cp.SetUnavailable(true)
	cp.DropStreams()
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("b"))
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("c"))
	time.Sleep(50 * time.Millisecond) // let a reconnect attempt hit the 503
	cp.SetUnavailable(false)
	c := h.waitConnect()
	if c.LastEventID != fmt.Sprint(seq) {
		t.Fatalf("reconnected with Last-Event-ID %q, want %d", c.LastEventID, seq)
	}
	h.waitPeers("a", "b", "c")
	if got, _ := h.store.LoadCursor(); got != fmt.Sprint(seq+2) {
		t.Errorf("persisted cursor %q, want %d", got, seq+2)
	}
	acc, rej := h.agent.Status().EventsAccepted, h.agent.Status().EventsRejected
	if acc != 3 || rej != 0 {
		t.Errorf("accepted %d rejected %d events, want 3 and 0 (each exactly once)", acc, rej)
	}
}

// TestSigningKeyRotationLosesNoEvent rotates the control plane's key during
// a live stream: the rotation event is signed by the old key, later events
// by the new one, and all arrive; the new keys are persisted.
func TestSigningKeyRotationLosesNoEvent(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("before"))
	next := cp.NewSigner(nil)
	cp.RotateKey(next, time.Now().Add(time.Hour))
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("after"))
	h.waitPeers("after", "before")
	if !bytes.Equal(h.agent.Verifier().Keys().Current.Public, next.Public()) {
		t.Error("the rotated key is not current")
	}
	saved, err := h.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	if saved.SigningKeys.Current != base64.StdEncoding.EncodeToString(next.Public()) || saved.SigningKeys.Previous == "" {
		t.Errorf("persisted keys %+v do not name the new current and the previous key", saved.SigningKeys)
	}
	if h.agent.Status().EventsRejected != 0 {
		t.Error("an event was rejected across the rotation")
	}
}

// TestStateReconcileAndDrift: the first non-empty state yields one drift
// report; an unchanged state yields none; a changed peer is reported.
func TestStateReconcileAndDrift(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	p := testPeer("s1")
	cp.SetState(h.id.NodeID, nodeproto.StateResponse{Peers: []nodeproto.Peer{p}, Policies: []nodeproto.Policy{},
		Metadata: map[string]string{"team": "a"}, Data: []nodeproto.DataEntry{}, SecretRefs: []nodeproto.SecretRef{}})
	if err := h.agent.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitPeers("s1")
	d := <-cp.Drifts
	types := []string{}
	for _, c := range d.Corrections {
		types = append(types, c.Type)
	}
	if !slices.Contains(types, nodeproto.DriftPeerAdded) || !slices.Contains(types, nodeproto.DriftMetadataUpdated) {
		t.Errorf("drift %v lacks peer_added and metadata_updated", types)
	}
	if err := h.agent.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-cp.Drifts:
		t.Fatalf("unchanged state reported drift %+v", d)
	case <-time.After(100 * time.Millisecond):
	}
	if v := h.agent.View(); v.Metadata["team"] != "a" {
		t.Errorf("view metadata %v", v.Metadata)
	}
}

// TestHeartbeatCarriesRealFields checks status, uptime, checksum and mesh.
func TestHeartbeatCarriesRealFields(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	hb := <-cp.Heartbeats
	if hb.NodeID != h.id.NodeID || hb.BinaryChecksum != strings.Repeat("ab", 32) || hb.Uptime == "" || hb.Timestamp.IsZero() {
		t.Errorf("heartbeat %+v lacks real fields", hb)
	}
	if hb.Mesh == nil {
		t.Fatal("heartbeat has no mesh member")
	}
	h.waitConnect()
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("x"))
	h.waitPeers("x")
	h.agent.SendHeartbeat(context.Background())
	// A periodic heartbeat sent before the peer was applied may still be
	// queued ahead of ours: read until one reflects the peer, bounded by
	// waitFor, so the test does not depend on scheduling (issue 17).
	deadline := time.After(waitFor)
	for {
		select {
		case hb = <-cp.Heartbeats:
		case <-deadline:
			t.Fatalf("last heartbeat %+v: want healthy with 1 peer on %s", hb, nodeproto.DefaultMeshInterface)
		}
		if hb.Status == agent.StatusHealthy && hb.Mesh != nil && hb.Mesh.PeerCount == 1 &&
			hb.Mesh.Interface == nodeproto.DefaultMeshInterface {
			return
		}
	}
}

// TestRevocationStopsTheAgent: a 401 on the stream ends Run with
// stream.ErrRevoked.
func TestRevocationStopsTheAgent(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	cl, _ := cpclient.New(cpclient.Options{Server: cp.URL})
	cl.SetCredentials(h.id.NodeID, h.id.NSK)
	if err := cl.Deregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	cp.DropStreams()
	select {
	case err := <-h.done:
		h.done <- err
		if err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("Run returned %v, want revocation", err)
		}
	case <-time.After(waitFor):
		t.Fatal("agent kept running after revocation")
	}
	if h.agent.Status().Connection != string(stream.StateRevoked) {
		t.Errorf("status connection %q", h.agent.Status().Connection)
	}
}

// TestRotateKeysAtLevel2 honours rotate_keys by rotating the WireGuard key
// through POST /v1/keys/rotate: the control plane learns the new public
// key, the identity is saved with it, and the mesh runs on it.
func TestRotateKeysAtLevel2(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	old := h.id.PrivateKey
	cp.Emit(h.id.NodeID, nodeproto.EventPeerAdded, testPeer("r1"))
	h.waitPeers("r1")
	cp.Emit(h.id.NodeID, nodeproto.EventRotateKeys, nodeproto.Empty{})
	deadline := time.Now().Add(waitFor)
	for {
		saved, err := h.store.Load()
		if err == nil && saved.PrivateKey != old && saved.PendingPrivateKey == "" && cp.PublicKey(h.id.NodeID) == saved.PublicKey {
			if got := h.mesh.Applied(); got.PrivateKey != saved.PrivateKey || len(got.Peers) != 1 {
				continue // the apply lands right after the save
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation: saved %+v, server key %s\n%s", saved, cp.PublicKey(h.id.NodeID), h.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRotateKeysAtLevel1OnlyReconciles: against a level-1 control plane
// rotate_keys changes no key (E4, §5.2).
func TestRotateKeysAtLevel1OnlyReconciles(t *testing.T) {
	cp := cptest.New(t, cptest.Options{MaxLevel: 1})
	h := start(t, cp)
	h.waitConnect()
	h.waitPeers()
	before := cp.PublicKey(h.id.NodeID)
	cp.Emit(h.id.NodeID, nodeproto.EventRotateKeys, nodeproto.Empty{})
	if !h.waitLog("needs protocol level 2") {
		t.Fatal("rotate_keys at level 1 was not declined")
	}
	if cp.PublicKey(h.id.NodeID) != before {
		t.Error("the key was rotated against a level-1 control plane")
	}
}

// TestRestartReportsOnlyRealDrift: the applied snapshot survives a
// restart, so an unchanged state after it posts no drift report and a
// changed one posts only the change.
func TestRestartReportsOnlyRealDrift(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	id, store, cl := joinNode(t, cp, t.TempDir())
	p1 := testPeer("keep")
	cp.SetState(id.NodeID, nodeproto.StateResponse{Peers: []nodeproto.Peer{p1}, Policies: []nodeproto.Policy{},
		Metadata: map[string]string{"a": "b"}, Data: []nodeproto.DataEntry{{Key: "k", ContentType: "application/json",
			Payload: json.RawMessage(`{ "x" : 1 }`), Version: 1, UpdatedAt: time.Unix(5, 0).UTC()}}, SecretRefs: []nodeproto.SecretRef{}})
	newAgent := func() *agent.Agent {
		a, err := agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Mesh: meshtest.New(8),
			HeartbeatInterval: time.Hour, ReconcileInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// runOnce runs an agent until its first reconcile and returns the drift
	// report it posted, or nil when it posted none within a grace period.
	runOnce := func(a *agent.Agent) *nodeproto.DriftReport {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		for deadline := time.Now().Add(waitFor); a.Status().LastReconcile == nil; {
			if time.Now().After(deadline) {
				t.Fatal("no reconcile")
			}
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case d := <-cp.Drifts:
			return &d
		case <-time.After(300 * time.Millisecond):
			return nil
		}
	}
	if d := runOnce(newAgent()); d == nil || len(d.Corrections) != 3 {
		t.Fatalf("first run drift %+v, want peer, metadata and data", d)
	}
	if d := runOnce(newAgent()); d != nil {
		t.Fatalf("a restart with unchanged state reported drift %+v", d.Corrections)
	}
	cp.SetState(id.NodeID, nodeproto.StateResponse{Peers: []nodeproto.Peer{p1, testPeer("new")}, Policies: []nodeproto.Policy{},
		Metadata: map[string]string{"a": "b"}, Data: []nodeproto.DataEntry{{Key: "k", ContentType: "application/json",
			Payload: json.RawMessage(`{"x":1}`), Version: 1, UpdatedAt: time.Unix(5, 0).UTC()}}, SecretRefs: []nodeproto.SecretRef{}})
	d := runOnce(newAgent())
	if d == nil || len(d.Corrections) != 1 || d.Corrections[0].Type != nodeproto.DriftPeerAdded || d.Corrections[0].Detail != "peer new" {
		t.Errorf("after a real change: %+v, want only peer_added new", d)
	}
}
