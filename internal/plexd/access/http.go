package access

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// The listener's protocol (0008-access.md).
const (
	// AccessPath is the upgrade endpoint of ssh and tcp sessions.
	AccessPath = nodeproto.AccessPath
	// KubePrefix prefixes the Kubernetes API path of k8s sessions.
	KubePrefix = nodeproto.AccessKubePrefix
	// UpgradeProtocol is the Upgrade token of AccessPath.
	UpgradeProtocol = nodeproto.AccessUpgrade
)

// Log attribute keys of this package (plexd's logkey has none for them).
const (
	keySessionID = "session_id"
	keyLimit     = "limit"
	keyCode      = "code"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(AccessPath, s.serveAccess)
	mux.HandleFunc(KubePrefix+"/", s.serveKube)
	return mux
}

// writeError answers status with the JSON {code, detail}.
func writeError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(refusal{Code: code, Detail: detail})
}

// bearer is the token of the Authorization header ("" when there is none).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

// remoteAddr is the peer's IP address of r.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// headerHas reports whether the comma-separated header h names tok
// (case-insensitive).
func headerHas(r *http.Request, h, tok string) bool {
	for _, v := range r.Header.Values(h) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), tok) {
				return true
			}
		}
	}
	return false
}

// checkUpgrade validates the request shape of AccessPath before any token
// is looked at: GET with Connection: Upgrade and our Upgrade token.
func checkUpgrade(r *http.Request) (int, *refusal) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, &refusal{"method_not_allowed", "use GET with an Upgrade"}
	case !headerHas(r, "Connection", "upgrade") || !headerHas(r, "Upgrade", UpgradeProtocol):
		return http.StatusUpgradeRequired, &refusal{"upgrade_required", "send Connection: Upgrade and Upgrade: " + UpgradeProtocol}
	}
	return 0, nil
}

// authorize runs the request checks of AccessPath (shape, then the
// token checks of admit) and reports the HTTP status of a refusal.
func (s *Server) authorize(r *http.Request) (*grant, int, *refusal) {
	if st, ref := checkUpgrade(r); ref != nil {
		return nil, st, ref
	}
	g, ref := s.admit(bearer(r), remoteAddr(r), endpointAccess)
	if ref != nil {
		return nil, http.StatusUnauthorized, ref
	}
	return g, 0, nil
}

// serveAccess is GET /v1/access: admit, answer 101 and hand the
// connection to the SSH server or the tcp splice.
func (s *Server) serveAccess(w http.ResponseWriter, r *http.Request) {
	g, status, ref := s.authorize(r)
	if ref != nil {
		s.refused(r, ref)
		writeError(w, status, ref.Code, ref.Detail)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "upgrade_failed", "the connection cannot be taken over")
		return
	}
	conn.SetDeadline(time.Time{})
	// Tracked before the 101, so a revocation or expiry from now on
	// reaches the connection.
	lc := newLiveConn(conn, bufferedReader(brw, conn), g, s.clk.Now)
	if !s.track(g, lc) {
		lc.terminate(nodeproto.TerminatedRevoke)
		return
	}
	defer s.untrack(g, lc)
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+UpgradeProtocol+"\r\n\r\n"); err != nil {
		lc.Close()
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "access session connected",
		slog.String(keySessionID, g.setup.SessionID), slog.String(logkey.Kind, g.setup.Kind), slog.String(logkey.Addr, r.RemoteAddr))
	switch g.setup.Kind {
	case nodeproto.SessionSSH:
		s.serveSSH(g, lc)
	case nodeproto.SessionTCP:
		s.serveTCP(g, lc)
	}
}

// bufferedReader returns what reads the hijacked connection: the bytes
// the HTTP server already buffered first.
func bufferedReader(brw *bufio.ReadWriter, conn net.Conn) io.Reader {
	if brw == nil || brw.Reader.Buffered() == 0 {
		return conn
	}
	return io.MultiReader(io.LimitReader(brw.Reader, int64(brw.Reader.Buffered())), conn)
}

// refused logs a refusal (never the token).
func (s *Server) refused(r *http.Request, ref *refusal) {
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "access refused", slog.String(keyCode, ref.Code),
		slog.String(logkey.Addr, r.RemoteAddr), slog.String(logkey.Detail, r.URL.Path))
}

// activity queues a report for the reporter loop; a full queue drops it.
func (s *Server) activity(sessionID string, a nodeproto.SessionActivity) {
	select {
	case s.reports <- queuedReport{sessionID: sessionID, a: a}:
	default:
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "access activity report dropped: queue full", slog.String(keySessionID, sessionID))
	}
}

type queuedReport struct {
	sessionID string
	a         nodeproto.SessionActivity
}

// reportLoop sends queued reports in order until Close, then drains what
// is left within drainTimeout.
func (s *Server) reportLoop() {
	send := func(q queuedReport) {
		if err := s.opts.Reporter.Activity(s.ctx, q.sessionID, q.a); err != nil && s.ctx.Err() == nil {
			s.log.LogAttrs(s.ctx, slog.LevelWarn, "access activity report failed",
				slog.String(keySessionID, q.sessionID), slog.String(logkey.Error, err.Error()))
		}
	}
	for {
		select {
		case q := <-s.reports:
			send(q)
		case <-s.done:
			t := time.AfterFunc(drainTimeout, s.cancel)
			defer t.Stop()
			for {
				select {
				case q := <-s.reports:
					send(q)
				default:
					return
				}
			}
		}
	}
}
