// Package agent is plexd's core once a node has joined: the reconcile loop
// that keeps the mesh equal to the desired state (state snapshots plus
// verified events, applied through mesh.Engine.Set), the event stream with
// full envelope verification and signing-key handling, the heartbeat with
// real status fields, and the read-only view the local node API and
// `plexd status` serve.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/relay"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

// ControlPlane is what the agent calls on the control plane.
// *cpclient.Client implements it.
type ControlPlane interface {
	State(ctx context.Context) (*nodeproto.StateResponse, error)
	Heartbeat(ctx context.Context, hb nodeproto.Heartbeat) (*nodeproto.HeartbeatResponse, error)
	Drift(ctx context.Context, r nodeproto.DriftReport) error
	OpenEvents(ctx context.Context, lastEventID string) (io.ReadCloser, error)
}

// IdentityStore persists the identity (signing keys) and the stream cursor.
// *identity.Store implements it.
type IdentityStore interface {
	Save(id *identity.Identity) error
	SaveCursor(id string) error
	LoadCursor() (string, error)
	SaveApplied(data []byte) error
	LoadApplied() ([]byte, error)
}

// Options configures an Agent.
type Options struct {
	Identity     *identity.Identity // required
	Store        IdentityStore      // required
	ControlPlane ControlPlane       // required
	Mesh         mesh.Engine        // required
	// Rotator rotates the WireGuard key at level 2; nil never rotates.
	Rotator KeyRotator
	Mode    string
	Clock   clock.Clock
	Logger  *slog.Logger
	// Bridge runs bridge_config and relay_config in bridge mode; nil on
	// plain nodes.
	Bridge Bridge
	// HeartbeatInterval and ReconcileInterval default to 30 s and 60 s.
	HeartbeatInterval, ReconcileInterval time.Duration
	// BinaryChecksum returns the lowercase hex SHA-256 of the running
	// binary; ExecutableChecksum when nil.
	BinaryChecksum func() (string, error)
	// Stream tunes the event stream (backoff, idle timeout, polling);
	// Source, Verifier, Handler, Cursor and Poll are filled by the agent.
	Stream stream.Options

	// Firewall enforces the state's policy block (level 2); nil enforces
	// nothing and the node filters no traffic.
	Firewall Firewall

	// Access receives session_setup and session_revoked (level 2); nil
	// ignores them.
	Access Access

	// Actions receives action_request (§12.5); nil ignores them.
	Actions Actions

	// Telemetry is shown in Status; nil shows none.
	Telemetry Telemetry
}

// Agent runs one joined node.
type Agent struct {
	opts     Options
	log      *slog.Logger
	clk      clock.Clock
	verifier *envelope.Verifier
	trigger  chan struct{} // a reconcile is wanted now; buffered 1

	// reconcileMu serialises Reconcile (loop, stream poll, tests), so a
	// snapshot fetched later is never overwritten by one fetched earlier.
	reconcileMu sync.Mutex

	// applyMu serialises apply, so the mesh sees desired states in order
	// and applied always matches the last Set.
	applyMu sync.Mutex

	// fw is what the firewall refused (guarded by its own lock).
	fw enforcement

	// mu guards everything below.
	mu           sync.Mutex
	started      time.Time // when Run began
	checksum     string    // of the running binary, "" when unknown
	id           identity.Identity
	desired      Desired
	applied      Desired   // the snapshot last fully applied
	haveApplied  bool      // applied holds a real snapshot
	lastApply    time.Time // when applied last changed or was confirmed
	conn         stream.State
	strm         *stream.Stream
	eventGen     uint64 // bumped by every event that changes desired
	rotateWanted bool   // a WireGuard key rotation was asked for
	revoked      bool
}

