package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// ManagerOptions configures a Manager.
type ManagerOptions struct {
	// Server configures the packet core.
	Server Config
	// ListenHost is the address the relay socket binds ("" = all
	// interfaces); the port comes from the desired state.
	ListenHost string
	Logger     *slog.Logger
}

// Manager runs the relay as the bridge's desired state says: on when
// bridge_config.relay is enabled (or, from a control plane without that
// member, when relay_config carries sessions), on its listen_port
// (default nodeproto.DefaultRelayPort), with relay_config's sessions.
type Manager struct {
	opts ManagerOptions
	srv  *Server
	log  *slog.Logger

	// mu guards the running socket.
	mu     sync.Mutex
	addr   string // "host:port" the relay should listen on, "" when off
	conn   *net.UDPConn
	cancel context.CancelFunc
	done   chan struct{}
	closed bool
}

// NewManager builds a stopped Manager.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Server.Logger == nil {
		opts.Server.Logger = opts.Logger
	}
	return &Manager{opts: opts, srv: NewServer(opts.Server), log: opts.Logger}
}

// Server is the packet core (for tests and status).
func (m *Manager) Server() *Server { return m.srv }

// Apply makes the relay match the desired bridge sections: it replaces
// the sessions and starts, stops or re-binds the socket. It is
// idempotent; an error (the port is taken) leaves the relay off and is
// retried by the next Apply.
func (m *Manager) Apply(ctx context.Context, bc *nodeproto.BridgeConfig, rc *nodeproto.RelayConfig) error {
	var sessions []nodeproto.RelaySession
	if rc != nil {
		sessions = rc.Sessions
	}
	m.srv.SetSessions(sessions)
	want := ""
	switch {
	case bc != nil && bc.Relay != nil:
		if bc.Relay.Enabled {
			want = m.listenAddr(bc.Relay.ListenPort)
		}
	case len(sessions) > 0:
		want = m.listenAddr(0)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || (want == m.addr && (want == "" || m.runningLocked())) {
		return nil
	}
	m.stopLocked()
	if want == "" {
		m.log.LogAttrs(ctx, slog.LevelInfo, "bridge relay stopped")
		return nil
	}
	ua, err := net.ResolveUDPAddr("udp", want)
	if err != nil {
		return fmt.Errorf("relay: listen address %q: %w", want, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("relay: listen: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	m.addr, m.conn, m.cancel, m.done = want, conn, cancel, done
	go func() {
		defer close(done)
		if err := m.srv.Serve(sctx, conn); err != nil {
			m.log.LogAttrs(sctx, slog.LevelError, "bridge relay socket failed", slog.String(logkey.Addr, want), slog.String(logkey.Error, err.Error()))
		}
	}()
	m.log.LogAttrs(ctx, slog.LevelInfo, "bridge relay listening", slog.String(logkey.Addr, conn.LocalAddr().String()))
	return nil
}

func (m *Manager) listenAddr(port int) string {
	if port <= 0 || port > 65535 {
		port = nodeproto.DefaultRelayPort
	}
	return net.JoinHostPort(m.opts.ListenHost, strconv.Itoa(port))
}

// runningLocked reports whether the socket's reader still runs.
func (m *Manager) runningLocked() bool {
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// stopLocked closes the running socket and waits for its reader.
func (m *Manager) stopLocked() {
	if m.cancel != nil {
		// Close first and here: Close returns once the socket is really
		// gone, so the port is free when Apply returns.
		_ = m.conn.Close()
		m.cancel()
		<-m.done
	}
	m.addr, m.conn, m.cancel, m.done = "", nil, nil, nil
}

// Close stops the relay for good.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
	m.closed = true
}

// LocalAddr is the bound socket's address, invalid when the relay is off.
func (m *Manager) LocalAddr() netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn == nil {
		return netip.AddrPort{}
	}
	return m.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Stats is the server's counters with whether the relay runs and where.
func (m *Manager) Stats() Stats {
	st := m.srv.Stats()
	if ap := m.LocalAddr(); ap.IsValid() {
		st.Enabled, st.ListenAddr = true, ap.String()
	}
	return st
}

// Info is the heartbeat's bridge status for the relay part (§12.6).
func (m *Manager) Info() nodeproto.BridgeInfo {
	st := m.Stats()
	return nodeproto.BridgeInfo{Enabled: true, RelayEnabled: st.Enabled, ActiveRelaySessions: st.Sessions}
}
