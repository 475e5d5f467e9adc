package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/demonodes"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/devstack"
)

// Development stack defaults.
const (
	devDataDir   = "plexsphere-dev-data"
	devIdPListen = "127.0.0.1:5556"
	devClientID  = devstack.ClientID
)

// devUsers are the development issuer's seeded users; "dev-admins" is
// granted admin on the dev Domain.
var devUsers = devstack.Users

func devCommand() *cobra.Command {
	var (
		idpListen string
		demoNodes int
		demoSSH   bool
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local development stack: control plane + DEVELOPMENT-ONLY OIDC issuer + a seeded Domain",
		Long: `Run the control plane on loopback with a built-in, DEVELOPMENT-ONLY OpenID
Provider (passwordless sign-in as seeded users) bound to a seeded Domain "dev",
so sign-in works with zero setup. Data lives in ./` + devDataDir + ` unless --data-dir
is given. Both listeners must be loopback addresses. Never use this for anything
but local development; plexsphere serve never starts the issuer.`,
		Example: `  plexsphere dev
  plexsphere dev --listen 127.0.0.1:9090 --idp-listen 127.0.0.1:9091
  plexsphere dev --demo-nodes 5 --demo-ssh   # a live mesh; Sessions → browser terminal as "demo"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("data-dir") && os.Getenv("PLEXSPHERE_DATA_DIR") == "" {
				cmd.Flags().Set("data-dir", devDataDir)
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if demoSSH && demoNodes == 0 {
				return errors.New("--demo-ssh needs --demo-nodes")
			}
			return runDev(cmd, cfg, idpListen, demoNodes, demoSSH)
		},
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&idpListen, "idp-listen", devIdPListen, "loopback address of the development OIDC issuer")
	cmd.Flags().IntVar(&demoNodes, "demo-nodes", 0, fmt.Sprintf("run this many in-process demo plexd nodes (0-%d) in a Project \"demo\" of the dev Domain", demonodes.Max))
	cmd.Flags().BoolVar(&demoSSH, "demo-ssh", false, "let the demo nodes accept ssh sessions (and the dashboard's browser terminal) for the login \"demo\": a shell on THIS machine as the account running plexsphere")
	return cmd
}

func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("plexsphere dev listens on loopback only, not %q", addr)
	}
	return nil
}

func runDev(cmd *cobra.Command, cfg config.Config, idpListen string, demoNodes int, demoSSH bool) error {
	if demoNodes < 0 || demoNodes > demonodes.Max {
		return fmt.Errorf("--demo-nodes must be between 0 and %d", demonodes.Max)
	}
	for _, a := range []string{cfg.Listen, idpListen} {
		if err := loopbackAddr(a); err != nil {
			return err
		}
	}
	if cfg.TLSSelfSigned || cfg.TLSCertFile != "" {
		return errors.New("plexsphere dev serves plain HTTP on loopback; TLS options belong to plexsphere serve")
	}
	base := "http://" + cfg.Listen
	if cfg.PublicURL == "" {
		cfg.PublicURL = base
	}
	if len(cfg.AllowedOrigins) == 0 {
		cfg.AllowedOrigins = []string{cfg.PublicURL}
	}
	log := newLogger(cfg, cmd.ErrOrStderr())
	ln, err := net.Listen("tcp", idpListen)
	if err != nil {
		return fmt.Errorf("dev: issuer listen: %w", err)
	}
	defer ln.Close()
	idp, err := devidp.New(devidp.Config{Issuer: "http://" + ln.Addr().String(), Users: devUsers, Logger: log,
		Clients: []devidp.Client{{ID: devClientID, RedirectURIs: []string{cfg.PublicURL + "/v1/auth/callback"}}}})
	if err != nil {
		return err
	}
	idpSrv := &http.Server{Handler: idp.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go idpSrv.Serve(ln)
	defer idpSrv.Close()

	ctx := cmd.Context()
	srv, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	tok, err := srv.Bootstrap(ctx)
	if err != nil {
		return err
	}
	if tok == "" {
		raw, err := os.ReadFile(cfg.AdminTokenPath())
		if err != nil {
			return fmt.Errorf("dev: read the admin token: %w", err)
		}
		tok = strings.TrimSpace(string(raw))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seedErr error
	demo := &devDemo{ssh: demoSSH, gateways: srv.Gateways}
	defer demo.close()
	err = srv.Serve(ctx, func(addr string) {
		go func() {
			domainID, err := seedDev(ctx, srv, "http://"+addr, tok, idp.Issuer())
			if err != nil {
				seedErr = err
				cancel()
				return
			}
			fmt.Fprintf(cmd.ErrOrStderr(), devBanner, base, idp.Issuer(), domainID, cfg.AdminTokenPath(), base, domainID, base, domainID)
			if demoNodes > 0 {
				if err := demo.start(ctx, cmd.ErrOrStderr(), log, "http://"+addr, tok, domainID, cfg.DataDir, demoNodes); err != nil {
					seedErr = err
					cancel()
				}
			}
		}()
	})
	if seedErr != nil {
		return seedErr
	}
	return err
}

const devBanner = `
plexsphere DEVELOPMENT stack (never expose it)
  control plane   %s
  OIDC issuer     %s   (DEVELOPMENT-ONLY: passwordless, any seeded user)
  Domain "dev"    %s
  users           alice (group dev-admins → dev Domain admin), bob (group dev-members)
  admin token     %s

Open the dashboard (sign in as alice):
  %s/ui/#/sign-in?domain=%s

Or sign in from a script:
  curl -s -c jar -X POST %s/v1/auth/sign-in -H 'Content-Type: application/json' -d '{"domain_id":"%s"}'
  then open the returned authorization_url, pick a user (choose acr "mfa" for step-up), and
  the callback sets the plexsphere_session cookie.

`

// seedDev creates the dev Domain and binds the development issuer to it
// (both idempotent), and grants the dev-admins group Domain admin.
func seedDev(ctx context.Context, srv *app.Server, base, token, issuer string) (string, error) {
	return devstack.Seed(ctx, srv, base, token, issuer)
}