// New validates opts and builds an Agent with the identity's newest keys.
func New(opts Options) (*Agent, error) {
	switch {
	case opts.Identity == nil:
		return nil, errors.New("agent: Options.Identity is required")
	case opts.Store == nil:
		return nil, errors.New("agent: Options.Store is required")
	case opts.ControlPlane == nil:
		return nil, errors.New("agent: Options.ControlPlane is required")
	case opts.Mesh == nil:
		return nil, errors.New("agent: Options.Mesh is required")
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 30 * time.Second
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = 60 * time.Second
	}
	if opts.BinaryChecksum == nil {
		opts.BinaryChecksum = ExecutableChecksum
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	clk := clock.OrReal(opts.Clock)
	ks, err := trustedKeys(opts.Identity, clk.Now())
	if err != nil {
		return nil, err
	}
	v, err := envelope.NewVerifier(envelope.VerifierOptions{Keys: ks, Now: clk.Now})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a := &Agent{
		opts: opts, log: opts.Logger, clk: clk, verifier: v, trigger: make(chan struct{}, 1),
		id: *opts.Identity, desired: emptyDesired(), applied: emptyDesired(), conn: stream.StateStopped,
	}
	return a, nil
}

// trustedKeys is the identity's newest verified set, else its
// registration key.
func trustedKeys(id *identity.Identity, now time.Time) (envelope.KeySet, error) {
	if id.SigningKeys.Current != "" {
		sk := id.SigningKeys
		if sk.Previous != "" && !now.Before(sk.TransitionExpires) {
			sk.Previous, sk.TransitionExpires = "", time.Time{}
		}
		if ks, err := envelope.KeySetFromWire(sk); err == nil {
			return ks, nil
		}
	}
	ks, err := envelope.KeySetFromWire(nodeproto.SigningKeys{Current: id.RegistrationSigningKey})
	if err != nil {
		return envelope.KeySet{}, fmt.Errorf("agent: registration signing key: %w", err)
	}
	return ks, nil
}

// Verifier is the agent's envelope verifier (for tests and diagnostics).
func (a *Agent) Verifier() *envelope.Verifier { return a.verifier }

// ExecutableChecksum is the lowercase hex SHA-256 of os.Executable.
func ExecutableChecksum() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Run runs the node until ctx ends or the control plane revokes the node.
func (a *Agent) Run(ctx context.Context) error {
	sum, err := a.opts.BinaryChecksum()
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "binary checksum unavailable", slog.String(logkey.Error, err.Error()))
	}
	a.mu.Lock()
	a.started, a.checksum = a.clk.Now(), sum
	a.mu.Unlock()
	a.loadApplied(ctx)
	a.enforceApplied(ctx)
	cursor, err := a.opts.Store.LoadCursor()
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "event cursor unreadable; resuming at the head", slog.String(logkey.Error, err.Error()))
	}
	so := a.opts.Stream
	so.Source, so.Verifier, so.Handler, so.Cursor = a.opts.ControlPlane, a.verifier, a, a.opts.Store
	so.LastEventID, so.Poll, so.OnState = cursor, a.Reconcile, a.setConn
	// A stream opened without Last-Event-ID starts at the live head (L6):
	// events appended between the last state pull and the attach were not
	// sent, so pull state once the stream is attached.
	so.OnConnect = func(resumedFrom string) {
		if resumedFrom == "" {
			a.Trigger()
		}
	}
	if so.Logger == nil {
		so.Logger = a.log
	}
	if so.Clock == nil {
		so.Clock = a.clk
	}
	st, err := stream.New(so)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.mu.Lock()
	a.strm = st
	a.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var streamErr error
	wg.Go(func() {
		streamErr = st.Run(ctx)
		if errors.Is(streamErr, stream.ErrRevoked) {
			a.mu.Lock()
			a.revoked = true
			a.mu.Unlock()
			a.log.LogAttrs(ctx, slog.LevelError, "node credential revoked; stopping")
			cancel()
		}
	})
	wg.Go(func() { a.heartbeatLoop(ctx) })
	a.reconcileLoop(ctx)
	wg.Wait()
	return streamErr
}

// Trigger asks for a reconcile cycle now.
func (a *Agent) Trigger() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

func (a *Agent) reconcileLoop(ctx context.Context) {
	for {
		a.rotateIfWanted(ctx)
		if err := a.Reconcile(ctx); err != nil && ctx.Err() == nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "reconcile failed", slog.String(logkey.Error, err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-a.trigger:
		case <-a.clk.After(a.opts.ReconcileInterval):
		}
	}
}

// Reconcile pulls state, makes it the desired state and applies it.
func (a *Agent) Reconcile(ctx context.Context) error {
	a.reconcileMu.Lock()
	defer a.reconcileMu.Unlock()
	a.mu.Lock()
	gen := a.eventGen
	a.mu.Unlock()
	st, pol, err := a.fetchState(ctx)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if st.SigningKeys != nil {
		a.installKeys(ctx, *st.SigningKeys, "state")
	}
	d := fromState(st, func(what string, err error) {
		a.log.LogAttrs(ctx, slog.LevelWarn, "state element dropped", slog.String(logkey.Kind, what), slog.String(logkey.Error, err.Error()))
	})
	d.Policy = pol
	a.mu.Lock()
	raced := a.eventGen != gen
	if !raced {
		a.desired = d
	}
	a.mu.Unlock()
	if raced {
		// An event changed desired while the snapshot was in flight; the
		// snapshot may predate it. Fetch again rather than roll it back.
		a.Trigger()
		return nil
	}
	return a.apply(ctx)
}

