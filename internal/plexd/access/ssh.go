package access

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Exit codes plexd gives refused requests (as shells do for a command
// that cannot run).
const (
	exitRefused  = 126
	exitNotFound = 127
)

// handlerDrain bounds how long a closed ssh connection waits for its
// session handlers (their processes are killed when it closes).
const handlerDrain = 5 * time.Second

type ctxKey struct{}

// sshConn is an admitted ssh connection as the SSH server sees it.
type sshConn struct {
	*liveConn
	g          *grant
	user       *localUser
	authorized gossh.PublicKey
	// refuse, when set, is shown as the banner and every login fails.
	refuse string
	rec    *recorder

	// mu guards the handler count.
	mu       sync.Mutex
	handlers int
	ended    bool
	idle     chan struct{} // closed once ended and no handler runs
}

// begin counts a session handler in; false once the connection ended.
func (sc *sshConn) begin() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.ended {
		return false
	}
	sc.handlers++
	return true
}

func (sc *sshConn) end() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.handlers--
	if sc.ended && sc.handlers == 0 {
		close(sc.idle)
	}
}

// drain marks the connection ended and waits (bounded) for its handlers.
func (sc *sshConn) drain() {
	sc.mu.Lock()
	sc.ended = true
	if sc.handlers == 0 {
		close(sc.idle)
	}
	sc.mu.Unlock()
	select {
	case <-sc.idle:
	case <-time.After(handlerDrain):
	}
}

func connOf(ctx gliderssh.Context) *sshConn {
	sc, _ := ctx.Value(ctxKey{}).(*sshConn)
	return sc
}

// newSSHServer builds the embedded SSH server. It never listens: each
// admitted connection is handed to HandleConn. Only session channels
// exist (no port forwarding, no agent channel).
func (s *Server) newSSHServer(signer gossh.Signer) *gliderssh.Server {
	return &gliderssh.Server{
		HostSigners:      []gliderssh.Signer{signer},
		Version:          "plexd",
		Handler:          s.handleSession,
		PublicKeyHandler: s.sshPublicKey,
		BannerHandler:    s.sshBanner,
		ConnCallback: func(ctx gliderssh.Context, c net.Conn) net.Conn {
			sc, ok := c.(*sshConn)
			if !ok {
				return nil
			}
			ctx.SetValue(ctxKey{}, sc)
			return c
		},
		ServerConfigCallback: func(gliderssh.Context) *gossh.ServerConfig { return &gossh.ServerConfig{MaxAuthTries: 6} },
		ChannelHandlers:      map[string]gliderssh.ChannelHandler{"session": gliderssh.DefaultSessionHandler},
		RequestHandlers:      map[string]gliderssh.RequestHandler{},
		SubsystemHandlers:    map[string]gliderssh.SubsystemHandler{"sftp": s.handleSFTP},
	}
}

// serveSSH runs the SSH protocol on an admitted connection and reports
// its start and end; the recording is finished and uploaded last.
func (s *Server) serveSSH(g *grant, lc *liveConn) {
	id := g.setup.SessionID
	sc := &sshConn{liveConn: lc, g: g, idle: make(chan struct{})}
	sc.refuse = s.prepareSSH(sc)
	if sc.refuse != "" {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "access ssh session refused",
			slog.String(keySessionID, id), slog.String(logkey.Reason, sc.refuse))
	}
	sc.rec = s.newRecorder(id)
	s.activity(id, nodeproto.SessionActivity{SSH: &nodeproto.SSHActivity{Phase: nodeproto.PhaseStarted}})
	s.ssh.HandleConn(sc)
	lc.Close()
	sc.drain()
	s.activity(id, nodeproto.SessionActivity{SSH: &nodeproto.SSHActivity{Phase: nodeproto.PhaseEnded, TerminatedBy: lc.terminatedBy()}})
	sc.rec.finish()
}

// prepareSSH resolves the local account and the authorized key; it
// returns why the session is refused ("" when it is not).
func (s *Server) prepareSSH(sc *sshConn) string {
	target := sc.g.setup.Target.User()
	local := s.opts.SSHUsers[target]
	if local == "" {
		return fmt.Sprintf("plexd: ssh user %q is not allowed on this node (plexd --access-ssh-users)", target)
	}
	u, err := lookupLocal(local)
	if err != nil {
		return fmt.Sprintf("plexd: local account for ssh user %q is unusable: %v", target, err)
	}
	sc.user = u
	key, _, _, _, err := gossh.ParseAuthorizedKey([]byte(sc.g.setup.AuthorizedKey))
	if err != nil {
		return "plexd: the session's authorized key does not parse"
	}
	sc.authorized = key
	return ""
}

// sshBanner shows why a login cannot succeed before authentication.
func (s *Server) sshBanner(ctx gliderssh.Context) string {
	sc := connOf(ctx)
	switch {
	case sc == nil:
		return ""
	case sc.refuse != "":
		return sc.refuse + "\r\n"
	case ctx.User() != sc.g.setup.Target.User():
		return fmt.Sprintf("plexd: this session logs in as %q\r\n", sc.g.setup.Target.User())
	}
	return ""
}

// sshPublicKey admits only the session's authorized key for the session's
// user.
func (s *Server) sshPublicKey(ctx gliderssh.Context, key gliderssh.PublicKey) bool {
	sc := connOf(ctx)
	if sc == nil || sc.refuse != "" || ctx.User() != sc.g.setup.Target.User() {
		return false
	}
	return gliderssh.KeysEqual(key, sc.authorized)
}

// handleSession runs an exec request or a shell as the local user.
func (s *Server) handleSession(sess gliderssh.Session) {
	sc := connOf(sess.Context())
	if sc == nil || !sc.begin() {
		sess.Exit(exitRefused)
		return
	}
	defer sc.end()
	raw := sess.RawCommand()
	started := s.clk.Now()
	if allowed := sc.g.setup.Target.SSH.AllowedCommands; len(allowed) > 0 && !slices.Contains(allowed, raw) {
		fmt.Fprintf(sess.Stderr(), "plexd: this session may only run: %s\r\n", strings.Join(allowed, " | "))
		s.reportExec(sc, raw, exitRefused, started)
		sess.Exit(exitRefused)
		return
	}
	code := s.run(sess, sc, raw)
	s.reportExec(sc, raw, code, started)
	sess.Exit(code)
}

// reportExec reports one exec (or shell, command "(shell)").
func (s *Server) reportExec(sc *sshConn, raw string, code int, started time.Time) {
	if raw == "" {
		raw = "(shell)"
	}
	raw = clip(raw, nodeproto.MaxActivityCommand)
	done := s.clk.Now().UTC()
	st := started.UTC()
	s.activity(sc.g.setup.SessionID, nodeproto.SessionActivity{SSH: &nodeproto.SSHActivity{
		Command: raw, ExitCode: &code, StartedAt: &st, CompletedAt: &done}})
}
