package access

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// The browser terminal (ours, issue 13): an ssh session issued with
// "terminal": true carries, instead of the operator's public key, a key
// the control plane derives from its terminal secret and the session id
// (HMAC-SHA256 → Ed25519 seed), so any replica sharing the master key can
// use it and nothing is stored. GET …/sessions/{session_id}/terminal opens
// the node's access listener like attach, logs in to plexd's SSH server
// with that key, asks for a PTY and a shell, and only then upgrades to a
// WebSocket:
//
//   - browser → server: binary messages are the terminal's input; a text
//     message {"type":"resize","cols":C,"rows":R} resizes the PTY;
//   - server → browser: binary messages are the terminal's output; the
//     socket closes 1000 when the shell exits, 1008 with the reason when
//     the session is revoked or expires.
//
// The node's SSH host key is not pinned: the bytes already reach the node
// inside the WireGuard tunnel to its enrolled key and past its check of the
// session token, which authenticate the node.

// Problem codes of the terminal.
const (
	CodeTerminalUnavailable = "terminal_unavailable"
	CodeSessionNotTerminal  = "session_not_terminal"
	CodeCrossOrigin         = "cross_origin_refused"
)

// Terminal bounds.
const (
	maxTerminalCols    = 1000
	maxTerminalRows    = 500
	terminalReadLimit  = 64 << 10
	terminalOutputSize = 32 << 10
	// terminalWriteTimeout bounds one output message to a browser that
	// stopped reading.
	terminalWriteTimeout = 10 * time.Second
)

// terminalKeyLabel separates the terminal keys' derivation from any other
// use of the secret.
const terminalKeyLabel = "plexsphere browser terminal ssh key v1\x00"

// terminalKeyComment marks a session's derived key in its authorized_key
// claim; it names the session, which no operator knows before issuance.
func terminalKeyComment(sessionID string) string { return "plexsphere-terminal:" + sessionID }

// terminalKey derives the session's SSH key and its authorized_keys line.
func (s *Service) terminalKey(sessionID string) (ssh.Signer, string) {
	mac := hmac.New(sha256.New, s.cfg.TerminalKey)
	mac.Write([]byte(terminalKeyLabel + sessionID))
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(mac.Sum(nil)))
	if err != nil { // an Ed25519 key is always accepted
		panic(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return signer, line + " " + terminalKeyComment(sessionID)
}

type terminalInput struct {
	SessionParams
	Upgrade string `header:"Upgrade" doc:"websocket"`
	Origin  string `header:"Origin" doc:"When present, it must be this server's origin."`
	Cols    int    `query:"cols" minimum:"1" maximum:"1000" default:"80" doc:"The terminal's width in columns."`
	Rows    int    `query:"rows" minimum:"1" maximum:"500" default:"24" doc:"The terminal's height in rows."`
	host    string
}

// Resolve keeps the request's Host for the Origin check.
func (in *terminalInput) Resolve(ctx huma.Context) []error {
	in.host = ctx.Host()
	return nil
}

func (s *Service) registerTerminal(api huma.API) {
	op := route.Op(http.MethodGet, sessionPath+"/terminal", "OpenSessionTerminal", "session.terminal", route.Operator,
		"Ours: the browser terminal of an ssh session issued with terminal: a WebSocket to a shell on the node, logged in with the control plane's key for the session", tag)
	op.Responses = map[string]*huma.Response{"101": {Description: "Switching Protocols: binary messages carry the terminal's input and output, text messages {\"type\":\"resize\",\"cols\":C,\"rows\":R} resize it."}}
	huma.Register(api, op, s.terminal)
}

// terminal serves OpenSessionTerminal: every refusal, the node's included,
// comes before the upgrade, as problem+json.
func (s *Service) terminal(ctx context.Context, in *terminalInput) (*huma.StreamResponse, error) {
	if in.Origin != "" && !sameOrigin(in.Origin, in.host) {
		// A page of another site would ride on the browser's cookie.
		return nil, problem.New(http.StatusForbidden, CodeCrossOrigin, "The terminal opens only from this server's own pages.")
	}
	if len(s.cfg.TerminalKey) == 0 {
		return nil, problem.New(http.StatusServiceUnavailable, CodeTerminalUnavailable, "This control plane has no browser terminal key.")
	}
	var signer ssh.Signer
	var user string
	r, node, br, err := s.connect(ctx, in.SessionParams, in.Upgrade, "", func(r sessionRow) error {
		if r.Kind != nodeproto.SessionSSH {
			return problem.Conflict(CodeSessionNotSSH, "The browser terminal opens ssh sessions only.")
		}
		var c accesstoken.Claims
		if err := json.Unmarshal([]byte(r.Claims), &c); err != nil {
			return problem.Internal(err)
		}
		var line string
		signer, line = s.terminalKey(r.ID)
		if c.AuthorizedKey != line {
			return problem.Conflict(CodeSessionNotTerminal, "The session accepts the operator's own key: use plexctl ssh, or issue a session with terminal.")
		}
		user = c.Target.User()
		return nil
	})
	if err != nil {
		return nil, err
	}
	term, err := s.startShell(&readerConn{Conn: node, r: br}, user, signer, in.Cols, in.Rows)
	if err != nil {
		node.Close()
		s.cfg.Logger.Warn("browser terminal: ssh to the node failed", "session_id", r.ID, "node_id", r.NodeID, "error", err.Error())
		return nil, problem.New(http.StatusBadGateway, CodeNodeRefused, "The node's SSH server did not open a shell for the session.")
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer node.Close()
		defer term.close()
		req, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		rc.SetWriteDeadline(time.Time{})
		ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		ws.SetReadLimit(terminalReadLimit)
		a := newAttachment(node)
		defer s.track(r.ID, a)()
		term.pump(ws, a.endedBy)
	}}, nil
}

