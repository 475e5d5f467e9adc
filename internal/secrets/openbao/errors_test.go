package openbao

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixed answers every request with one status and body.
func fixed(t *testing.T, status int, body string) *Backend {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	b, err := New(ctx, Config{Address: srv.URL, Token: "s.t"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusMapping(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   error
	}{
		{429, `{"errors":["rate limit quota exceeded"]}`, backend.ErrUnavailable},
		{500, `{"errors":["internal error"]}`, backend.ErrUnavailable},
		{502, `bad gateway`, backend.ErrUnavailable},
		{503, `{"errors":["Vault is sealed"]}`, backend.ErrUnavailable},
		{504, ``, backend.ErrUnavailable},
		{403, `{"errors":["permission denied"]}`, backend.ErrDenied},
		{400, `{"errors":["check-and-set parameter did not match the current version"]}`, backend.ErrConflict},
		{400, `{"errors":["no data provided"]}`, nil},
	} {
		_, err := fixed(t, c.status, c.body).Put(ctx, pth, []byte("x"), backend.PutOptions{})
		if err == nil {
			t.Errorf("%d: no error", c.status)
			continue
		}
		for _, sentinel := range []error{backend.ErrUnavailable, backend.ErrDenied, backend.ErrConflict, backend.ErrNotFound} {
			if errors.Is(err, sentinel) != (sentinel == c.want) {
				t.Errorf("%d %s: %v; errors.Is(%v) = %v", c.status, c.body, err, sentinel, !(sentinel == c.want))
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%d: multi-line error %q", c.status, err)
		}
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b, err := New(ctx, Config{Address: "http://" + addr, Token: "s.t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrUnavailable) || strings.Contains(err.Error(), "db-password\"") {
		t.Errorf("connection refused: %v", err)
	}
	// A server whose certificate is not trusted is unreachable too.
	s := baotest.New(t)
	b, _ = New(ctx, Config{Address: s.URL(), Token: s.RootToken()})
	if err := b.Health(ctx); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func TestConfigIsValidated(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Token: "t"}, "Address"},
		{Config{Address: "bao:8200", Token: "t"}, "Address"},
		{Config{Address: "https://bao:8200"}, "exactly one"},
		{Config{Address: "https://bao:8200", Token: "t", TokenFile: "f"}, "exactly one"},
		{Config{Address: "https://bao:8200", Token: "t", RoleID: "r", SecretID: "s"}, "exactly one"},
		{Config{Address: "https://bao:8200", RoleID: "r"}, "SecretID"},
		{Config{Address: "https://bao:8200", SecretID: "s"}, "RoleID"},
		{Config{Address: "https://bao:8200", RoleID: "r", SecretID: "s", SecretIDFile: "f"}, "SecretID"},
		{Config{Address: "https://bao:8200", Token: "t", KVMount: "a/../b"}, "KVMount"},
		{Config{Address: "https://bao:8200", Token: "t", Prefix: "a b"}, "Prefix"},
		{Config{Address: "https://bao:8200", Token: "t", Namespace: "x?y"}, "Namespace"},
		{Config{Address: "https://bao:8200", Token: "t", Timeout: -1}, "Timeout"},
		{Config{Address: "https://bao:8200", Token: "t", CACert: "ca.pem", HTTPClient: http.DefaultClient}, "CACert"},
		{Config{Address: "https://bao:8200", Token: "t", CACert: dir + "/missing.pem"}, "CACert"},
		{Config{Address: "https://bao:8200", TokenFile: dir + "/missing"}, "TokenFile"},
	} {
		_, err := New(ctx, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
	if _, err := NewTransit(ctx, Config{Address: "https://bao:8200", Token: "t"}, TransitConfig{}); err == nil || !strings.Contains(err.Error(), "Key") {
		t.Errorf("transit without a key: %v", err)
	}
	got, err := Config{Address: "https://bao:8200", Token: "t", Namespace: "/a/b/"}.withDefaults()
	if err != nil || got.KVMount != "secret" || got.Prefix != "plexsphere" || got.AppRoleMount != "approle" ||
		got.Timeout != DefaultTimeout || got.Namespace != "a/b" {
		t.Errorf("defaults: %+v %v", got, err)
	}
}

// tokenRE matches the tokens the stand-in issues.
var tokenRE = regexp.MustCompile(`s\.[0-9a-f]{24}`)

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	s := baotest.New(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	roleID, secretID := s.AppRole()
	b := open(t, s, appRole(s, ""), func(c *Config) { c.Logger = logger })
	value := []byte("hunter2-the-value-itself")
	forbidden := []string{string(value), base64.StdEncoding.EncodeToString(value), s.RootToken(), secretID}
	var errs []error
	keep := func(err error) {
		if err == nil {
			t.Fatal("expected an error")
		}
		errs = append(errs, err)
	}
	if _, err := b.Put(ctx, pth, value, backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	_, err := b.Put(ctx, pth, value, backend.PutOptions{CAS: &zero})
	keep(err)
	_, err = b.Put(ctx, pth, bytes.Repeat(value, backend.MaxValue/len(value)+1), backend.PutOptions{})
	keep(err)
	s.WriteData("", "secret/plexsphere/dom1/prj1/db-password", map[string]any{"value_b64": "!" + string(value)})
	_, err = b.Get(ctx, pth, 0)
	keep(err)
	s.ExpireTokens()
	s.Seal()
	_, err = b.Put(ctx, pth, value, backend.PutOptions{})
	keep(err)
	s.Unseal()
	_, err = New(ctx, Config{Address: s.URL(), CACert: s.CACertFile(), RoleID: roleID, SecretID: secretID + "x", Logger: logger})
	keep(err)
	forbidden = append(forbidden, secretID+"x")
	tr, err := NewTransit(ctx, Config{Address: s.URL(), CACert: s.CACertFile(), Token: s.RootToken()}, TransitConfig{Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := tr.Wrap(ctx, value)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Unwrap(ctx, ct[:len(ct)-4]+"AAA=")
	keep(err)
	forbidden = append(forbidden, ct)
	for _, err := range errs {
		for _, f := range forbidden {
			if strings.Contains(err.Error(), f) {
				t.Errorf("error %q carries a secret", err)
			}
		}
		if tokenRE.MatchString(err.Error()) {
			t.Errorf("error %q carries a token", err)
		}
	}
	for _, f := range forbidden {
		if strings.Contains(logs.String(), f) {
			t.Errorf("logs carry a secret:\n%s", logs.String())
		}
	}
	if tokenRE.MatchString(logs.String()) || !strings.Contains(logs.String(), "openbao_approle_login") {
		t.Errorf("logs:\n%s", logs.String())
	}
}