// apply makes the mesh equal to the desired state and, if the snapshot
// changed, reports the corrections as drift.
func (a *Agent) apply(ctx context.Context) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.mu.Lock()
	d := a.desired.clone()
	id := a.id
	old := a.applied
	a.mu.Unlock()
	cfg := d.meshConfig(mesh.Config{
		Interface: nodeproto.DefaultMeshInterface, ListenPort: nodeproto.DefaultMeshPort,
		Address: id.MeshIP, PrivateKey: id.PrivateKey,
	})
	a.enforce(ctx, d.Policy) // before the peers it governs are configured
	if err := a.opts.Mesh.Set(ctx, cfg); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	a.applyBridge(ctx, d)
	corr := append(d.corrections(old), policyDrift(old.Policy, d.Policy)...)
	a.mu.Lock()
	a.applied, a.haveApplied, a.lastApply = d, true, a.clk.Now()
	a.mu.Unlock()
	if len(corr) == 0 {
		return nil
	}
	if raw, err := json.Marshal(d); err == nil {
		if err := a.opts.Store.SaveApplied(raw); err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "persisting the applied state failed", slog.String(logkey.Error, err.Error()))
		}
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "desired state applied", slog.Int(logkey.Corrections, len(corr)), slog.Int(logkey.Peers, len(cfg.Peers)))
	if err := a.opts.ControlPlane.Drift(ctx, nodeproto.DriftReport{Timestamp: a.clk.Now().UTC(), Corrections: corr}); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "drift report failed", slog.String(logkey.Error, err.Error()))
	}
	return nil
}

// loadApplied restores the snapshot applied before a restart, so only
// real changes count as drift. A damaged file costs one full report.
func (a *Agent) loadApplied(ctx context.Context) {
	raw, err := a.opts.Store.LoadApplied()
	if err != nil || raw == nil {
		return
	}
	d := emptyDesired()
	if err := json.Unmarshal(raw, &d); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "applied state unreadable; the first cycle reports everything", slog.String(logkey.Error, err.Error()))
		return
	}
	if d.Peers == nil {
		d.Peers = map[string]nodeproto.Peer{}
	}
	if d.Metadata == nil {
		d.Metadata = map[string]string{}
	}
	a.mu.Lock()
	a.applied = d
	a.mu.Unlock()
}

// installKeys verifies and installs a signing key set from state or a
// signing_key_rotated event, persisting it (level 2). A malformed set is
// logged and the current keys stay (§8 level 2).
func (a *Agent) installKeys(ctx context.Context, sk nodeproto.SigningKeys, from string) {
	now := a.clk.Now()
	if sk.Previous != "" && !now.Before(sk.TransitionExpires) {
		sk.Previous, sk.TransitionExpires = "", time.Time{} // past its deadline: only current counts
	}
	ks, err := envelope.KeySetFromWire(sk)
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "signing keys refused", slog.String(logkey.Source, from), slog.String(logkey.Error, err.Error()))
		return
	}
	cur := a.verifier.Keys()
	if cur.Current.Public.Equal(ks.Current.Public) && cur.Previous.Public.Equal(ks.Previous.Public) && cur.TransitionExpires.Equal(ks.TransitionExpires) {
		return
	}
	if err := a.verifier.SetKeys(ks); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "signing keys refused", slog.String(logkey.Source, from), slog.String(logkey.Error, err.Error()))
		return
	}
	a.mu.Lock()
	a.id.SigningKeys = sk
	id := a.id
	a.mu.Unlock()
	a.log.LogAttrs(ctx, slog.LevelInfo, "signing keys installed", slog.String(logkey.Source, from), slog.String(logkey.Current, sk.Current))
	if err := a.opts.Store.Save(&id); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "persisting signing keys failed", slog.String(logkey.Error, err.Error()))
	}
}

func (a *Agent) setConn(s stream.State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conn = s
}

