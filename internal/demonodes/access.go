package demonodes

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net/netip"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/access"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
)

// DemoSSHUser is the login a demo node's ssh sessions use; it maps to
// Options.SSHAccount.
const DemoSSHUser = "demo"

// Wrap adapts a session gateway's engine (gateway.Pool.SetWrap) so it
// reaches the demo nodes on their loopback ports; the nodes learn the
// gateway's own port from its handshakes.
func (f *Fleet) Wrap(e *wg.Engine) mesh.Engine { return loopbackPeers{Engine: e, ports: f.ports} }

// reporter sends a demo node's session activity and recordings.
type reporter struct {
	cl     *cpclient.Client
	nodeID string
}

func (r reporter) Activity(ctx context.Context, sessionID string, a nodeproto.SessionActivity) error {
	return r.cl.SessionActivity(ctx, r.nodeID, sessionID, a)
}

func (r reporter) Recording(ctx context.Context, sessionID string, offset int64, chunk []byte, final bool) error {
	return r.cl.SessionRecording(ctx, r.nodeID, sessionID, offset, chunk, final)
}

// accessNode is the listener as the agent sees it.
type accessNode struct{ *access.Server }

func (n accessNode) AccessStatus() agent.AccessStatus {
	st := n.Stats()
	return agent.AccessStatus{Port: nodeproto.DefaultAccessPort, Sessions: st.Sessions, Connections: st.Connections}
}

// newAccess builds node m's access listener: ssh sessions for the login
// "demo" run as account; its host key stays in memory.
func newAccess(m *member, account string, keys func() []ed25519.PublicKey, log *slog.Logger) (*access.Server, error) {
	return access.New(access.Options{NodeID: m.id.NodeID, Keys: keys, Reporter: reporter{cl: m.cl, nodeID: m.id.NodeID},
		SSHUsers: map[string]string{DemoSSHUser: account}, Logger: log})
}

// serveAccess listens on the node's mesh IP in its netstack once that is
// up, until ctx ends.
func serveAccess(ctx context.Context, eng *wg.Engine, meshIP string, srv *access.Server, log *slog.Logger) {
	ip, err := netip.ParseAddr(meshIP)
	if err != nil {
		log.Warn("demo node access listener not started", "mesh_ip", meshIP)
		return
	}
	stop := context.AfterFunc(ctx, srv.Close)
	defer stop()
	ap := netip.AddrPortFrom(ip, nodeproto.DefaultAccessPort)
	for ctx.Err() == nil {
		if tnet := eng.Net(); tnet != nil {
			ln, err := tnet.ListenTCPAddrPort(ap)
			if err == nil {
				if err := srv.Serve(ln); err == nil || ctx.Err() != nil {
					return
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
