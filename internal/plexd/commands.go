package plexd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/localapi"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/sealing"
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
	log := a.logger(cfg)
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
	ag, err := agent.New(agent.Options{
		Identity: id, Store: store, ControlPlane: cl, Rotator: cl, Mesh: rt.engine, Mode: cfg.Mode,
		Clock: a.env.Clock, Logger: log, HeartbeatInterval: cfg.HeartbeatInterval, ReconcileInterval: cfg.ReconcileInterval,
		Bridge: a.bridge(ctx, cfg, log), Firewall: rt.firewall,
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
	if cfg.APITCP != "" {
		wg.Go(func() {
			if err := api.ServeTCP(ctx, cfg.APITCP, token); err != nil {
				log.LogAttrs(ctx, slog.LevelError, "local node API (tcp) stopped", slog.String(logkey.Addr, cfg.APITCP), slog.String(logkey.Error, err.Error()))
			}
		})
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
