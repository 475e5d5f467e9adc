// Package cptest is a faithful wire-level stand-in of the control plane's
// node endpoints that plexd uses (spec/node-protocol.md §4 register, §5.2
// heartbeat, deregister, report, drift, §6 event stream, §9.1 state, §11
// secrets with the level-2 sealing key and sealed delivery of
// docs/design/0007-secrets.md), served by net/http/httptest. It exists
// because the real endpoints are being built concurrently; it follows the
// spec's status codes, headers, NSK authentication (§3.3), durable
// per-node event log with Last-Event-ID replay (§6.3), signing at emission
// with a fresh nonce and issued_at (§7.3), key-per-entry across rotation
// (§8 K5) and keepalive comments (F3). The production plexd code path is identical
// against it and against the real control plane.
//
// Tests observe the agent through channels (Heartbeats, Drifts, Reports,
// Connects, SealingKeys, SecretFetches) and drive it with Emit, EmitRaw,
// SetState, SetSecret, SetSealingKey and RotateKey.
package cptest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Connect is one event stream connection as the server saw it.
type Connect struct {
	NodeID      string
	LastEventID string
	Header      http.Header
}

// Options configures a Server.
type Options struct {
	// Keepalive is the comment interval (F3); 15 s when 0.
	Keepalive time.Duration
	// Now is the server clock; time.Now when nil.
	Now func() time.Time
	// MaxLevel is the highest protocol level served (M of N3);
	// nodeproto.MaxLevel when 0.
	MaxLevel int
}

type entry struct {
	seq uint64
	ev  envelope.Event
	key *envelope.Signer // the key current at append (L1)
	raw []byte           // when set, emitted verbatim instead of signing
}

type node struct {
	id, nsk, meshIP, publicKey string
	sealingKey                 string // Key32; "" until registered (level 2)
	revoked                    bool
	log                        []entry
	state                      nodeproto.StateResponse
}

// Server is the stand-in control plane.
type Server struct {
	URL      string
	srv      *httptest.Server
	t        testing.TB
	now      func() time.Time
	ka       time.Duration
	maxLevel int

	Heartbeats chan nodeproto.Heartbeat
	Drifts     chan nodeproto.DriftReport
	Reports    chan nodeproto.ReportSync
	Connects   chan Connect
	// SealingKeys sees every sealing-key PUT and its answer.
	SealingKeys chan SealingKeyPut
	// SecretFetches sees every secret fetch and its answer.
	SecretFetches chan SecretFetch
	// Capabilities, Executions and Violations receive the executor's
	// calls (actions.go).
	Capabilities chan nodeproto.Capabilities
	Executions   chan ExecutionCall
	Violations   chan nodeproto.IntegrityViolation

	// mu guards everything below.
	mu       sync.Mutex
	current  *envelope.Signer
	previous *envelope.Signer
	deadline time.Time
	tokens   map[string]int
	nodes    map[string]*node
	byNSK    map[string]*node
	nextIP   int
	secrets  map[string]secretValue
	changed  chan struct{} // closed and replaced on every append
	streams  map[*http.Request]streamHandle
	// Unavailable makes every node call answer 503 with Retry-After 1.
	unavailable bool
}

