package actions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// capBuffer keeps the first max bytes written to it and swallows the
// rest, so a chatty process never blocks on its pipe.
type capBuffer struct {
	max int
	// mu guards buf and cut.
	mu  sync.Mutex
	buf bytes.Buffer
	cut bool
}

func newCapBuffer(max int) *capBuffer { return &capBuffer{max: max} }

// Write keeps what fits and reports the whole of p as written.
func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - c.buf.Len()
	if len(p) > room {
		c.buf.Write(p[:max(room, 0)])
		c.cut = true
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// String is the kept output, plus Truncated when some was cut.
func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return c.buf.String() + Truncated
	}
	return c.buf.String()
}

// procSpec is one process to start.
type procSpec struct {
	path string
	args []string
	env  []string // never nil: the process inherits nothing
	dir  string
	user *hostUser // nil: plexd's own user
}

// waitDelay bounds how long output pipes are drained after the process
// was killed (grandchildren may hold them open).
const waitDelay = 2 * time.Second

// runProcess runs p in its own process group, killed as a whole when ctx
// ends. A non-zero exit is an exit code, not an error; an error means the
// process could not run (or ctx ended: the caller classifies that).
func runProcess(ctx context.Context, p procSpec, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	cmd.Env = p.env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, stdout, stderr
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd, p.user)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return exitCode(cmd), ctx.Err()
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, err
}

func exitCode(cmd *exec.Cmd) int {
	if cmd.ProcessState == nil {
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// execSystem is the default ExecFunc: name from PATH, with the hook PATH
// as its whole environment.
func execSystem(ctx context.Context, name string, args []string, stdout, stderr io.Writer) (int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return -1, err
	}
	return runProcess(ctx, procSpec{path: path, args: args, env: []string{"PATH=" + HookPath}}, stdout, stderr)
}

// fileChecksum is the lowercase hex SHA-256 of the file at path.
func fileChecksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// executableChecksum hashes the running binary.
func executableChecksum() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return fileChecksum(p)
}
