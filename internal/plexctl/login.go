package plexctl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// deviceClientID names plexctl to the device flow.
const deviceClientID = "plexctl"

// refreshMargin refreshes an access token this long before it expires.
const refreshMargin = 30 * time.Second

// login is a device-flow login saved in a context. The config file holding
// it is written with mode 0600.
type login struct {
	AccessToken  string    `yaml:"access-token"`
	RefreshToken string    `yaml:"refresh-token"`
	ExpiresAt    time.Time `yaml:"expires-at"`
}

func (a *app) loginCommand() *cobra.Command {
	var domain, idpAlias, idpBinding string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in through the browser (device flow) and save the login in a context",
		Long: `Start an RFC 8628 device login: plexctl prints a URL and a code; open the URL
in a browser, sign in through your identity provider, and approve the code.
plexctl then saves the access and refresh tokens in the context (--context,
else the current context when it names the same server, else one named after
the server's host) and refreshes them when they expire. --token still wins.`,
		Example: `  plexctl login --server https://plexsphere.example.com --domain 0190c0de-…
  plexctl login --idp github`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		return a.login(cmd.Context(), apiv1.DeviceCodeRequest{DomainID: domain, IdPBindingID: idpBinding,
			IdPBindingAlias: idpAlias, ClientID: deviceClientID})
	})
	f := cmd.Flags()
	f.StringVar(&domain, "domain", "", "Domain id to sign in to")
	f.StringVar(&idpAlias, "idp", "", "IdP binding alias (default: the Domain's primary binding)")
	f.StringVar(&idpBinding, "idp-binding", "", "IdP binding id")
	return calls(cmd, "deviceCode", "deviceToken")
}

func (a *app) logoutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the context's login on the server and remove its tokens",
		Example: `  plexctl logout
  plexctl --context prod logout`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error { return a.logout(cmd.Context()) })
	return calls(cmd, "revokeOAuthToken")
}

// loginTarget picks the server and the context name of a login.
func (a *app) loginTarget(cfg *config) (server, name string, err error) {
	name = a.flags.context
	if name == "" && cfg.CurrentContext != "" {
		name = cfg.CurrentContext
	}
	sc := cfg.find(name)
	server = firstOf(a.flags.server, a.env(envServer))
	switch {
	case server == "" && sc != nil:
		server = sc.Server
	case server == "":
		return "", "", errNoServer
	case sc != nil && !sameServer(server, sc.Server) && a.flags.context == "":
		sc, name = nil, "" // the current context is another server's
	}
	if name == "" {
		u, err := url.Parse(server)
		if err != nil || u.Host == "" {
			return "", "", usagef("invalid --server %q", server)
		}
		name = u.Host
	}
	return server, name, validContextName(name)
}

func (a *app) publicClient(server string) (*apiclient.Client, error) {
	return apiclient.New(apiclient.Options{BaseURL: server, HTTPClient: a.httpClient, UserAgent: "plexctl/" + clientVersion()})
}

func (a *app) login(ctx context.Context, req apiv1.DeviceCodeRequest) error {
	cfg, path, err := a.loadConfig()
	if err != nil {
		return err
	}
	server, name, err := a.loginTarget(cfg)
	if err != nil {
		return err
	}
	c, err := a.publicClient(server)
	if err != nil {
		return usagef("invalid --server: %v", err)
	}
	dc, err := c.DeviceCode(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "To sign in, open %s\nand confirm the code %s (it expires in %s).\n",
		dc.VerificationURIComplete, dc.UserCode, time.Duration(dc.ExpiresIn)*time.Second)
	tok, err := a.poll(ctx, c, dc)
	if err != nil {
		return err
	}
	// Re-read: the file may have changed while the user was in the browser.
	if cfg, path, err = a.loadConfig(); err != nil {
		return err
	}
	sc := cfg.find(name)
	if sc == nil {
		cfg.Contexts = append(cfg.Contexts, savedContext{Name: name, Server: server})
		sc = &cfg.Contexts[len(cfg.Contexts)-1]
	}
	sc.Server, sc.Login = server, a.loginOf(tok)
	if cfg.CurrentContext == "" || a.flags.context == "" {
		cfg.CurrentContext = name
	}
	if err := saveConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Logged in to %s; saved in context %q.\n", server, name)
	return nil
}