// New starts a server with a fresh signing key; it stops at test end.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Keepalive <= 0 {
		opts.Keepalive = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxLevel <= 0 {
		opts.MaxLevel = nodeproto.MaxLevel
	}
	s := &Server{
		t: t, now: opts.Now, ka: opts.Keepalive, maxLevel: opts.MaxLevel,
		Heartbeats: make(chan nodeproto.Heartbeat, 1024), Drifts: make(chan nodeproto.DriftReport, 1024),
		Reports: make(chan nodeproto.ReportSync, 1024), Connects: make(chan Connect, 1024),
		SealingKeys: make(chan SealingKeyPut, 1024), SecretFetches: make(chan SecretFetch, 1024),
		tokens: map[string]int{}, nodes: map[string]*node{}, byNSK: map[string]*node{},
		secrets: map[string]secretValue{}, changed: make(chan struct{}), streams: map[*http.Request]streamHandle{},
		nextIP: 2,
	}
	s.current = s.NewSigner(nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/register", s.register)
	mux.HandleFunc("POST /v1/keys/rotate", s.rotateKey)
	mux.HandleFunc("GET /v1/nodes/{id}/events", s.auth(s.events))
	mux.HandleFunc("GET /v1/nodes/{id}/state", s.auth(s.state))
	mux.HandleFunc("POST /v1/nodes/{id}/heartbeat", s.auth(s.heartbeat))
	mux.HandleFunc("POST /v1/nodes/{id}/drift", s.auth(s.drift))
	mux.HandleFunc("POST /v1/nodes/{id}/report", s.auth(s.report))
	mux.HandleFunc("POST /v1/nodes/{id}/deregister", s.auth(s.deregister))
	mux.HandleFunc("GET /v1/nodes/{id}/secrets/{key}", s.auth(s.secret))
	mux.HandleFunc("PUT "+nodeproto.PathSealingKey, s.auth(s.putSealingKey))
	s.routeActions(mux)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close drops every stream and stops the server.
func (s *Server) Close() {
	s.DropStreams()
	s.srv.Close()
}

// NewSigner returns a signer over a fresh key (or priv), on the server
// clock; tests use it to craft envelopes.
func (s *Server) NewSigner(priv ed25519.PrivateKey) *envelope.Signer {
	if priv == nil {
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
	}
	k, err := envelope.NewLocalKey(priv)
	if err != nil {
		s.t.Fatal(err)
	}
	sg, err := envelope.NewSigner(envelope.SignerOptions{Key: k, Now: s.now})
	if err != nil {
		s.t.Fatal(err)
	}
	return sg
}

// Signer is the current signing key.
func (s *Server) Signer() *envelope.Signer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// AddToken makes tok redeemable uses times.
func (s *Server) AddToken(tok string, uses int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = uses
}

// SetSecret stores a secret every node may read; a changed value is the
// next version (the first is 1).
func (s *Server) SetSecret(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.secrets[key]
	switch {
	case !ok:
		s.secrets[key] = secretValue{value: value, version: 1}
	case old.value != value:
		s.secrets[key] = secretValue{value: value, version: old.version + 1}
	}
}

// SetUnavailable makes node calls answer 503 (R5) while on.
func (s *Server) SetUnavailable(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavailable = on
}

// Nodes lists registered node ids.
func (s *Server) Nodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.nodes {
		out = append(out, id)
	}
	return out
}

// PublicKey is the WireGuard public key the server holds for a node.
func (s *Server) PublicKey(nodeID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[nodeID]; n != nil {
		return n.publicKey
	}
	return ""
}

// NodeRevoked reports whether id was deregistered.
func (s *Server) NodeRevoked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[id]
	return n != nil && n.revoked
}

// SetState replaces a node's state document.
func (s *Server) SetState(nodeID string, st nodeproto.StateResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[nodeID].state = st
}

// Emit appends an event to a node's log; it is signed at emission.
func (s *Server) Emit(nodeID, typ string, payload any) uint64 {
	raw, err := envelope.MarshalPayload(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	ev := envelope.Event{Type: typ, ID: newID(), Payload: raw}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.current.Sign(context.Background(), ev); err != nil {
		s.t.Fatalf("cptest: Emit: a control plane would not append this event: %v", err)
	}
	s.applyToStateLocked(nodeID, typ, raw)
	return s.appendLocked(nodeID, entry{ev: ev, key: s.current})
}

// applyToStateLocked keeps state and log in agreement (§10 E2) for the
// well-formed events that have a State column.
func (s *Server) applyToStateLocked(nodeID, typ string, raw []byte) {
	n := s.nodes[nodeID]
	if n == nil {
		return
	}
	st := &n.state
	switch typ {
	case nodeproto.EventPeerAdded, nodeproto.EventPeerKeyRotated, nodeproto.EventPeerEndpointChanged:
		var p nodeproto.Peer
		if json.Unmarshal(raw, &p) != nil || p.Validate() != nil {
			return
		}
		st.Peers = slices.DeleteFunc(slices.Clone(st.Peers), func(q nodeproto.Peer) bool { return q.ID == p.ID })
		st.Peers = append(st.Peers, p)
	case nodeproto.EventPeerRemoved:
		var pr nodeproto.PeerRemoved
		if json.Unmarshal(raw, &pr) == nil {
			st.Peers = slices.DeleteFunc(slices.Clone(st.Peers), func(q nodeproto.Peer) bool { return q.ID == pr.PeerID })
		}
	case nodeproto.EventNodeStateUpdated:
		var u nodeproto.NodeStateUpdated
		if json.Unmarshal(raw, &u) == nil {
			st.Metadata, st.Data = u.Metadata, u.Data
		}
	case nodeproto.EventNodeSecretsUpdated:
		var u nodeproto.NodeSecretsUpdated
		if json.Unmarshal(raw, &u) == nil {
			st.SecretRefs = u.SecretRefs
		}
	}
}

// EmitRaw appends a data line emitted verbatim (tampered, stale, replayed
// or otherwise hostile envelopes).
func (s *Server) EmitRaw(nodeID string, data []byte) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(nodeID, entry{raw: append([]byte(nil), data...)})
}

