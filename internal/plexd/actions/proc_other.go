//go:build !unix

package actions

import (
	"errors"
	"os"
	"os/exec"
)

// hostUser is the account a hook runs as (unsupported here).
type hostUser struct{}

// hookUser: switching users needs a Unix host; hooks run as plexd.
func hookUser(name string) (*hostUser, error) {
	if name != "" {
		return nil, errors.New("hook user: not supported on this system")
	}
	return nil, nil
}

func setProcessGroup(*exec.Cmd, *hostUser) {}

func chownTo(string, *hostUser) error { return nil }

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