func (a *app) loginOf(tok *apiv1.AccessToken) *login {
	return &login{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		ExpiresAt: a.now().Add(time.Duration(tok.ExpiresIn) * time.Second).UTC().Truncate(time.Second)}
}

// poll waits the interval between polls until the login is approved,
// refused or expired (RFC 8628 §3.4–3.5).
func (a *app) poll(ctx context.Context, c *apiclient.Client, dc *apiv1.DeviceCode) (*apiv1.AccessToken, error) {
	interval := max(time.Duration(dc.Interval)*time.Second, time.Second)
	for {
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		tok, err := c.DeviceToken(ctx, apiv1.DeviceTokenRequest{GrantType: apiv1.GrantDeviceCode,
			DeviceCode: dc.DeviceCode, ClientID: deviceClientID})
		var e *apiclient.Error
		switch {
		case err == nil:
			return tok, nil
		case errors.As(err, &e) && e.Code == "authorization_pending":
		case errors.As(err, &e) && e.Code == "slow_down":
			interval += 5 * time.Second
		case errors.As(err, &e) && e.Code == "access_denied":
			return nil, errors.New("the login was refused in the browser")
		case errors.As(err, &e) && e.Code == "expired_token":
			return nil, errors.New("the code expired before it was approved; run plexctl login again")
		default:
			return nil, err
		}
	}
}

// loginToken returns the context's access token, refreshing it first when
// it expires within refreshMargin and saving the new pair.
func (a *app) loginToken(sc *savedContext) (string, error) {
	if a.now().Add(refreshMargin).Before(sc.Login.ExpiresAt) {
		return sc.Login.AccessToken, nil
	}
	c, err := a.publicClient(sc.Server)
	if err != nil {
		return "", err
	}
	tok, err := c.DeviceToken(context.Background(), apiv1.DeviceTokenRequest{GrantType: apiv1.GrantRefreshToken,
		RefreshToken: sc.Login.RefreshToken, ClientID: deviceClientID})
	var e *apiclient.Error
	if errors.As(err, &e) && e.Code == "invalid_grant" {
		return "", fmt.Errorf("the login of context %q has ended; run plexctl login again", sc.Name)
	}
	if err != nil {
		return "", fmt.Errorf("refresh the login of context %q: %w", sc.Name, err)
	}
	cfg, path, err := a.loadConfig()
	if err != nil {
		return "", err
	}
	if saved := cfg.find(sc.Name); saved != nil {
		saved.Login = a.loginOf(tok)
		if err := saveConfig(path, cfg); err != nil {
			return "", err
		}
	}
	return tok.AccessToken, nil
}

func (a *app) logout(ctx context.Context) error {
	cfg, path, err := a.loadConfig()
	if err != nil {
		return err
	}
	name := firstOf(a.flags.context, cfg.CurrentContext)
	sc := cfg.find(name)
	if sc == nil || sc.Login == nil {
		fmt.Fprintf(a.stdout, "Context %q holds no login.\n", name)
		return nil
	}
	var revokeErr error
	if c, err := a.publicClient(sc.Server); err != nil {
		revokeErr = err
	} else {
		revokeErr = c.RevokeOAuthToken(ctx, sc.Login.RefreshToken)
	}
	sc.Login = nil
	if err := saveConfig(path, cfg); err != nil {
		return err
	}
	if revokeErr != nil {
		return fmt.Errorf("removed the local tokens of context %q, but the server did not confirm the revocation: %w",
			name, revokeErr)
	}
	fmt.Fprintf(a.stdout, "Logged out of context %q.\n", name)
	return nil
}