// RotateKey makes next current and the old key previous until deadline,
// updates every node's state and emits signing_key_rotated signed with the
// old key (§8 K4).
func (s *Server) RotateKey(next *envelope.Signer, deadline time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.current
	s.previous, s.current, s.deadline = old, next, deadline
	sk := s.keysLocked()
	payload, _ := envelope.MarshalPayload(sk)
	for id := range s.nodes {
		s.appendLocked(id, entry{ev: envelope.Event{Type: nodeproto.EventSigningKeyRotated, ID: newID(), Payload: payload}, key: old})
	}
}

func (s *Server) keysLocked() nodeproto.SigningKeys {
	sk := nodeproto.SigningKeys{Current: b64(s.current.Public())}
	if s.previous != nil && s.now().Before(s.deadline) {
		sk.Previous, sk.TransitionExpires = b64(s.previous.Public()), s.deadline.UTC()
	}
	return sk
}

func (s *Server) appendLocked(nodeID string, e entry) uint64 {
	n := s.nodes[nodeID]
	if n == nil {
		s.t.Fatalf("cptest: unknown node %s", nodeID)
	}
	e.seq = uint64(len(n.log) + 1)
	n.log = append(n.log, e)
	close(s.changed)
	s.changed = make(chan struct{})
	return e.seq
}

// DropStreams ends every open event stream, as a control-plane restart does.
// It returns once every dropped handler has stopped writing.
func (s *Server) DropStreams() {
	s.mu.Lock()
	var done []chan struct{}
	for _, h := range s.streams {
		h.cancel()
		done = append(done, h.done)
	}
	s.mu.Unlock()
	for _, d := range done {
		<-d
	}
}

// streamHandle lets DropStreams stop a stream handler and wait for it.
type streamHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// send delivers v to a test channel without ever blocking a handler; a
// test that lets a channel fill up loses the overflow, not the server.
func send[T any](c chan T, v T) {
	select {
	case c <- v:
	default:
	}
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "evt_" + base64.RawURLEncoding.EncodeToString(b)
}

func problem(w http.ResponseWriter, status int, code string) {
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set(nodeproto.HeaderRetryAfter, "1")
	}
	w.Header().Set("Content-Type", nodeproto.ContentTypeProblemJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(nodeproto.NewProblem(status, code, code))
}

