//go:build unix

package actions

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// hostUser is the account a hook runs as.
type hostUser struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

// hookUser resolves the configured hook user. It is nil, meaning plexd's
// own user, when none is configured or plexd is not root (it could not
// switch anyway).
func hookUser(name string) (*hostUser, error) {
	if name == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("hook user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("hook user %s: not a numeric uid/gid", name)
	}
	if uid == 0 {
		return nil, fmt.Errorf("hook user %s: is root; hooks run unprivileged", name)
	}
	hu := &hostUser{name: name, uid: uint32(uid), gid: uint32(gid), groups: []uint32{}}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.ParseUint(s, 10, 32); err == nil && g != 0 {
				hu.groups = append(hu.groups, uint32(g))
			}
		}
	}
	return hu, nil
}

// setProcessGroup starts cmd in its own process group (killed as a whole
// on cancellation) and, with u, as that user.
func setProcessGroup(cmd *exec.Cmd, u *hostUser) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if u != nil {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// chownTo gives dir to u (nil: leave it).
func chownTo(dir string, u *hostUser) error {
	if u == nil {
		return nil
	}
	return os.Chown(dir, int(u.uid), int(u.gid))
}

// openNoFollow opens path for reading, refusing a symlink as the last
// element (EvalSymlinks resolved it already; this closes the race).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
