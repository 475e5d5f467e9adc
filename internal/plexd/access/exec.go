package access

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	gliderssh "github.com/gliderlabs/ssh"
	"github.com/pkg/sftp"
)

// defaultPath is the PATH of session commands.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// waitDelay bounds how long output is still read after a command exits
// (a background child holding stdout open does not hold the session).
const waitDelay = 2 * time.Second

// localUser is the account a session's commands run as.
type localUser struct {
	name, home, shell string
	uid, gid          uint32
	groups            []uint32
	// self: plexd runs as this user already; no credential switch.
	self bool
}

// lookupLocal resolves name. Without root, only plexd's own user works.
func lookupLocal(name string) (*localUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s: non-numeric uid or gid", name)
	}
	lu := &localUser{name: u.Username, home: u.HomeDir, shell: loginShell(u.Username), uid: uint32(uid), gid: uint32(gid)}
	lu.self = int(uid) == os.Geteuid()
	if !lu.self && os.Geteuid() != 0 {
		return nil, fmt.Errorf("plexd is not root and cannot run commands as %s", name)
	}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				lu.groups = append(lu.groups, uint32(n))
			}
		}
	}
	return lu, nil
}

// loginShell is name's shell from /etc/passwd (os/user does not tell),
// /bin/sh when unknown.
func loginShell(name string) string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return "/bin/sh"
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == name && strings.HasPrefix(fields[6], "/") {
			return fields[6]
		}
	}
	return "/bin/sh"
}

// credential is the process credential of u (nil: plexd's own).
func (u *localUser) credential() *syscall.Credential {
	if u.self {
		return nil
	}
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
}

// command builds the process of raw ("" runs a login shell) with a clean
// environment in the user's home.
func (u *localUser) command(ctx context.Context, raw, term string) *exec.Cmd {
	var cmd *exec.Cmd
	if raw == "" {
		cmd = exec.CommandContext(ctx, u.shell)
		cmd.Args = []string{"-" + baseName(u.shell)} // a login shell
	} else {
		cmd = exec.CommandContext(ctx, u.shell, "-c", raw)
	}
	cmd.Env = []string{"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "SHELL=" + u.shell, "PATH=" + defaultPath}
	if term != "" {
		cmd.Env = append(cmd.Env, "TERM="+term)
	}
	cmd.Dir = "/"
	if st, err := os.Stat(u.home); err == nil && st.IsDir() {
		cmd.Dir = u.home
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: u.credential()}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	return cmd
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// run runs raw for sess as the session's user and returns the exit code.
// Output goes to the client and to the recording; input is not recorded.
func (s *Server) run(sess gliderssh.Session, sc *sshConn, raw string) int {
	ptyReq, winCh, isPty := sess.Pty()
	term := ""
	if isPty {
		term = ptyReq.Term
	}
	cmd := sc.user.command(sess.Context(), raw, term)
	skip := isLegacySCP(raw)
	out := sc.rec.output(skip)
	if isPty {
		return s.runPTY(sess, sc, cmd, ptyReq, winCh, out)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return exitNotFound
	}
	errOut := out // its own writer: a UTF-8 sequence held back is per stream
	if !skip {
		errOut = sc.rec.output(false)
	}
	cmd.Stdout = io.MultiWriter(sess, out)
	cmd.Stderr = io.MultiWriter(sess.Stderr(), errOut)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(sess.Stderr(), "plexd: %v\r\n", err)
		return exitNotFound
	}
	go func() { io.Copy(stdin, sess); stdin.Close() }()
	return exitCode(cmd.Wait(), cmd)
}

// runPTY runs cmd on a pseudo-terminal sized and resized by the client.
func (s *Server) runPTY(sess gliderssh.Session, sc *sshConn, cmd *exec.Cmd, req gliderssh.Pty, winCh <-chan gliderssh.Window, out io.Writer) int {
	sc.rec.size(req.Window.Width, req.Window.Height)
	attrs := cmd.SysProcAttr
	attrs.Setctty = true
	f, err := pty.StartWithAttrs(cmd, winsize(req.Window), attrs)
	if err != nil {
		fmt.Fprintf(sess.Stderr(), "plexd: %v\r\n", err)
		return exitNotFound
	}
	defer f.Close()
	go func() {
		for w := range winCh {
			pty.Setsize(f, winsize(w))
			sc.rec.resize(w.Width, w.Height)
		}
	}()
	go io.Copy(f, sess)
	copied := make(chan struct{})
	go func() { io.Copy(io.MultiWriter(sess, out), f); close(copied) }()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(waitDelay):
	}
	return exitCode(err, cmd)
}

