package openbao

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

func transit(t *testing.T, s *baotest.Server, key string, edits ...func(*Config)) *Transit {
	t.Helper()
	cfg := Config{Address: s.URL(), Token: s.RootToken(), CACert: s.CACertFile()}
	for _, e := range edits {
		e(&cfg)
	}
	tr, err := NewTransit(ctx, cfg, TransitConfig{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTransitRoundTrip(t *testing.T) {
	s := baotest.New(t)
	tr := transit(t, s, "plexsphere-master")
	key := make([]byte, 32)
	rand.Read(key)
	ct, err := tr.Wrap(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "vault:v1:") || strings.Contains(ct, base64.StdEncoding.EncodeToString(key)) {
		t.Fatalf("ciphertext %q", ct)
	}
	got, err := tr.Unwrap(ctx, ct)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %x %v", got, err)
	}
	reqs := s.Requests()
	if r := reqs[len(reqs)-1]; r.Method != "PUT" || r.Path != "transit/decrypt/plexsphere-master" {
		t.Errorf("decrypt went to %s %s", r.Method, r.Path)
	}

	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "vault:v1:"))
	raw[len(raw)-1] ^= 1
	for _, bad := range []string{"vault:v1:" + base64.StdEncoding.EncodeToString(raw), "vault:v2:" + ct[9:], "plain", ""} {
		if _, err := tr.Unwrap(ctx, bad); err == nil {
			t.Errorf("unwrap of %q succeeded", bad)
		}
	}
	if _, err := transit(t, s, "another-key").Unwrap(ctx, ct); err == nil {
		t.Error("another key unwrapped the ciphertext")
	}
}

func TestTransitAppRoleNamespaceAndErrors(t *testing.T) {
	s := baotest.New(t)
	tr := transit(t, s, "mk", appRole(s, "ops"))
	ct, err := tr.Wrap(ctx, []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transit(t, s, "mk").Unwrap(ctx, ct); err == nil {
		t.Error("the root namespace's key of the same name unwrapped an ops ciphertext")
	}
	s.ExpireTokens()
	if got, err := tr.Unwrap(ctx, ct); err != nil || string(got) != "k" {
		t.Errorf("unwrap after token expiry: %q %v", got, err)
	}
	s.Seal()
	if _, err := tr.Wrap(ctx, []byte("k")); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("wrap while sealed: %v", err)
	}
}

func TestKeyringWrappedByTransit(t *testing.T) {
	s := baotest.New(t)
	tr := transit(t, s, "plexsphere-master")
	path := filepath.Join(t.TempDir(), "master.key")
	plain, err := keyring.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed := plain.Seal("cursor", []byte("payload"))
	kr, err := keyring.LoadOrCreateWrapped(ctx, path, tr)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr.Open("cursor", sealed); err != nil || string(pt) != "payload" {
		t.Fatalf("migrated keyring: %q %v", pt, err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(raw), "vault:v1:") {
		t.Fatalf("key file holds %q", raw)
	}
	if _, err := keyring.LoadOrCreate(path); !errors.Is(err, keyring.ErrWrapped) {
		t.Errorf("plain load of the wrapped file: %v", err)
	}
	again, err := keyring.LoadOrCreateWrapped(ctx, path, tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Open("cursor", sealed); err != nil {
		t.Errorf("reloaded keyring: %v", err)
	}
	s.Seal()
	if _, err := keyring.LoadOrCreateWrapped(ctx, path, tr); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("start with a sealed OpenBao: %v", err)
	}
}
