package access

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// session is one registered session_setup and what it admitted.
type session struct {
	setup   nodeproto.SessionSetup
	revoked bool
	used    bool // an ssh or tcp jti admitted its one connection
	conns   map[*liveConn]struct{}
	calls   map[*kubeCall]struct{}
}

// kubeCall is one in-flight Kubernetes call; cancel ends it.
type kubeCall struct{ cancel context.CancelFunc }

// Setup registers a session (session_setup). A repeated setup of the same
// jti changes nothing: a replayed event must not make a used token
// usable again. A session revoked earlier stays revoked. When the table
// is full of live sessions the setup is dropped and logged.
func (s *Server) Setup(ss nodeproto.SessionSetup) {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if err := ss.Validate(now); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "access session_setup refused",
			slog.String(keySessionID, ss.SessionID), slog.String(logkey.Error, err.Error()))
		return
	}
	if _, ok := s.sessions[ss.JTI]; ok {
		return
	}
	if old, ok := s.byID[ss.SessionID]; ok && old != ss.JTI {
		return // one session id names one jti
	}
	if len(s.sessions) >= s.opts.MaxSessions {
		s.forgetLocked(now)
	}
	if len(s.sessions) >= s.opts.MaxSessions {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "access session table full; session_setup dropped",
			slog.String(keySessionID, ss.SessionID), slog.Int(keyLimit, s.opts.MaxSessions))
		return
	}
	se := &session{setup: ss, conns: map[*liveConn]struct{}{}, calls: map[*kubeCall]struct{}{}}
	if _, ok := s.revokedIDs[ss.SessionID]; ok {
		se.revoked = true
	}
	s.sessions[ss.JTI] = se
	s.byID[ss.SessionID] = ss.JTI
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "access session registered",
		slog.String(keySessionID, ss.SessionID), slog.String(logkey.Kind, ss.Kind))
}

// Revoke denylists a session (session_revoked) and closes its live
// connections and calls now. A revocation that arrives before its setup
// is remembered for the longest session lifetime.
func (s *Server) Revoke(sessionID string) {
	now := s.clk.Now()
	s.mu.Lock()
	if len(s.revokedIDs) >= 4*s.opts.MaxSessions {
		s.forgetLocked(now)
	}
	if len(s.revokedIDs) < 4*s.opts.MaxSessions {
		s.revokedIDs[sessionID] = now.Add(nodeproto.MaxSessionLifetime)
	}
	se := s.sessions[s.byID[sessionID]]
	if se != nil {
		se.revoked = true
	}
	s.mu.Unlock()
	if se != nil {
		s.endSession(se, nodeproto.TerminatedRevoke)
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "access session revoked", slog.String(keySessionID, sessionID))
	}
}

// endSession closes the session's live connections and calls with reason.
func (s *Server) endSession(se *session, reason string) {
	s.mu.Lock()
	conns := make([]*liveConn, 0, len(se.conns))
	for c := range se.conns {
		conns = append(conns, c)
	}
	calls := make([]*kubeCall, 0, len(se.calls))
	for c := range se.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.terminate(reason)
	}
	for _, c := range calls {
		c.cancel()
	}
}

// sweep closes connections past their session's expiry or idle timeout
// and forgets expired entries.
func (s *Server) sweep(now time.Time) {
	type closing struct {
		c      *liveConn
		reason string
	}
	var out []closing
	var expired []*session
	s.mu.Lock()
	for _, se := range s.sessions {
		if !now.Before(se.setup.ExpiresAt) && (len(se.conns) > 0 || len(se.calls) > 0) {
			expired = append(expired, se)
			continue
		}
		for c := range se.conns {
			switch {
			case !now.Before(c.deadline):
				out = append(out, closing{c, nodeproto.TerminatedTTL})
			case c.idle > 0 && now.Sub(c.lastActive()) >= c.idle:
				out = append(out, closing{c, nodeproto.TerminatedIdle})
			}
		}
	}
	s.forgetLocked(now)
	s.mu.Unlock()
	for _, se := range expired {
		s.endSession(se, nodeproto.TerminatedTTL)
	}
	for _, cl := range out {
		cl.c.terminate(cl.reason)
	}
}

