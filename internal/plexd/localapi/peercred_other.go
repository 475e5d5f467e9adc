//go:build !linux

package localapi

import "net"

// SecretsGroup may read secret values through the local API (§12.8).
const SecretsGroup = "plexd-secrets"

// PeerCredAuthorizer refuses everyone where peer credentials are not
// implemented: secrets stay closed rather than open.
func PeerCredAuthorizer(string) Authorizer {
	return func(net.Conn) bool { return false }
}