// sameOrigin reports whether origin names host (scheme aside: TLS is
// terminated in front of the server as often as not).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// readerConn reads what the listener's upgrade read past its answer
// before the connection itself.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// shell is one SSH shell with a PTY on the node.
type shell struct {
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	output io.Reader // stdout and stderr, merged
}

// startShell logs in over conn and starts a login shell with a PTY.
func (s *Service) startShell(conn net.Conn, user string, signer ssh.Signer, cols, rows int) (*shell, error) {
	conn.SetDeadline(time.Now().Add(dialTimeout))
	cc, chans, reqs, err := ssh.NewClientConn(conn, "plexd", &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // see the package comment of the terminal above
		Timeout:         dialTimeout,
	})
	if err != nil {
		return nil, err
	}
	client := ssh.NewClient(cc, chans, reqs)
	fail := func(err error) (*shell, error) {
		client.Close()
		return nil, err
	}
	sess, err := client.NewSession()
	if err != nil {
		return fail(err)
	}
	pr, pw := io.Pipe()
	sess.Stdout, sess.Stderr = pw, pw
	stdin, err := sess.StdinPipe()
	if err != nil {
		return fail(err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", clampDim(rows, maxTerminalRows), clampDim(cols, maxTerminalCols), modes); err != nil {
		return fail(err)
	}
	if err := sess.Shell(); err != nil {
		return fail(err)
	}
	conn.SetDeadline(time.Time{})
	go func() {
		// The shell's end (or the connection's) ends the output.
		err := sess.Wait()
		pw.CloseWithError(shellEnd{err})
	}()
	return &shell{client: client, sess: sess, stdin: stdin, output: pr}, nil
}

func (t *shell) close() { t.client.Close() }

// shellEnd carries sess.Wait's answer to the output's reader.
type shellEnd struct{ err error }

func (e shellEnd) Error() string {
	var exit *ssh.ExitError
	switch {
	case e.err == nil:
		return "shell exited"
	case errors.As(e.err, &exit):
		return "shell exited: " + exit.Msg()
	default:
		return "connection to the node ended"
	}
}

// resize is the browser's control message.
type resize struct {
	Type string `json:"type"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// pump carries input and resizes from ws to the shell and its output
// back. When the output ends it closes ws: 1008 with ended()'s reason
// when the session was ended (revoked, expired), else 1000 saying how the
// shell ended. When the browser goes, the shell is closed.
func (t *shell) pump(ws *websocket.Conn, ended func() string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, terminalOutputSize)
		why := "shell output ended"
		for {
			n, err := t.output.Read(buf)
			if n > 0 {
				wctx, cancel := context.WithTimeout(context.Background(), terminalWriteTimeout)
				werr := ws.Write(wctx, websocket.MessageBinary, buf[:n])
				cancel()
				if werr != nil {
					t.client.Close()
					return
				}
			}
			if err != nil {
				var se shellEnd
				if errors.As(err, &se) {
					why = se.Error()
				}
				break
			}
		}
		if r := ended(); r != "" {
			ws.Close(websocket.StatusPolicyViolation, r)
			return
		}
		ws.Close(websocket.StatusNormalClosure, why)
	}()
	for {
		typ, msg, err := ws.Read(context.Background())
		if err != nil {
			break
		}
		if typ == websocket.MessageBinary {
			if _, err := t.stdin.Write(msg); err != nil {
				break
			}
			continue
		}
		if cols, rows, ok := resizeOf(msg); ok {
			t.sess.WindowChange(rows, cols)
		}
	}
	t.client.Close() // the browser went: end the shell, which ends the output
	<-done
}

// resizeOf reads a browser's text message: a resize, its size clamped to
// the terminal bounds; anything else is ignored (ok false).
func resizeOf(msg []byte) (cols, rows int, ok bool) {
	var m resize
	if json.Unmarshal(msg, &m) != nil || m.Type != "resize" {
		return 0, 0, false
	}
	return clampDim(m.Cols, maxTerminalCols), clampDim(m.Rows, maxTerminalRows), true
}

// clampDim keeps a terminal dimension within 1..most.
func clampDim(v, most int) int { return max(1, min(v, most)) }