// PeerStatus is one peer in Status.
type PeerStatus struct {
	ID        string `json:"id"`
	MeshIP    string `json:"mesh_ip"`
	PublicKey string `json:"public_key"`
	// Endpoint is the "ip:port" WireGuard last used, else the configured one.
	Endpoint   string   `json:"endpoint"`
	AllowedIPs []string `json:"allowed_ips"`
	// Path is direct, relayed or down as the engine sees it ("" when the
	// engine does not observe paths).
	Path string `json:"path,omitempty"`
	// LastHandshake is the last completed WireGuard handshake.
	LastHandshake *time.Time `json:"last_handshake,omitempty"`
	// RTTMillis is the last tunnel probe's round trip (0: none yet).
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// DirectFailed: no handshake on any direct endpoint.
	DirectFailed bool `json:"direct_failed,omitempty"`
}

// Status is what `plexd status` prints.
type Status struct {
	NodeID         string       `json:"node_id"`
	MeshIP         string       `json:"mesh_ip"`
	Mode           string       `json:"mode"`
	Backend        string       `json:"backend"`
	Connection     string       `json:"connection"`
	ProtocolLevel  int          `json:"protocol_level,omitempty"`
	LastEventID    string       `json:"last_event_id,omitempty"`
	EventsAccepted int          `json:"events_accepted"`
	EventsRejected int          `json:"events_rejected"`
	LastReconcile  *time.Time   `json:"last_reconcile,omitempty"`
	Uptime         string       `json:"uptime"`
	Peers          []PeerStatus `json:"peers"`
	// Relay is the bridge relay's counters (bridge mode only).
	Relay *relay.Stats `json:"relay,omitempty"`

	// Policy is the firewall and its counters (nil without one).
	Policy *PolicyStatus `json:"policy,omitempty"`

	// Access is the access listener (nil without one).
	Access *AccessStatus `json:"access,omitempty"`

	// Telemetry is the telemetry queue and its counters (nil without it).
	Telemetry *TelemetryStatus `json:"telemetry,omitempty"`
}

// Status reports the running agent.
func (a *Agent) Status() Status {
	pol := a.policyStatus()
	acc := a.accessStatus()
	var tel *TelemetryStatus
	if a.opts.Telemetry != nil {
		ts := a.opts.Telemetry.TelemetryStatus()
		tel = &ts
	}
	stats := a.opts.Mesh.Stats()
	paths := make(map[string]nodeproto.PeerStatus, len(stats.Peers))
	for _, p := range stats.Peers {
		paths[p.PeerID] = p
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{
		NodeID: a.id.NodeID, MeshIP: a.id.MeshIP, Mode: a.opts.Mode, Backend: stats.Backend,
		Connection: string(a.conn), Uptime: a.uptimeLocked(), Peers: []PeerStatus{},
	}
	s.Relay = a.relayStatus()
	s.Policy = pol
	s.Access = acc
	s.Telemetry = tel
	if a.revoked {
		s.Connection = string(stream.StateRevoked)
	}
	if a.opts.Rotator != nil {
		s.ProtocolLevel = a.opts.Rotator.Level()
	}
	if a.strm != nil {
		s.LastEventID = a.strm.LastEventID()
		s.EventsAccepted, s.EventsRejected = a.strm.Counts()
	}
	if !a.lastApply.IsZero() {
		t := a.lastApply.UTC()
		s.LastReconcile = &t
	}
	for _, p := range mesh.PeersFromMap(a.applied.Peers) {
		ps := PeerStatus{ID: p.ID, MeshIP: p.MeshIP, PublicKey: p.PublicKey, Endpoint: p.Endpoint, AllowedIPs: slices.Clone(p.AllowedIPs)}
		if o, ok := paths[p.ID]; ok {
			ps.Path, ps.RTTMillis, ps.DirectFailed = o.Path, o.RTTMillis, o.DirectFailed
			if o.Endpoint != "" {
				ps.Endpoint = o.Endpoint
			}
			if !o.LastHandshake.IsZero() {
				t := o.LastHandshake.UTC()
				ps.LastHandshake = &t
			}
		}
		s.Peers = append(s.Peers, ps)
	}
	return s
}

func (a *Agent) uptimeLocked() string {
	if a.started.IsZero() {
		return "0s"
	}
	return a.clk.Now().Sub(a.started).Round(time.Second).String()
}

// View is the desired state the local node API serves (§12.8).
type View struct {
	Metadata   map[string]string
	Data       []nodeproto.DataEntry
	SecretRefs []nodeproto.SecretRef
}

// View returns a copy of the applied metadata, data and secret refs.
func (a *Agent) View() View {
	a.mu.Lock()
	defer a.mu.Unlock()
	return View{Metadata: maps.Clone(a.applied.Metadata), Data: slices.Clone(a.applied.Data), SecretRefs: slices.Clone(a.applied.SecretRefs)}
}
