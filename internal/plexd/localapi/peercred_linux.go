package localapi

import (
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
)

// SecretsGroup may read secret values through the local API (§12.8).
const SecretsGroup = "plexd-secrets"

// PeerCredAuthorizer admits the peer of a Unix connection when it runs as
// root, as plexd's own user, or with group (primary or supplementary).
func PeerCredAuthorizer(group string) Authorizer {
	return func(conn net.Conn) bool {
		uc, ok := conn.(*net.UnixConn)
		if !ok {
			return false
		}
		raw, err := uc.SyscallConn()
		if err != nil {
			return false
		}
		var cred *syscall.Ucred
		var credErr error
		if err := raw.Control(func(fd uintptr) {
			cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		}); err != nil || credErr != nil {
			return false
		}
		return admits(peer{uid: cred.Uid, gid: cred.Gid}, os.Getuid(), group, osAccounts{})
	}
}

// peer is who is on the other end of the socket.
type peer struct{ uid, gid uint32 }

// accounts resolves group names and memberships (the OS, or a test table).
type accounts interface {
	groupID(name string) (string, error)
	groupIDsOf(uid string) ([]string, error)
}

// admits is the secrets rule of §12.8: root, plexd's own user, or a member
// (primary or supplementary) of group. A group that does not exist admits
// no one; a lookup failure refuses.
func admits(p peer, self int, group string, acc accounts) bool {
	if p.uid == 0 || int64(p.uid) == int64(self) {
		return true
	}
	gid, err := acc.groupID(group)
	if err != nil {
		return false
	}
	if gid == strconv.FormatUint(uint64(p.gid), 10) {
		return true
	}
	gids, err := acc.groupIDsOf(strconv.FormatUint(uint64(p.uid), 10))
	return err == nil && slices.Contains(gids, gid)
}

// osAccounts reads the system's user and group databases.
type osAccounts struct{}

func (osAccounts) groupID(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}

func (osAccounts) groupIDsOf(uid string) ([]string, error) {
	u, err := user.LookupId(uid)
	if err != nil {
		return nil, err
	}
	return u.GroupIds()
}