func winsize(w gliderssh.Window) *pty.Winsize {
	return &pty.Winsize{Rows: uint16(min(max(w.Height, 0), 65535)), Cols: uint16(min(max(w.Width, 0), 65535))}
}

// exitCode is the command's exit status; a signal gives 128+signal.
func exitCode(err error, cmd *exec.Cmd) int {
	ps := cmd.ProcessState
	if ps == nil {
		return exitNotFound
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return 1
	}
	return 0
}

// isLegacySCP: the legacy scp protocol (`scp -t` / `scp -f`) carries file
// contents on stdout, which are not recorded.
func isLegacySCP(raw string) bool {
	f := strings.Fields(raw)
	if len(f) == 0 || baseName(f[0]) != "scp" {
		return false
	}
	for _, a := range f[1:] {
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.ContainsAny(a, "tf") {
			return true
		}
	}
	return false
}

// handleSFTP serves the sftp subsystem as the session's user: in
// process when that is plexd's own user, else through the SFTP helper
// run with the user's credentials.
func (s *Server) handleSFTP(sess gliderssh.Session) {
	sc := connOf(sess.Context())
	if sc == nil || !sc.begin() {
		sess.Exit(exitRefused)
		return
	}
	defer sc.end()
	started := s.clk.Now()
	const label = "sftp (subsystem)"
	if len(sc.g.setup.Target.SSH.AllowedCommands) > 0 {
		fmt.Fprint(sess.Stderr(), "plexd: this session may only run its allowed commands; sftp is not one\r\n")
		s.reportExec(sc, label, exitRefused, started)
		sess.Exit(exitRefused)
		return
	}
	sc.rec.marker("sftp session (transfers are not recorded)")
	code := 0
	switch {
	case sc.user.self:
		srv, err := sftp.NewServer(sess, sftp.WithServerWorkingDirectory(sc.user.homeOrRoot()))
		if err == nil {
			err = srv.Serve()
		}
		if err != nil {
			code = 1
		}
	case len(s.opts.SFTPHelper) > 0:
		cmd := exec.CommandContext(sess.Context(), s.opts.SFTPHelper[0], s.opts.SFTPHelper[1:]...)
		cmd.Env = []string{"HOME=" + sc.user.home, "USER=" + sc.user.name, "LOGNAME=" + sc.user.name, "PATH=" + defaultPath}
		cmd.Dir = sc.user.homeOrRoot()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: sc.user.credential()}
		cmd.WaitDelay = waitDelay
		stdin, err := cmd.StdinPipe()
		if err == nil {
			cmd.Stdout, cmd.Stderr = sess, io.Discard
			err = cmd.Start()
		}
		if err != nil {
			code = exitNotFound
			break
		}
		go func() { io.Copy(stdin, sess); stdin.Close() }()
		code = exitCode(cmd.Wait(), cmd)
	default:
		fmt.Fprint(sess.Stderr(), "plexd: sftp as another user needs plexd's sftp helper\r\n")
		code = exitRefused
	}
	s.reportExec(sc, label, code, started)
	sess.Exit(code)
}

func (u *localUser) homeOrRoot() string {
	if st, err := os.Stat(u.home); err == nil && st.IsDir() {
		return u.home
	}
	return "/"
}

// ServeSFTP serves one SFTP session on in and out, in the working
// directory, until the client ends it: plexd's hidden `access-sftp`
// command, run as the session's user.
func ServeSFTP(in io.Reader, out io.Writer) error {
	srv, err := sftp.NewServer(stdio{in, out})
	if err != nil {
		return err
	}
	return srv.Serve()
}

type stdio struct {
	io.Reader
	io.Writer
}

func (stdio) Close() error { return nil }
