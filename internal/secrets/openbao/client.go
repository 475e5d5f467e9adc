package openbao

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/openbao/openbao/api/v2"
)

// Log keys.
const (
	keyNamespace = "namespace"
	keyMount     = "mount"
	keyTTL       = "ttl_seconds"
)

// conn is the authenticated client the backend and Transit share.
type conn struct {
	cfg Config
	api *api.Client
	// login is a second client without a token, for AppRole logins (a
	// refused token must not ride along on the login).
	login *api.Client

	// refreshMu serialises logins and token file reloads.
	refreshMu sync.Mutex
}

// dial builds the client and authenticates. cfg has its defaults.
func dial(ctx context.Context, cfg Config) (*conn, error) {
	c := &conn{cfg: cfg}
	var err error
	if c.api, err = newClient(cfg); err != nil {
		return nil, err
	}
	if c.login, err = newClient(cfg); err != nil {
		return nil, err
	}
	switch {
	case cfg.Token != "":
		c.api.SetToken(cfg.Token)
	case cfg.TokenFile != "":
		tok, err := readSecretFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("openbao: TokenFile: %w", err)
		}
		c.api.SetToken(tok)
	default:
		if err := c.appRoleLogin(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func newClient(cfg Config) (*api.Client, error) {
	ac := api.NewConfig() // reads no BAO_* environment
	if ac.Error != nil {
		return nil, fmt.Errorf("openbao: client: %w", ac.Error)
	}
	ac.Address = cfg.Address
	ac.Timeout = cfg.Timeout
	ac.MaxRetries = 0
	if cfg.HTTPClient != nil {
		ac.HttpClient = cfg.HTTPClient
	}
	if cfg.CACert != "" {
		if err := ac.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("openbao: CACert: %w", err)
		}
	}
	cl, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("openbao: client: %w", err)
	}
	cl.ClearToken()
	if cfg.Namespace != "" {
		cl.SetNamespace(cfg.Namespace)
	}
	return cl, nil
}

// readSecretFile reads a one-line credential file.
func readSecretFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// appRoleLogin logs in and installs the new token.
func (c *conn) appRoleLogin(ctx context.Context) error {
	secretID := c.cfg.SecretID
	if c.cfg.SecretIDFile != "" {
		var err error
		if secretID, err = readSecretFile(c.cfg.SecretIDFile); err != nil {
			return fmt.Errorf("openbao: SecretIDFile: %w", err)
		}
	}
	path := "auth/" + c.cfg.AppRoleMount + "/login"
	s, err := c.login.Logical().WriteWithContext(ctx, path, map[string]any{"role_id": c.cfg.RoleID, "secret_id": secretID})
	if err != nil {
		return classify(ctx, "approle login", err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return errors.New("openbao: approle login: the answer carries no token")
	}
	c.api.SetToken(s.Auth.ClientToken)
	c.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "openbao_approle_login",
		slog.String(keyNamespace, c.cfg.Namespace), slog.String(keyMount, c.cfg.AppRoleMount),
		slog.Int(keyTTL, s.Auth.LeaseDuration))
	return nil
}

// refresh gets a new token after OpenBao refused stale: an AppRole login,
// or the token file re-read. It reports whether the token changed (true too
// when another call already replaced stale).
func (c *conn) refresh(ctx context.Context, stale string) (bool, error) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.api.Token() != stale {
		return true, nil
	}
	switch {
	case c.cfg.RoleID != "":
		return true, c.appRoleLogin(ctx)
	case c.cfg.TokenFile != "":
		tok, err := readSecretFile(c.cfg.TokenFile)
		if err != nil || tok == stale {
			return false, nil
		}
		c.api.SetToken(tok)
		c.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "openbao_token_file_reloaded", slog.String(keyNamespace, c.cfg.Namespace))
		return true, nil
	}
	return false, nil
}

// do runs f, refreshing the credentials and retrying once when OpenBao
// answers 403. Errors come back classified.
func (c *conn) do(ctx context.Context, op string, f func(*api.Logical) (*api.Secret, error)) (*api.Secret, error) {
	tok := c.api.Token()
	s, err := f(c.api.Logical())
	if err != nil && statusOf(err) == http.StatusForbidden {
		changed, rerr := c.refresh(ctx, tok)
		if rerr != nil {
			return nil, rerr
		}
		if changed {
			s, err = f(c.api.Logical())
		}
	}
	if err != nil {
		return nil, classify(ctx, op, err)
	}
	return s, nil
}
