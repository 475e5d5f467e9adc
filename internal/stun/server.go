package stun

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
)

// Server answers Binding requests on one packet socket. Everything that is
// not a Binding request is dropped without an answer, so the socket cannot
// be used to reflect traffic at a third party beyond one small response per
// well-formed request.
type Server struct {
	conn net.PacketConn
	log  *slog.Logger

	answered atomic.Uint64
	dropped  atomic.Uint64
}

// NewServer returns a responder on conn. A nil logger discards.
func NewServer(conn net.PacketConn, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{conn: conn, log: log}
}

// Addr is the local address the responder is bound to.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Stats returns how many requests were answered and datagrams dropped.
func (s *Server) Stats() (answered, dropped uint64) {
	return s.answered.Load(), s.dropped.Load()
}

// Serve answers requests until ctx ends or the socket fails; it closes the
// socket when ctx ends and then returns nil.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.conn.Close() })
	defer stop()
	buf := make([]byte, MaxMessageSize+1)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.handle(buf[:n], from)
	}
}

func (s *Server) handle(b []byte, from net.Addr) {
	ap, ok := addrPort(from)
	if !ok {
		s.dropped.Add(1)
		return
	}
	resp, ok := Respond(b, ap)
	if !ok {
		s.dropped.Add(1)
		return
	}
	if _, err := s.conn.WriteTo(resp, from); err != nil {
		s.log.Debug("stun_write_failed", slog.String("error", err.Error()))
		return
	}
	s.answered.Add(1)
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}
