package api

import (
	"context"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/reqtext"
)

// clientAddrKey keys the request's client address, resolved once at the
// edge.
type clientAddrKey struct{}

// proxyHeaders are the forwarding headers only a trusted proxy may set.
var proxyHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"}

// edge resolves the client address (dropping forwarding headers a trusted
// proxy did not send, so no later reader trusts them) and bounds the time a
// request body may take to arrive.
func (s *Server) edge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, trusted := clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
		if !trusted {
			for _, h := range proxyHeaders {
				r.Header.Del(h)
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, addr))
		if d := s.cfg.BodyReadTimeout; d > 0 && r.Body != nil && r.Body != http.NoBody {
			// A per-request deadline, lifted once the whole body is in: a
			// connection deadline would also end long event streams. A
			// body left unread (a 401 before the read, an operation
			// without a body) keeps it, so the server's discarding of the
			// rest after the handler is bounded too; the next request on
			// the connection sets its own deadlines.
			rc, deadline := http.NewResponseController(w), time.Now().Add(d)
			if rc.SetReadDeadline(deadline) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, deadline: deadline}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody holds the read deadline while the body is read (huma sets
// its own per-operation deadline before reading; this one is the
// configured one and wins) and lifts it when the body has been read to its
// end (EOF, or a Close that drained it). After a timeout the deadline
// stays, so that every later read fails at once and the connection is
// closed.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	deadline time.Time
	done     bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.done {
		b.rc.SetReadDeadline(b.deadline)
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.lift()
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	err := b.ReadCloser.Close()
	if err == nil {
		b.lift()
	}
	return err
}

func (b *deadlineBody) lift() {
	if !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
}

// clientAddr is the address a request came from: the peer, unless the
// peer is a trusted proxy; then X-Forwarded-For is walked from the right,
// skipping trusted proxies, to the first hop that is not one (entries left
// of it are the client's to write, so they never count). trusted reports
// whether the peer is a trusted proxy.
func clientAddr(remote string, xff []string, proxies []netip.Prefix) (addr string, trusted bool) {
	peer, ok := parseAddr(remote)
	if !ok {
		return remote, false
	}
	if !inPrefixes(peer, proxies) {
		return peer.String(), false
	}
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			// A trusted proxy writes addresses only: the garbage is the
			// client's, and the proxy to its right saw the client.
			return last.String(), true
		}
		if !inPrefixes(hop, proxies) {
			return hop.String(), true
		}
		last = hop
	}
	return last.String(), true
}

// parseAddr reads "ip", "ip:port" or "[ip]:port", dropping zones and
// IPv4-in-IPv6 mapping.
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkText is the one decoding layer's text rule (issue 7 row 6): path
// and query parameters with NUL or invalid UTF-8 are 400
// invalid_parameter, and the body huma reads is checked as it streams in
// (400 invalid_body, through newError).
func (s *Server) checkText(ctx huma.Context, next func(huma.Context)) {
	u := ctx.URL()
	bad := reqtext.String(u.Path) != nil
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		for k, vs := range q {
			for _, v := range append(vs, k) {
				bad = bad || reqtext.String(v) != nil
			}
		}
	}
	if bad {
		s.writeProblem(ctx, problem.BadRequest("invalid_parameter",
			"A path or query parameter contains NUL or invalid UTF-8."))
		return
	}
	next(&textContext{ctx})
}

// textContext checks the body as huma reads it. The kind is chosen when the
// body is read, after operation middlewares (gzip) have rewritten it; a
// body still content-encoded is checked by the operation after inflating.
type textContext struct{ humaContext }

// humaContext names the embedded huma.Context so that its Context method
// is promoted.
type humaContext = huma.Context

// Unwrap lets humago.Unwrap reach the request.
func (c *textContext) Unwrap() huma.Context { return c.humaContext }

// BodyReader implements huma.Context.
func (c *textContext) BodyReader() io.Reader {
	r := c.humaContext.BodyReader()
	if r == nil {
		return nil
	}
	if enc := strings.TrimSpace(c.Header("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return r
	}
	kind := reqtext.JSON
	if mt, _, _ := mime.ParseMediaType(c.Header("Content-Type")); mt == "application/x-www-form-urlencoded" {
		kind = reqtext.Form
	}
	return reqtext.NewReader(r, kind)
}

// Edge wraps a handler served outside the operation table (a proxy path)
// in the same edge: the resolved client address and the body deadline.
func (s *Server) Edge(next http.Handler) http.Handler { return s.edge(next) }
