// Package access is plexd's access listener (docs/design/0008-access.md,
// node side): an HTTP/1.1 endpoint on the node's mesh IP that admits the
// session gateway with a Domain-signed session token the node was told
// about (session_setup), then carries an ssh session to plexd's own
// recorded SSH server, a tcp session spliced to its target, or Kubernetes
// API calls proxied with impersonation. It owns the session table
// (setup, revocation, single use, expiry, idle timeout) and reports
// activity and recordings through a Reporter.
package access

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	gliderssh "github.com/gliderlabs/ssh"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
)

// Defaults of Options.
const (
	DefaultRecordingMax = 16 << 20
	DefaultMaxSessions  = 1000
	// sweepEvery is how often expiry and idle timeouts are checked; it
	// keeps "closed within 1 s" with room to spare.
	sweepEvery = 250 * time.Millisecond
	// reportQueue bounds activity reports waiting to be sent.
	reportQueue = 1024
	// drainTimeout bounds how long Close waits for reports and recordings.
	drainTimeout = 10 * time.Second
)

// Reporter sends session activity and recordings to the control plane.
// The cpclient adapter in plexd implements it.
type Reporter interface {
	Activity(ctx context.Context, sessionID string, a nodeproto.SessionActivity) error
	Recording(ctx context.Context, sessionID string, offset int64, chunk []byte, final bool) error
}

// Options configures a Server.
type Options struct {
	// NodeID is this node's id: tokens must name "node:<NodeID>". Required.
	NodeID string
	// Keys returns the Domain signing keys the agent trusts now (current
	// and, while its transition is live, previous). Required.
	Keys func() []ed25519.PublicKey
	// Reporter receives activity and recordings. Required.
	Reporter Reporter
	// SSHUsers maps a session's target.user to a local account. Empty
	// refuses every ssh session.
	SSHUsers map[string]string
	// HostKeyPath holds the SSH host key (Ed25519, OpenSSH format, 0600),
	// generated at first use; "" keeps a fresh key in memory.
	HostKeyPath string
	// SFTPHelper is the command that serves SFTP on its stdin and stdout
	// (plexd's hidden `access-sftp` command); it is run as the session's
	// local user when that is not plexd's own user. Without it such
	// sessions get no sftp.
	SFTPHelper []string
	// Kube reaches the node's Kubernetes API; a zero value refuses k8s
	// calls after admission with 503 kube_unavailable.
	Kube KubeAPI
	// RecordingMax bounds one ssh recording (default 16 MiB).
	RecordingMax int64
	// MaxSessions bounds the session table (default 1,000).
	MaxSessions int
	Clock       clock.Clock
	Logger      *slog.Logger
}

// Server is the access listener. Serve it on one or more listeners; Setup
// and Revoke come from the agent's event handling.
type Server struct {
	opts     Options
	log      *slog.Logger
	clk      clock.Clock
	audience string
	http     *http.Server
	ssh      *gliderssh.Server
	kube     *kubeProxy
	reports  chan queuedReport
	done     chan struct{} // closed by Close
	// ctx carries reports and uploads; cancelled when Close gives up
	// waiting for them.
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
	// work counts connection handlers and recording uploads, which Close
	// waits for before it stops the reporter.
	work sync.WaitGroup

	// mu guards the session table and closed.
	mu         sync.Mutex
	sessions   map[string]*session  // by jti
	byID       map[string]string    // session id → jti
	revokedIDs map[string]time.Time // revoked session ids → when to forget them
	closed     bool
}

// New validates opts, fills defaults and starts the background loops
// (expiry sweep, reporter). Close stops them.
func New(opts Options) (*Server, error) {
	switch {
	case opts.NodeID == "":
		return nil, errors.New("access: Options.NodeID is required")
	case opts.Keys == nil:
		return nil, errors.New("access: Options.Keys is required")
	case opts.Reporter == nil:
		return nil, errors.New("access: Options.Reporter is required")
	case opts.RecordingMax < 0:
		return nil, errors.New("access: Options.RecordingMax is negative")
	}
	if opts.RecordingMax == 0 {
		opts.RecordingMax = DefaultRecordingMax
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: opts, log: opts.Logger, clk: clock.OrReal(opts.Clock), audience: accesstoken.NodeAudience(opts.NodeID),
		reports: make(chan queuedReport, reportQueue), done: make(chan struct{}),
		sessions: map[string]*session{}, byID: map[string]string{}, revokedIDs: map[string]time.Time{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	kp, err := newKubeProxy(opts.Kube, s)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.kube = kp
	signer, err := loadHostKey(opts.HostKeyPath)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.ssh = s.newSSHServer(signer)
	s.http = &http.Server{
		Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 32 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.bg.Go(s.sweepLoop)
	s.bg.Go(s.reportLoop)
	return s, nil
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("access: %w", err)
}

// Close stops the listeners, ends every live connection and call
// (terminated_by plexd_close), waits for their final reports and
// recordings (bounded) and stops the background loops.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var live []*session
	for _, se := range s.sessions {
		live = append(live, se)
	}
	s.mu.Unlock()
	s.http.Close()
	for _, se := range live {
		s.endSession(se, nodeproto.TerminatedPlexd)
	}
	waited := make(chan struct{})
	go func() { s.work.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(drainTimeout):
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "access connections did not end in time")
		s.cancel()
	}
	close(s.done)
	s.bg.Wait()
	s.cancel()
}

// Stats is what `plexd status` shows of the listener.
type Stats struct {
	// Sessions are the registered sessions neither expired nor revoked.
	Sessions int `json:"sessions"`
	// Connections are the live ssh/tcp connections and k8s calls.
	Connections int `json:"connections"`
}

// Stats counts the live sessions and connections.
func (s *Server) Stats() Stats {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var st Stats
	for _, se := range s.sessions {
		if !se.revoked && now.Before(se.setup.ExpiresAt) {
			st.Sessions++
		}
		st.Connections += len(se.conns) + len(se.calls)
	}
	return st
}

// sweepLoop closes what expired or went idle, and forgets expired
// entries, every sweepEvery.
func (s *Server) sweepLoop() {
	for {
		select {
		case <-s.done:
			return
		case <-s.clk.After(sweepEvery):
		}
		s.sweep(s.clk.Now())
	}
}
