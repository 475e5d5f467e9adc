package access

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// FuzzAccessUpgrade feeds raw requests to the upgrade endpoint's checks
// (request shape, bearer extraction, token verification, session
// checks): nothing panics, and a request is admitted only with a token
// that verifies under the trusted key for this node and names a
// registered session of the endpoint's kind.
func FuzzAccessUpgrade(f *testing.F) {
	e := newEnv(f, nil)
	ss := e.session(nodeproto.SessionTCP, tcpTarget("127.0.0.1:9"), nil)
	k8s := e.session(nodeproto.SessionK8s, k8sTarget("g"), nil)
	req := func(method, auth, conn, upgrade string) []byte {
		return fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: plexd\r\nAuthorization: %s\r\nConnection: %s\r\nUpgrade: %s\r\n\r\n",
			method, AccessPath, auth, conn, upgrade)
	}
	f.Add(req("GET", "Bearer "+e.token(ss, nil), "Upgrade", UpgradeProtocol))
	f.Add(req("GET", "bearer "+e.token(k8s, nil), "keep-alive, upgrade", UpgradeProtocol))
	f.Add(req("GET", "Bearer a.b.c", "Upgrade", UpgradeProtocol))
	f.Add(req("GET", "Basic eDp5", "Upgrade", "websocket"))
	f.Add(req("POST", "Bearer ", "close", ""))
	f.Add([]byte("GET /v1/access HTTP/1.1\r\n\r\n"))
	keys := e.srv.opts.Keys()
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:40000"
		g, status, ref := e.srv.authorize(r)
		if ref != nil {
			if status == 0 || ref.Code == "" {
				t.Fatalf("refusal without status or code: %d %+v", status, ref)
			}
			return
		}
		c, err := accesstoken.Verify(bearer(r), keys, accesstoken.NodeAudience(testNode), e.clk.Now())
		if err != nil {
			t.Fatalf("admitted a token that does not verify: %v", err)
		}
		if c.ID != g.setup.JTI || (g.setup.Kind != nodeproto.SessionSSH && g.setup.Kind != nodeproto.SessionTCP) {
			t.Fatalf("admitted jti %q kind %q for claims %q", g.setup.JTI, g.setup.Kind, c.ID)
		}
	})
}
