package access

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Attach (docs/design/0008-access.md).
const (
	// HeaderSessionToken optionally carries the operator's token on
	// attach; when present it must be the session's.
	HeaderSessionToken = "X-Plexsphere-Session-Token"
	dialTimeout        = 10 * time.Second
)

// Problem codes of attach.
const (
	CodeSessionNotSSH   = "session_not_ssh"
	CodeUpgradeRequired = "upgrade_required"
	CodeNodeRefused     = "node_refused_session"
	CodeNodeUnreachable = "node_unreachable"
)

type attachInput struct {
	SessionParams
	Upgrade string `header:"Upgrade" doc:"websocket"`
	Token   string `header:"X-Plexsphere-Session-Token" doc:"Ours, optional: the session's token; when present it must match."`
}

func (s *Service) registerAttach(api huma.API) {
	op := route.Op(http.MethodGet, sessionPath+"/attach", "AttachSession", "session.attach", route.Operator,
		"Attach to an ssh (or, ours, tcp) session: a WebSocket carrying the stream to the node through the gateway", tag)
	op.Responses = map[string]*huma.Response{"101": {Description: "Switching Protocols: the WebSocket carries the session's bytes."}}
	huma.Register(api, op, s.attach)
}

// attach checks the caller and the session, opens the node's access
// listener through the gateway, and only then upgrades the operator's
// connection, so every refusal is problem+json.
func (s *Service) attach(ctx context.Context, in *attachInput) (*huma.StreamResponse, error) {
	r, node, br, err := s.connect(ctx, in.SessionParams, in.Upgrade, in.Token, func(r sessionRow) error {
		if r.Kind == nodeproto.SessionK8s {
			return problem.Conflict(CodeSessionNotSSH, "k8s sessions are used through the Resource's kube path, not attach.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer node.Close()
		req, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		rc.SetWriteDeadline(time.Time{})
		ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		ctx := context.WithoutCancel(hctx.Context())
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		op := websocket.NetConn(ctx, ws, websocket.MessageBinary)
		a := newAttachment(node)
		defer s.track(r.ID, a)()
		splice(op, node, br)
		// A revocation or expiry is told apart from a normal end: close
		// code 1008 with the reason (clients print it).
		if why := a.endedBy(); why != "" {
			ws.Close(websocket.StatusPolicyViolation, why)
			return
		}
		ws.Close(websocket.StatusNormalClosure, "session ended")
	}}, nil
}

// connect runs the checks every WebSocket way into a session shares — an
// Upgrade, the caller's own live session, resource#connect, accept (the
// way's own conditions), the session token when the caller sent one — and
// opens the node's access listener through the gateway.
func (s *Service) connect(ctx context.Context, in SessionParams, upgrade, sentToken string, accept func(sessionRow) error) (sessionRow, net.Conn, *bufio.Reader, error) {
	pid, sid, err := in.ids()
	if err != nil {
		return sessionRow{}, nil, nil, err
	}
	p := principal.From(ctx)
	if p == nil {
		return sessionRow{}, nil, nil, problem.Unauthenticated()
	}
	if !strings.EqualFold(upgrade, "websocket") {
		return sessionRow{}, nil, nil, problem.New(http.StatusUpgradeRequired, CodeUpgradeRequired, "This is a WebSocket: send Upgrade: websocket.").
			WithHeader("Upgrade", "websocket")
	}
	r, err := s.load(ctx, s.cfg.DB, `s.id = $1 AND s.project_id = $2`, sid, pid)
	if err == nil && r.IdentityID != p.IdentityID {
		err = errNoSession // another identity's session: as if it did not exist
	}
	if errors.Is(err, errNoSession) {
		if cerr := s.cfg.Authz.Check(ctx, "observe", "project:"+pid); cerr != nil {
			return r, nil, nil, cerr
		}
		return r, nil, nil, problem.NotFound(CodeSessionNotFound, "No session of yours in this Project has that id.")
	} else if err != nil {
		return r, nil, nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "connect", "resource:"+r.ResourceID); err != nil {
		return r, nil, nil, err
	}
	if !r.live(s.cfg.Now()) {
		return r, nil, nil, problem.Conflict(CodeSessionNotActive, "The session is "+r.api(s.cfg.Now()).Status+".")
	}
	if err := accept(r); err != nil {
		return r, nil, nil, err
	}
	token, err := s.token(ctx, r)
	if err != nil {
		return r, nil, nil, err
	}
	if sentToken != "" && subtle.ConstantTimeCompare([]byte(sentToken), []byte(token)) != 1 {
		return r, nil, nil, problem.New(http.StatusUnauthorized, CodeSessionTokenInvalid, "The session token does not belong to this session.")
	}
	node, br, err := s.openListener(ctx, r, token)
	return r, node, br, err
}

// splice copies both ways until either side ends, then closes the
// node's side (the operator's WebSocket is closed by the caller, with a
// close code).
func splice(op net.Conn, node net.Conn, nodeReader io.Reader) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(node, op); closeWrite(node); done <- struct{}{} }()
	go func() { io.Copy(op, nodeReader); done <- struct{}{} }()
	<-done
	node.Close()
	op.SetReadDeadline(time.Now()) // unblocks the copy from the operator
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// nodeAddr is the node's access listener on its mesh IP.
func (s *Service) nodeAddr(ctx context.Context, nodeID string) (string, error) {
	var ip *string
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT mesh_ip FROM nodes WHERE id = $1 AND revoked_at IS NULL`, nodeID).Scan(&ip); err != nil || ip == nil || *ip == "" {
		return "", problem.New(http.StatusBadGateway, CodeNodeUnreachable, "The session's node has no mesh address.")
	}
	return net.JoinHostPort(*ip, strconv.Itoa(s.cfg.AccessPort)), nil
}

// dialNode connects to the node's access listener through the Project's
// gateway.
func (s *Service) dialNode(ctx context.Context, r sessionRow) (net.Conn, error) {
	if s.cfg.Gateway == nil {
		return nil, problem.New(http.StatusServiceUnavailable, CodeGatewayUnavailable, "No session gateway is configured.")
	}
	addr, err := s.nodeAddr(ctx, r.NodeID)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := s.cfg.Gateway.Dial(dctx, r.ProjectID, addr)
	if err != nil {
		s.cfg.Logger.Warn("session gateway dial failed", "session_id", r.ID, "node_id", r.NodeID, "error", err.Error())
		return nil, problem.New(http.StatusBadGateway, CodeNodeUnreachable, "The node's access listener is not reachable through the mesh.")
	}
	return c, nil
}

// setupGrace is how long after issuance a node that cannot be reached yet
// or has not yet applied the session's session_setup is asked again: the
// event, the gateway's first WireGuard handshake with the node and the
// operator's attach race (a refused attempt does not use the token up).
const setupGrace = 10 * time.Second

// openListener performs the listener's upgrade with token and returns the
// connection and a reader holding any bytes read past the answer. A node
// that does not answer or does not know the session yet is asked again,
// every 50 ms, until setupGrace after issuance.
func (s *Service) openListener(ctx context.Context, r sessionRow, token string) (net.Conn, *bufio.Reader, error) {
	for {
		c, br, code, err := s.upgrade(ctx, r, token)
		retry := code == "session_unknown" || code == codeDialFailed
		if !retry || s.cfg.Now().After(store.Time(r.IssuedAt).Add(setupGrace)) {
			return c, br, err
		}
		if !wait(ctx) {
			return nil, nil, err
		}
	}
}

// codeDialFailed marks an attempt that did not reach the listener.
const codeDialFailed = "-dial"

// upgrade is one attempt of openListener; code is the node's refusal code
// (codeDialFailed when the listener was not reached).
func (s *Service) upgrade(ctx context.Context, r sessionRow, token string) (net.Conn, *bufio.Reader, string, error) {
	c, err := s.dialNode(ctx, r)
	if err != nil {
		return nil, nil, codeDialFailed, err
	}
	c.SetDeadline(time.Now().Add(dialTimeout))
	req := "GET " + nodeproto.AccessPath + " HTTP/1.1\r\nHost: plexd\r\nAuthorization: Bearer " + token +
		"\r\nConnection: Upgrade\r\nUpgrade: " + nodeproto.AccessUpgrade + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, nil, "", problem.New(http.StatusBadGateway, CodeNodeUnreachable, "The node's access listener closed the connection.")
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, "", problem.New(http.StatusBadGateway, CodeNodeUnreachable, "The node's access listener did not answer.")
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer c.Close()
		code, err := nodeRefusal(resp)
		return nil, nil, code, err
	}
	c.SetDeadline(time.Time{})
	return c, br, "", nil
}

// nodeRefusal turns a listener's refusal {code, detail} into a problem.
func nodeRefusal(resp *http.Response) (string, error) {
	var body struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&body)
	resp.Body.Close()
	return body.Code, problem.New(http.StatusBadGateway, CodeNodeRefused,
		fmt.Sprintf("The node refused the session (%s): %s", sanitize(body.Code), sanitize(body.Detail)))
}

// sanitize keeps a node-supplied string short and printable.
func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// KubeHandler serves /v1/projects/{project_id}/resources/{resource_id}/kube/…:
// the Kubernetes API of the Resource's node, for a kubectl that presents a
// k8s session's token as its bearer. Every call is carried through the
// gateway to the node's access listener, which verifies the token again
// and impersonates the session's user and groups.
func (s *Service) KubeHandler() http.Handler {
	return http.HandlerFunc(s.serveKube)
}

// KubePattern is the mux pattern of KubeHandler.
const KubePattern = "/v1/projects/{project_id}/resources/{resource_id}/kube/"

func (s *Service) serveKube(w http.ResponseWriter, req *http.Request) {
	pid, rid := req.PathValue("project_id"), req.PathValue("resource_id")
	r, token, err := s.kubeSession(req.Context(), pid, rid, req.Header.Get("Authorization"))
	if err != nil {
		writeProblem(w, req, err)
		return
	}
	addr, err := s.nodeAddr(req.Context(), r.NodeID)
	if err != nil {
		writeProblem(w, req, err)
		return
	}
	rest := strings.TrimPrefix(req.URL.Path, "/v1/projects/"+pid+"/resources/"+rid+"/kube")
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	req.Body = http.MaxBytesReader(w, req.Body, 16<<20)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "http", addr, "plexd"
			pr.Out.URL.Path, pr.Out.URL.RawPath = nodeproto.AccessKubePrefix+rest, ""
			pr.Out.Header.Set("Authorization", "Bearer "+token)
		},
		Transport: setupRetry{until: store.Time(r.IssuedAt).Add(setupGrace), now: s.cfg.Now, next: &http.Transport{
			DialContext: func(ctx context.Context, _, a string) (net.Conn, error) {
				return s.cfg.Gateway.Dial(ctx, r.ProjectID, a)
			},
			ResponseHeaderTimeout: 60 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second,
		}},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			s.cfg.Logger.Warn("kube proxy failed", "session_id", r.ID, "error", err.Error())
			writeProblem(w, req, problem.New(http.StatusBadGateway, CodeNodeUnreachable, "The node's Kubernetes proxy is not reachable through the mesh."))
		},
	}
	proxy.ServeHTTP(w, req)
}

// kubeSession authenticates a kube call: a live k8s session of this
// Resource, token verified with the Domain's keys.
func (s *Service) kubeSession(ctx context.Context, pid, rid, authorization string) (sessionRow, string, error) {
	if s.cfg.Gateway == nil {
		return sessionRow{}, "", problem.New(http.StatusServiceUnavailable, CodeGatewayUnavailable, "No session gateway is configured.")
	}
	bad := problem.New(http.StatusUnauthorized, CodeSessionTokenInvalid, "Present a k8s session token of this Resource as the bearer (plexctl kube login).")
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok || len(token) > accesstoken.MaxTokenBytes {
		return sessionRow{}, "", bad
	}
	c, err := accesstoken.Unverified(token)
	if err != nil || c.ID == "" {
		return sessionRow{}, "", bad
	}
	r, err := s.load(ctx, s.cfg.DB, `s.id = $1 AND s.project_id = $2 AND s.resource_id = $3`, c.ID, pid, rid)
	if err != nil {
		return sessionRow{}, "", bad
	}
	keys, err := s.publicKeys(ctx, r.DomainID)
	if err != nil {
		return sessionRow{}, "", problem.Internal(err)
	}
	if _, err := accesstoken.Verify(token, keys, accesstoken.ResourceAudience(rid), s.cfg.Now()); err != nil {
		return sessionRow{}, "", bad
	}
	switch {
	case r.Kind != nodeproto.SessionK8s:
		return sessionRow{}, "", bad
	case !r.live(s.cfg.Now()):
		return sessionRow{}, "", problem.New(http.StatusUnauthorized, CodeSessionNotActive, "The session has ended; get a new one (kubectl runs plexctl kube credential again).")
	}
	return r, token, nil
}

// writeProblem answers a raw handler's failure as problem+json.
func writeProblem(w http.ResponseWriter, req *http.Request, err error) {
	var p *problem.Problem
	if !errors.As(err, &p) {
		p = problem.Internal(err)
	}
	p.Instance = req.URL.Path
	for k, vs := range p.GetHeaders() {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// setupRetry re-sends a bodiless kube call that the node refused with
// session_unknown (its session_setup and the first call raced) every 50 ms
// until the grace period after issuance ends.
type setupRetry struct {
	until time.Time
	now   func() time.Time
	next  http.RoundTripper
}

func (t setupRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	for {
		resp, err := t.next.RoundTrip(req)
		bodiless := req.Body == nil || req.Body == http.NoBody
		if !bodiless || t.now().After(t.until) {
			return resp, err
		}
		if err != nil { // the node is not reachable yet: try again
			if !wait(req.Context()) {
				return nil, err
			}
			continue
		}
		if resp.StatusCode != http.StatusUnauthorized {
			return resp, nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		var body struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(raw, &body); body.Code != "session_unknown" {
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			return resp, nil
		}
		if !wait(req.Context()) {
			return nil, req.Context().Err()
		}
	}
}

// wait sleeps 50 ms unless ctx ends first (false).
func wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(50 * time.Millisecond):
		return true
	}
}
