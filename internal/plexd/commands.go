package plexd

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/access"
	"github.com/plexsphere/plexsphere/internal/plexd/actions"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/localapi"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/sealing"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
)

func (a *app) joinCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "join",
		Short: "Register this node with a bootstrap token and save its identity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, store, err := a.configAndStore()
			if err != nil {
				return err
			}
			if id, err := store.Load(); err == nil {
				return fmt.Errorf("already joined as node %s (%s); run plexd deregister first", id.NodeID, store.Path())
			} else if !errors.Is(err, identity.ErrNotFound) {
				return err
			}
			id, err := a.join(cmd.Context(), cfg, store)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "joined as node %s, mesh IP %s\n", id.NodeID, id.MeshIP)
			return nil
		},
	}
}

// join resolves the token, registers and saves the identity.
func (a *app) join(ctx context.Context, cfg *config.Config, store *identity.Store) (*identity.Identity, error) {
	if err := cfg.RequireServer(); err != nil {
		return nil, err
	}
	var prompt func() (string, error)
	if a.env.Prompt != nil {
		prompt = func() (string, error) { return a.env.Prompt("Bootstrap token: ") }
	}
	token, err := enroll.ResolveToken(cfg, prompt)
	if err != nil {
		return nil, err
	}
	cl, err := a.client(cfg.Server, nil)
	if err != nil {
		return nil, err
	}
	return enroll.Join(ctx, enroll.Options{
		Client: cl, Store: store, Token: token, Server: cfg.Server, Hostname: cfg.Hostname,
		Mode: cfg.Mode, Metadata: cfg.Metadata, Clock: a.env.Clock, Logger: a.logger(cfg),
	})
}

// client builds the control-plane client; log receives its debug notes
// (nil: none).
func (a *app) client(server string, log *slog.Logger) (*cpclient.Client, error) {
	return cpclient.New(cpclient.Options{Server: server, Transport: a.env.Transport, Logger: log})
}

func (a *app) upCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Run the agent: register if needed, then reconcile, stream events and heartbeat",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.up(cmd.Context(), cfg)
		},
	}
}

func (a *app) up(ctx context.Context, cfg *config.Config) error {
	ring := actions.NewLogRing(actionsLogLines) // recent lines for diagnostics.bundle
	log := slog.New(ring.Handler(a.logger(cfg).Handler()))
	store, err := identity.NewStore(cfg.DataDir)
	if err != nil {
		return err
	}
	id, err := store.Load()
	if errors.Is(err, identity.ErrNotFound) {
		log.LogAttrs(ctx, slog.LevelInfo, "node not joined; registering")
		id, err = a.join(ctx, cfg, store)
	}
	if err != nil {
		return err
	}
	server := cfg.Server
	if server == "" {
		server = id.Server // joined earlier; the identity remembers where
	}
	cl, err := a.client(server, log)
	if err != nil {
		return err
	}
	cl.SetCredentials(id.NodeID, id.NSK)
	seal, err := sealing.New(sealing.Options{NodeID: id.NodeID, Store: store, Client: cl, Clock: a.env.Clock, Logger: log})
	if err != nil {
		return err
	}
	seal.Install(ctx) // before the local API serves: sealed answers open from the first read
	rt, err := a.meshEngine(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := rt.close(); err != nil {
			log.LogAttrs(context.Background(), slog.LevelWarn, "closing the mesh engine", slog.String(logkey.Error, err.Error()))
		}
	}()
	var ag *agent.Agent
	acc, err := a.accessServer(cfg, id, cl, log, func() []ed25519.PublicKey { return ag.SigningPublicKeys() })
	if err != nil {
		return err
	}
	var accNode agent.Access
	if acc != nil {
		defer acc.Close()
		accNode = accessNode{Server: acc, port: cfg.Access.Port}
	}
	// One hash of the running binary serves the heartbeat and the
	// executor's integrity baseline (whoever asks first computes it).
	binarySum := sync.OnceValues(agent.ExecutableChecksum)
	ex, err := a.actionsExecutor(cfg, id, cl, ring, log, binarySum, func() agent.Status { return ag.Status() })
	if err != nil {
		return err
	}
	tel, err := a.telemetry(cfg, cl, rt, log)
	if err != nil {
		return err
	}
	ag, err = agent.New(agent.Options{
		Identity: id, Store: store, ControlPlane: cl, Rotator: cl, Mesh: rt.engine, Mode: cfg.Mode,
		Clock: a.env.Clock, Logger: log, HeartbeatInterval: cfg.HeartbeatInterval, ReconcileInterval: cfg.ReconcileInterval,
		Bridge: a.bridge(ctx, cfg, log), Firewall: rt.firewall, Access: accNode, Actions: ex,
		BinaryChecksum: binarySum, Telemetry: telemetryNode(tel),
	})
	if err != nil {
		return err
	}
	disc, err := newDiscoverer(rt, cl, ag, log)
	if err != nil {
		return err
	}
	reports := localapi.NewReports(cl, a.env.Clock, log, 0)
	api, err := localapi.New(localapi.Options{Node: ag, Secrets: cl, Reports: reports, SecretsGroup: cfg.SecretsGroup, Logger: log})
	if err != nil {
		return err
	}
	var token string
	if cfg.APITCP != "" {
		raw, err := os.ReadFile(cfg.APITokenFile)
		if err != nil {
			return fmt.Errorf("api token file: %w", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { reports.Run(ctx) })
	wg.Go(func() { disc.Run(ctx) })
	wg.Go(func() { seal.Run(ctx) }) // off the hot path: retried with backoff, never fatal
	wg.Go(func() {
		if err := api.Serve(ctx, cfg.Socket); err != nil {
			log.LogAttrs(ctx, slog.LevelError, "local node API stopped", slog.String(logkey.Socket, cfg.Socket), slog.String(logkey.Error, err.Error()))
		}
	})
	if acc != nil {
		wg.Go(func() { a.serveAccess(ctx, rt, id.MeshIP, cfg.Access.Port, acc, log) })
	}
	if cfg.APITCP != "" {
		wg.Go(func() {
			if err := api.ServeTCP(ctx, cfg.APITCP, token); err != nil {
				log.LogAttrs(ctx, slog.LevelError, "local node API (tcp) stopped", slog.String(logkey.Addr, cfg.APITCP), slog.String(logkey.Error, err.Error()))
			}
		})
	}
	wg.Go(func() { ex.Run(ctx) }) // acks, results, capabilities, integrity
	if tel != nil {
		wg.Go(func() { tel.Run(ctx) }) // metrics, logs, audit through the on-disk queue
	}
	log.LogAttrs(ctx, slog.LevelInfo, "plexd up", slog.Any(logkey.Identity, id), slog.String(logkey.Socket, cfg.Socket), slog.String(logkey.Mode, cfg.Mode))
	err = ag.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

func (a *app) deregisterCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "deregister",
		Short: "Revoke this node at the control plane and delete its identity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, store, err := a.configAndStore()
			if err != nil {
				return err
			}
			id, err := store.Load()
			if err != nil {
				return err
			}
			server := cfg.Server
			if server == "" {
				server = id.Server
			}
			cl, err := a.client(server, nil)
			if err != nil {
				return err
			}
			cl.SetCredentials(id.NodeID, id.NSK)
			err = cl.Deregister(cmd.Context())
			if err != nil && !cpclient.IsStatus(err, http.StatusUnauthorized) {
				return err // 401: already revoked; the local identity is useless
			}
			if err := store.Remove(); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "node %s deregistered\n", id.NodeID)
			return nil
		},
	}
}