func (s *Server) negotiate(w http.ResponseWriter, r *http.Request) {
	if h := r.Header.Get(nodeproto.HeaderPlexdProtocol); h != "" {
		l := nodeproto.NegotiateLevel(nodeproto.ParseLevel(h), s.maxLevel)
		w.Header().Set(nodeproto.HeaderPlexsphereProtocol, strconv.Itoa(l))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", nodeproto.ContentTypeJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	s.negotiate(w, r)
	var req nodeproto.RegisterRequest
	if err := decode(r, &req); err != nil {
		problem(w, http.StatusBadRequest, nodeproto.CodeInvalidRequest)
		return
	}
	bearer, _ := nodeproto.ParseBearer(r.Header.Get(nodeproto.HeaderAuthorization))
	tok, err := req.Credential(bearer)
	if err != nil {
		problem(w, http.StatusUnauthorized, nodeproto.CodeTokenMismatch)
		return
	}
	if err := req.Validate(); err != nil {
		problem(w, http.StatusBadRequest, nodeproto.CodeInvalidRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	uses, ok := s.tokens[tok]
	if !ok {
		problem(w, http.StatusUnauthorized, nodeproto.CodeInvalidToken)
		return
	}
	if uses <= 0 {
		problem(w, http.StatusUnauthorized, nodeproto.CodeTokenConsumed)
		return
	}
	s.tokens[tok] = uses - 1
	nsk, _ := nodeproto.NewNSK(nil)
	n := &node{id: fmt.Sprintf("node-%d", s.nextIP), nsk: nsk, meshIP: fmt.Sprintf("10.100.%d.%d", s.nextIP/250, s.nextIP%250+1), publicKey: req.PublicKey}
	n.state = nodeproto.StateResponse{Peers: []nodeproto.Peer{}, Policies: []nodeproto.Policy{}, Data: []nodeproto.DataEntry{}, SecretRefs: []nodeproto.SecretRef{}}
	s.nextIP++
	s.nodes[n.id], s.byNSK[nsk] = n, n
	writeJSON(w, http.StatusOK, nodeproto.RegisterResponse{
		NodeID: n.id, MeshIP: n.meshIP, SigningPublicKey: b64(s.current.Public()), NodeSecretKey: nsk, Peers: []nodeproto.Peer{},
	})
}

func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, 10<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzipReader(body)
		if err != nil {
			return err
		}
		return json.NewDecoder(zr).Decode(v)
	}
	return json.NewDecoder(body).Decode(v)
}

// auth implements §3.3 for node endpoints.
func (s *Server) auth(h func(http.ResponseWriter, *http.Request, *node)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.negotiate(w, r)
		nsk, ok := nodeproto.ParseBearer(r.Header.Get(nodeproto.HeaderAuthorization))
		if !ok {
			problem(w, http.StatusUnauthorized, nodeproto.CodeUnauthenticated)
			return
		}
		s.mu.Lock()
		n, unavailable := s.byNSK[nsk], s.unavailable
		revoked := n != nil && n.revoked
		s.mu.Unlock()
		switch {
		case unavailable:
			problem(w, http.StatusServiceUnavailable, nodeproto.CodeUnavailable)
		case n == nil:
			problem(w, http.StatusUnauthorized, nodeproto.CodeUnauthorized)
		case revoked:
			problem(w, http.StatusUnauthorized, nodeproto.CodeNSKRevoked)
		case r.PathValue("id") != n.id:
			problem(w, http.StatusForbidden, nodeproto.CodeNodeIDMismatch)
		default:
			h(w, r, n)
		}
	}
}

// rotateKey serves POST /v1/keys/rotate (§5.2 endpoint 9): the NSK alone
// names the node; a non-empty body node_id must match (§3.3).
func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	s.negotiate(w, r)
	nsk, _ := nodeproto.ParseBearer(r.Header.Get(nodeproto.HeaderAuthorization))
	s.mu.Lock()
	n := s.byNSK[nsk]
	revoked := n != nil && n.revoked
	s.mu.Unlock()
	if n == nil || revoked {
		problem(w, http.StatusUnauthorized, nodeproto.CodeUnauthorized)
		return
	}
	var req nodeproto.KeyRotateRequest
	if err := decode(r, &req); err != nil || !nodeproto.ValidWireGuardKey(req.NewPublicKey) {
		problem(w, http.StatusBadRequest, nodeproto.CodeInvalidRequest)
		return
	}
	if req.NodeID != "" && req.NodeID != n.id {
		problem(w, http.StatusForbidden, nodeproto.CodeNodeIDMismatch)
		return
	}
	s.mu.Lock()
	n.publicKey = req.NewPublicKey
	peers := slices.Clone(n.state.Peers)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, nodeproto.KeyRotateResponse{UpdatedPeers: peers})
}

func (s *Server) state(w http.ResponseWriter, r *http.Request, n *node) {
	s.mu.Lock()
	st := n.state
	if s.previous != nil || st.SigningKeys != nil {
		sk := s.keysLocked()
		st.SigningKeys = &sk
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, n *node) {
	var hb nodeproto.Heartbeat
	decode(r, &hb) // any JSON body is accepted (§5.2)
	send(s.Heartbeats, hb)
	writeJSON(w, http.StatusOK, nodeproto.HeartbeatResponse{})
}

func (s *Server) drift(w http.ResponseWriter, r *http.Request, n *node) {
	var d nodeproto.DriftReport
	if err := decode(r, &d); err != nil {
		problem(w, http.StatusBadRequest, nodeproto.CodeInvalidRequest)
		return
	}
	send(s.Drifts, d)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, n *node) {
	var rs nodeproto.ReportSync
	if err := decode(r, &rs); err != nil {
		problem(w, http.StatusBadRequest, nodeproto.CodeInvalidRequest)
		return
	}
	send(s.Reports, rs)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deregister(w http.ResponseWriter, r *http.Request, n *node) {
	s.mu.Lock()
	n.revoked = true
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