// forgetLocked drops expired sessions without live connections and stale
// revocations.
func (s *Server) forgetLocked(now time.Time) {
	for jti, se := range s.sessions {
		if !now.Before(se.setup.ExpiresAt.Add(accesstoken.Leeway)) && len(se.conns) == 0 && len(se.calls) == 0 {
			delete(s.sessions, jti)
			delete(s.byID, se.setup.SessionID)
		}
	}
	for id, until := range s.revokedIDs {
		if !now.Before(until) {
			delete(s.revokedIDs, id)
		}
	}
}

// refusal is a 401 answer of the listener.
type refusal struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (r *refusal) Error() string { return r.Code + ": " + r.Detail }

// Refusal codes, in the order the checks run (0008-access.md).
const (
	CodeMalformed     = "token_malformed"
	CodeSignature     = "token_signature"
	CodeAudience      = "token_audience"
	CodeExpired       = "token_expired"
	CodeNotYetValid   = "token_not_yet_valid"
	CodeUnknown       = "session_unknown"
	CodeRevoked       = "session_revoked"
	CodeReplayed      = "token_replayed"
	CodeSourceRefused = "source_refused"
	CodeKindMismatch  = "kind_mismatch"
)

// grant is an admitted request: the session's setup and the token's claims.
type grant struct {
	setup  nodeproto.SessionSetup
	claims accesstoken.Claims
	// deadline is when the connection must end (session or token expiry,
	// whichever is first).
	deadline time.Time
	se       *session
}

// Endpoints of the listener, for the kind check.
const (
	endpointAccess = "access" // ssh and tcp
	endpointKube   = "kube"   // k8s
)

// endpointServes reports whether endpoint serves sessions of kind.
func endpointServes(endpoint, kind string) bool {
	if endpoint == endpointKube {
		return kind == nodeproto.SessionK8s
	}
	return kind == nodeproto.SessionSSH || kind == nodeproto.SessionTCP
}