// configAndStore loads the configuration and opens the identity store of
// its data directory.
func (a *app) configAndStore() (*config.Config, *identity.Store, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	store, err := identity.NewStore(cfg.DataDir)
	return cfg, store, err
}

// actionsLogLines is how many recent log lines diagnostics.bundle can
// ship.
const actionsLogLines = 1000

// actionsExecutor builds the executor of action requests; binarySum is
// the running binary's checksum at start and status reads the running
// agent (set before any request arrives).
func (a *app) actionsExecutor(cfg *config.Config, id *identity.Identity, cl *cpclient.Client, ring *actions.LogRing,
	log *slog.Logger, binarySum func() (string, error), status func() agent.Status) (*actions.Executor, error) {
	return actions.New(actions.Options{
		NodeID: id.NodeID, ControlPlane: cl, DataDir: cfg.DataDir, Disabled: cfg.Actions.Disabled, StartChecksum: binarySum,
		ServiceAllow: cfg.Actions.ServiceAllow, FileAllow: cfg.Actions.FileAllow,
		HooksDir: cfg.Actions.HooksDir, HookUser: cfg.Actions.HooksUser, Logs: ring, Clock: a.env.Clock, Logger: log,
		Status: func() actions.NodeStatus {
			st := status()
			return actions.NodeStatus{MeshIP: st.MeshIP, PeerCount: len(st.Peers), Detail: st}
		},
	})
}

// accessHostKeyFile is the access listener's SSH host key in the data
// directory.
const accessHostKeyFile = "access_host_ed25519_key"

// accessServer builds the access listener (nil when --access-port is 0).
// keys returns the Domain signing keys the agent trusts at the moment.
func (a *app) accessServer(cfg *config.Config, id *identity.Identity, cl *cpclient.Client, log *slog.Logger,
	keys func() []ed25519.PublicKey) (*access.Server, error) {
	if cfg.Access.Port == 0 {
		return nil, nil
	}
	exe := a.env.Executable
	if exe == "" {
		exe, _ = os.Executable()
	}
	var helper []string
	if exe != "" {
		helper = []string{exe, accessSFTPUse}
	}
	return access.New(access.Options{
		NodeID: id.NodeID, Keys: keys, Reporter: accessReporter{cl: cl, nodeID: id.NodeID},
		SSHUsers: cfg.Access.SSHUsers, HostKeyPath: filepath.Join(cfg.DataDir, accessHostKeyFile), SFTPHelper: helper,
		Kube:         access.KubeAPI{URL: cfg.Access.KubeAPI, TokenFile: cfg.Access.KubeTokenFile, CAFile: cfg.Access.KubeCAFile},
		RecordingMax: cfg.Access.RecordingMax, Clock: a.env.Clock, Logger: log,
	})
}

