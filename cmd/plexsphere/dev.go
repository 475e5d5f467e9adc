package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/devidp"
)

// Development stack defaults.
const (
	devDataDir   = "plexsphere-dev-data"
	devIdPListen = "127.0.0.1:5556"
	devClientID  = "plexsphere-dev"
	devDomain    = "dev"
)

// devUsers are the development issuer's seeded users; "dev-admins" is
// granted admin on the dev Domain.
var devUsers = []devidp.User{
	{ID: "alice", Name: "Alice Admin", Email: "alice@dev.plexsphere.test", Groups: []string{"dev-admins"}},
	{ID: "bob", Name: "Bob Member", Email: "bob@dev.plexsphere.test", Groups: []string{"dev-members"}},
}

func devCommand() *cobra.Command {
	var idpListen string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local development stack: control plane + DEVELOPMENT-ONLY OIDC issuer + a seeded Domain",
		Long: `Run the control plane on loopback with a built-in, DEVELOPMENT-ONLY OpenID
Provider (passwordless sign-in as seeded users) bound to a seeded Domain "dev",
so sign-in works with zero setup. Data lives in ./` + devDataDir + ` unless --data-dir
is given. Both listeners must be loopback addresses. Never use this for anything
but local development; plexsphere serve never starts the issuer.`,
		Example: `  plexsphere dev
  plexsphere dev --listen 127.0.0.1:9090 --idp-listen 127.0.0.1:9091`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("data-dir") && os.Getenv("PLEXSPHERE_DATA_DIR") == "" {
				cmd.Flags().Set("data-dir", devDataDir)
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runDev(cmd, cfg, idpListen)
		},
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&idpListen, "idp-listen", devIdPListen, "loopback address of the development OIDC issuer")
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

func runDev(cmd *cobra.Command, cfg config.Config, idpListen string) error {
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
	err = srv.Serve(ctx, func(addr string) {
		go func() {
			domainID, err := seedDev(ctx, srv, "http://"+addr, tok, idp.Issuer())
			if err != nil {
				seedErr = err
				cancel()
				return
			}
			fmt.Fprintf(cmd.ErrOrStderr(), devBanner, base, idp.Issuer(), domainID, cfg.AdminTokenPath(), base, domainID)
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

Sign in from a browser session:
  curl -s -c jar -X POST %s/v1/auth/sign-in -H 'Content-Type: application/json' -d '{"domain_id":"%s"}'
  then open the returned authorization_url, pick a user (choose acr "mfa" for step-up), and
  the callback sets the plexsphere_session cookie.

`

// seedDev creates the dev Domain and binds the development issuer to it
// (both idempotent), and grants the dev-admins group Domain admin.
func seedDev(ctx context.Context, srv *app.Server, base, token, issuer string) (string, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path string, body, out any) (int, error) {
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if out != nil && resp.StatusCode < 300 {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				return resp.StatusCode, err
			}
		}
		return resp.StatusCode, nil
	}
	var d apiv1.Domain
	st, err := call("POST", "/v1/domains", apiv1.CreateDomain{Name: "Development", Slug: devDomain, MeshCIDR: "100.64.0.0/16"}, &d)
	if err != nil {
		return "", err
	}
	if st == http.StatusConflict {
		var list apiv1.List[apiv1.Domain]
		if _, err := call("GET", "/v1/domains?limit=200", nil, &list); err != nil {
			return "", err
		}
		for _, it := range list.Items {
			if it.Slug == devDomain {
				d = it
			}
		}
	} else if st != http.StatusCreated {
		return "", fmt.Errorf("dev: create the dev Domain: status %d", st)
	}
	if d.ID == "" {
		return "", errors.New("dev: the dev Domain was not found")
	}
	var b apiv1.IdPBinding
	st, err = call("POST", "/v1/admin/idp", apiv1.CreateIdPBinding{DomainID: d.ID, Issuer: issuer, ClientID: devClientID,
		JITPolicy: "allow", Primary: true, Alias: "dev"}, &b)
	if err != nil {
		return "", err
	}
	switch st {
	case http.StatusCreated:
	case http.StatusConflict:
		return d.ID, nil // bound on an earlier run
	default:
		return "", fmt.Errorf("dev: bind the development issuer: status %d", st)
	}
	gid, err := srv.OIDC.EnsureIdPGroup(ctx, b.ID, "dev-admins")
	if err != nil {
		return "", err
	}
	grant := authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypeDomain, ID: d.ID}, Relation: "admin",
		Subject: authz.ObjectRef{Type: authz.TypeGroup, ID: gid}.Userset("member")}
	if err := srv.DB.Tx(ctx, func(tx *sql.Tx) error { return srv.Tuples.Write(ctx, tx, []authz.Tuple{grant}, nil) }); err != nil {
		return "", err
	}
	return d.ID, srv.Tuples.Sync(ctx)
}