// admit runs the checks of the design in order for a token presented
// from remote at endpoint. For ssh and tcp the jti is used up on success.
func (s *Server) admit(token string, remote netip.Addr, endpoint string) (*grant, *refusal) {
	now := s.clk.Now()
	c, err := accesstoken.Verify(token, s.opts.Keys(), s.audience, now)
	if ref := verifyRefusal(err); ref != nil {
		return nil, ref
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.sessions[c.ID]
	switch {
	case se == nil:
		return nil, &refusal{CodeUnknown, "this node was not told about the session"}
	case !now.Add(-accesstoken.Leeway).Before(se.setup.ExpiresAt):
		return nil, &refusal{CodeExpired, "the session has expired"}
	case se.revoked || s.closed:
		return nil, &refusal{CodeRevoked, "the session was revoked"}
	case se.setup.Kind != nodeproto.SessionK8s && se.used:
		return nil, &refusal{CodeReplayed, "the token was already used"}
	}
	if src := sessionSource(se.setup, c); src.IsValid() && src != remote.Unmap() {
		return nil, &refusal{CodeSourceRefused, "the connection does not come from the session's source"}
	}
	if c.Kind != se.setup.Kind || !endpointServes(endpoint, c.Kind) {
		return nil, &refusal{CodeKindMismatch, "the endpoint does not match the session's kind"}
	}
	if c.Kind != nodeproto.SessionK8s {
		se.used = true
	}
	dl := se.setup.ExpiresAt
	if exp := c.Expiry.Time().Add(accesstoken.Leeway); exp.Before(dl) {
		dl = exp
	}
	return &grant{setup: se.setup, claims: c, deadline: dl, se: se}, nil
}

// sessionSource is the only address that may present the session: the
// setup's source, else the token's src; invalid when neither names one.
func sessionSource(ss nodeproto.SessionSetup, c accesstoken.Claims) netip.Addr {
	src := ss.Source
	if src == "" {
		src = c.Source
	}
	a, err := netip.ParseAddr(src)
	if err != nil {
		if p, perr := netip.ParsePrefix(src); perr == nil {
			return p.Addr().Unmap()
		}
		if src != "" {
			return netip.IPv6Unspecified() // named but unparsable: nothing matches
		}
		return netip.Addr{}
	}
	return a.Unmap()
}

// verifyRefusal maps accesstoken.Verify's errors to refusal codes.
func verifyRefusal(err error) *refusal {
	switch err {
	case nil:
		return nil
	case accesstoken.ErrSignature:
		return &refusal{CodeSignature, "no trusted Domain key verifies the token"}
	case accesstoken.ErrAudience:
		return &refusal{CodeAudience, "the token is not for this node"}
	case accesstoken.ErrExpired:
		return &refusal{CodeExpired, "the token has expired"}
	case accesstoken.ErrNotYet:
		return &refusal{CodeNotYetValid, "the token is not valid yet"}
	}
	return &refusal{CodeMalformed, "the token is not a well-formed session token"}
}

// track registers a live connection with its session and counts it in
// the work Close waits for (under mu, so never after Close began); false
// when the session was revoked or the server closed meanwhile.
func (s *Server) track(g *grant, c *liveConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.liveLocked(g) {
		return false
	}
	g.se.conns[c] = struct{}{}
	s.work.Add(1)
	return true
}

// liveLocked: the grant's session is still in the table (not forgotten
// after expiry), not revoked, not past the grant's deadline, and the
// server is open.
func (s *Server) liveLocked(g *grant) bool {
	return !s.closed && !g.se.revoked && s.sessions[g.setup.JTI] == g.se && s.clk.Now().Before(g.deadline)
}

func (s *Server) untrack(g *grant, c *liveConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(g.se.conns, c)
	s.work.Done()
}

// trackCall registers a Kubernetes call like track.
func (s *Server) trackCall(g *grant, c *kubeCall) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.liveLocked(g) {
		return false
	}
	g.se.calls[c] = struct{}{}
	s.work.Add(1)
	return true
}

func (s *Server) untrackCall(g *grant, c *kubeCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(g.se.calls, c)
	s.work.Done()
}

// liveConn is an admitted ssh or tcp connection: reads come first from
// what the HTTP server had buffered; activity and byte counts are kept
// for idle timeouts and reports; terminate records why it was closed.
type liveConn struct {
	net.Conn
	r        io.Reader
	deadline time.Time
	idle     time.Duration
	now      func() time.Time
	last     atomic.Int64 // unix nanoseconds of the last read or write
	in, out  atomic.Int64
	once     sync.Once
	reason   atomic.Pointer[string]
	// ctx ends when the connection is closed, by either side.
	ctx    context.Context
	cancel context.CancelFunc
}

func newLiveConn(c net.Conn, r io.Reader, g *grant, now func() time.Time) *liveConn {
	lc := &liveConn{Conn: c, r: r, deadline: g.deadline, now: now,
		idle: time.Duration(g.setup.IdleTimeoutSeconds) * time.Second}
	lc.ctx, lc.cancel = context.WithCancel(context.Background())
	lc.last.Store(now().UnixNano())
	return lc
}

func (c *liveConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.in.Add(int64(n))
		c.last.Store(c.now().UnixNano())
	}
	return n, err
}

func (c *liveConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.out.Add(int64(n))
		c.last.Store(c.now().UnixNano())
	}
	return n, err
}

func (c *liveConn) lastActive() time.Time { return time.Unix(0, c.last.Load()) }

// terminate closes the connection; the first reason given wins.
func (c *liveConn) terminate(reason string) {
	c.reason.CompareAndSwap(nil, &reason)
	c.Close()
}

// Close closes the connection (the client or plexd's side ended it).
func (c *liveConn) Close() error {
	c.once.Do(func() { c.Conn.Close(); c.cancel() })
	return nil
}

// terminatedBy is why the connection ended: the recorded reason, else the
// client closed it.
func (c *liveConn) terminatedBy() string {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	return nodeproto.TerminatedClient
}