// accessReporter sends the listener's reports through the control-plane
// client.
type accessReporter struct {
	cl     *cpclient.Client
	nodeID string
}

func (r accessReporter) Activity(ctx context.Context, sessionID string, act nodeproto.SessionActivity) error {
	return r.cl.SessionActivity(ctx, r.nodeID, sessionID, act)
}

func (r accessReporter) Recording(ctx context.Context, sessionID string, offset int64, chunk []byte, final bool) error {
	return r.cl.SessionRecording(ctx, r.nodeID, sessionID, offset, chunk, final)
}

// accessNode is the listener as the agent sees it: session events in,
// status out.
type accessNode struct {
	*access.Server
	port int
}

func (n accessNode) AccessStatus() agent.AccessStatus {
	st := n.Stats()
	return agent.AccessStatus{Port: n.port, Sessions: st.Sessions, Connections: st.Connections}
}

// serveAccess listens on meshIP:port once the WireGuard engine has the
// address (the TUN interface in kernel and userspace mode, guarded by an
// nftables rule against other interfaces; the netstack in netstack mode)
// and serves until ctx ends, listening again if the listener breaks.
func (a *app) serveAccess(ctx context.Context, rt *meshRuntime, meshIP string, port int, srv *access.Server, log *slog.Logger) {
	eng, ok := rt.engine.(*wg.Engine)
	ip, err := netip.ParseAddr(meshIP)
	if !ok || err != nil {
		log.LogAttrs(ctx, slog.LevelInfo, "access listener not started: no WireGuard engine or mesh IP", slog.String(logkey.MeshIP, meshIP))
		return
	}
	stop := context.AfterFunc(ctx, srv.Close)
	defer stop()
	ap := netip.AddrPortFrom(ip, uint16(port))
	clk := clock.OrReal(a.env.Clock)
	guarded := false
	for ctx.Err() == nil {
		ln, err := listenMesh(eng, ap)
		if err != nil {
			log.LogAttrs(ctx, slog.LevelDebug, "access listener waiting for the mesh address", slog.String(logkey.Addr, ap.String()), slog.String(logkey.Error, err.Error()))
			select {
			case <-ctx.Done():
				return
			case <-clk.After(time.Second):
			}
			continue
		}
		if !guarded && eng.Backend() != wg.BackendNetstack {
			guardAccess(ctx, ap, log)
			guarded = true
		}
		log.LogAttrs(ctx, slog.LevelInfo, "access listener up", slog.String(logkey.Addr, ap.String()))
		if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
			log.LogAttrs(ctx, slog.LevelWarn, "access listener stopped; listening again", slog.String(logkey.Error, err.Error()))
			continue
		}
		return
	}
}

// listenMesh opens the listener on the engine's network: the netstack's,
// else the host's (which fails until the TUN interface has the address).
func listenMesh(eng *wg.Engine, ap netip.AddrPort) (net.Listener, error) {
	if eng.Backend() == wg.BackendNetstack {
		tnet := eng.Net()
		if tnet == nil {
			return nil, errors.New("the netstack is not up yet")
		}
		return tnet.ListenTCPAddrPort(ap)
	}
	return net.Listen("tcp", ap.String())
}

// guardAccess installs the nftables rule dropping the access port on
// every interface but the mesh one; it removes it when ctx ends. Without
// nftables the listener still admits only the session's source address.
func guardAccess(ctx context.Context, ap netip.AddrPort, log *slog.Logger) {
	g, err := firewall.NewAccessGuard(firewall.AccessGuardOptions{Interface: nodeproto.DefaultMeshInterface})
	if err == nil {
		err = g.Set(ap.Addr(), int(ap.Port()))
	}
	if err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "access port not guarded by nftables; only the session source check applies", slog.String(logkey.Error, err.Error()))
		return
	}
	context.AfterFunc(ctx, func() {
		if err := g.Close(); err != nil {
			log.LogAttrs(context.Background(), slog.LevelWarn, "removing the access guard", slog.String(logkey.Error, err.Error()))
		}
	})
}

// accessSFTPCommand is the hidden command serving SFTP on stdin and
// stdout, run by the access listener as a session's local user.
const accessSFTPUse = "access-sftp"

func (a *app) accessSFTPCommand() *cobra.Command {
	return &cobra.Command{
		Use:    accessSFTPUse,
		Short:  "Serve one SFTP session on stdin and stdout (run by plexd's access listener)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return access.ServeSFTP(a.env.Stdin, a.env.Stdout)
		},
	}
}
