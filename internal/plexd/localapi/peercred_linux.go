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
		if cred.Uid == 0 || int(cred.Uid) == os.Getuid() {
			return true
		}
		g, err := user.LookupGroup(group)
		if err != nil {
			return false
		}
		if g.Gid == strconv.Itoa(int(cred.Gid)) {
			return true
		}
		u, err := user.LookupId(strconv.Itoa(int(cred.Uid)))
		if err != nil {
			return false
		}
		gids, err := u.GroupIds()
		return err == nil && slices.Contains(gids, g.Gid)
	}
}
