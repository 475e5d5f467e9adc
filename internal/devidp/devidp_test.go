package devidp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/plexsphere/plexsphere/internal/devidp"
)

type swap struct{ h http.Handler }

func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }

func newProvider(t *testing.T) (*devidp.Provider, *httptest.Server) {
	t.Helper()
	sw := &swap{}
	ts := httptest.NewServer(sw)
	t.Cleanup(ts.Close)
	p, err := devidp.New(devidp.Config{Issuer: ts.URL,
		Users:   []devidp.User{{ID: "carol", Name: "Carol", Email: "carol@example.test", Groups: []string{"g1"}}},
		Clients: []devidp.Client{{ID: "cli"}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sw.h = p.Handler()
	return p, ts
}

// TestDeviceGrantAndRefresh runs RFC 8628 against the provider with the
// x/oauth2 client (as plexctl login will), verifies the ID token with
// go-oidc, and refreshes.
func TestDeviceGrantAndRefresh(t *testing.T) {
	p, _ := newProvider(t)
	ctx := context.Background()
	prov, err := gooidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: "cli", Endpoint: prov.Endpoint(), Scopes: []string{"openid", "profile", "groups", "offline_access"}}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.UserCode == "" || !strings.HasPrefix(da.VerificationURI, p.Issuer()+"/device") {
		t.Fatalf("device response: %+v", da)
	}
	resp, err := http.PostForm(p.Issuer()+"/device/approve", url.Values{"user_code": {da.UserCode}, "user": {"carol"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("approve: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("device token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&gooidc.Config{ClientID: "cli"}).Verify(ctx, raw)
	if err != nil || idt.Subject != "carol" {
		t.Fatalf("id token: %v %+v", err, idt)
	}
	var claims struct {
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil || len(claims.Groups) != 1 || claims.Groups[0] != "g1" {
		t.Fatalf("groups claim: %v %+v", err, claims)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	fresh, err := cfg.TokenSource(ctx, tok).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}
	// The old refresh token was rotated away.
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	if _, err := cfg.TokenSource(ctx, tok).Token(); err == nil {
		t.Fatal("a rotated refresh token still works")
	}
}

func TestLoopbackOnly(t *testing.T) {
	_, err := devidp.New(devidp.Config{Issuer: "http://192.0.2.1:5556", Users: []devidp.User{{ID: "u"}},
		Clients: []devidp.Client{{ID: "c"}}})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("non-loopback issuer: %v", err)
	}
}
