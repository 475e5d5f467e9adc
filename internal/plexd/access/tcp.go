package access

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// dialTimeout bounds the dial of a tcp session's target.
const dialTimeout = 10 * time.Second

// serveTCP splices lc to target.host:target.port and reports the
// session's start and end.
func (s *Server) serveTCP(g *grant, lc *liveConn) {
	id := g.setup.SessionID
	addr := net.JoinHostPort(g.setup.Target.TCP.Host, strconv.Itoa(g.setup.Target.TCP.Port))
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", addr)
	cancel()
	s.activity(id, nodeproto.SessionActivity{TCP: &nodeproto.TCPActivity{Phase: nodeproto.PhaseStarted}})
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "access tcp target unreachable", slog.String(keySessionID, id),
			slog.String(logkey.Addr, addr), slog.String(logkey.Error, err.Error()))
		lc.terminate(nodeproto.TerminatedPlexd)
		s.activity(id, nodeproto.SessionActivity{TCP: &nodeproto.TCPActivity{Phase: nodeproto.PhaseEnded, TerminatedBy: nodeproto.TerminatedPlexd}})
		return
	}
	stop := context.AfterFunc(lc.ctx, func() { up.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn, half net.Conn) {
		if _, err := io.Copy(dst, src); err != nil {
			lc.Close() // a broken side ends both
		} else {
			closeWrite(half)
		}
		done <- struct{}{}
	}
	go pipe(up, lc, up)
	go pipe(lc, up, lc.Conn)
	<-done
	<-done
	up.Close()
	lc.Close()
	s.activity(id, nodeproto.SessionActivity{TCP: &nodeproto.TCPActivity{
		Phase: nodeproto.PhaseEnded, BytesIn: lc.in.Load(), BytesOut: lc.out.Load(), TerminatedBy: lc.terminatedBy()}})
}

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
