package openbao

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/secrets/backend/backendtest"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

var ctx = context.Background()

// open builds a backend against s with the root token over s's CA file,
// then applies edits.
func open(t *testing.T, s *baotest.Server, edits ...func(*Config)) *Backend {
	t.Helper()
	cfg := Config{Address: s.URL(), Token: s.RootToken(), CACert: s.CACertFile()}
	for _, e := range edits {
		e(&cfg)
	}
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func appRole(s *baotest.Server, ns string) func(*Config) {
	return func(c *Config) {
		c.Token = ""
		c.RoleID, c.SecretID = s.AppRoleIn(ns)
		c.Namespace = ns
	}
}

func logins(s *baotest.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == "auth/approle/login" && r.Status == 200 {
			n++
		}
	}
	return n
}

var pth = backend.Path{DomainID: "dom1", ProjectID: "prj1", Name: "db-password"}

func TestComplianceTokenAuth(t *testing.T) {
	s := baotest.New(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return open(t, s) })
}

func TestComplianceAppRoleInNamespace(t *testing.T) {
	s := baotest.New(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return open(t, s, appRole(s, "team-a/prod"), func(c *Config) { c.CACert, c.HTTPClient = "", s.Client() })
	})
	for _, r := range s.Requests() {
		if r.Namespace != "team-a/prod" {
			t.Fatalf("request %s %s went to namespace %q", r.Method, r.Path, r.Namespace)
		}
	}
	if logins(s) != 1 {
		t.Errorf("%d logins, want 1", logins(s))
	}
}

func TestNamespacesAreIsolated(t *testing.T) {
	s := baotest.New(t)
	a := open(t, s, appRole(s, "team-a"))
	root := open(t, s)
	if _, err := a.Put(ctx, pth, []byte("in team-a"), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Get(ctx, pth, 0); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("root namespace sees team-a's secret: %v", err)
	}
	b := open(t, s, func(c *Config) { c.Namespace = "team-b" })
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("team-b sees team-a's secret: %v", err)
	}
	if got, err := a.Get(ctx, pth, 0); err != nil || string(got.Data) != "in team-a" {
		t.Errorf("team-a reads %q, %v", got.Data, err)
	}
}

func TestLayoutMountAndPrefix(t *testing.T) {
	s := baotest.New(t)
	s.MountKV("kv")
	b := open(t, s, func(c *Config) { c.KVMount, c.Prefix = "/kv/", "ps/prod" })
	if _, err := b.Put(ctx, pth, []byte("v1"), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Method != "PUT" || last.Path != "kv/data/ps/prod/dom1/prj1/db-password" {
		t.Fatalf("write went to %s %s", last.Method, last.Path)
	}
	if v := s.WriteOutOfBand("kv/ps/prod/dom1/prj1/db-password", []byte("v2")); v != 2 {
		t.Fatalf("out-of-band write is version %d", v)
	}
	if got, err := b.Get(ctx, pth, 0); err != nil || string(got.Data) != "v2" {
		t.Fatalf("get: %q %v", got.Data, err)
	}
	if err := b.Delete(ctx, pth); err != nil {
		t.Fatal(err)
	}
	reqs = s.Requests()
	if last := reqs[len(reqs)-1]; last.Method != "DELETE" || last.Path != "kv/metadata/ps/prod/dom1/prj1/db-password" || last.Status != 204 {
		t.Fatalf("delete went to %s %s → %d", last.Method, last.Path, last.Status)
	}
}

func TestOutOfBandVersionIsSeen(t *testing.T) {
	s := baotest.New(t)
	b := open(t, s)
	if _, err := b.Put(ctx, pth, []byte("ours"), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WriteOutOfBand("secret/plexsphere/dom1/prj1/db-password", []byte{0, 1, 2, 0xff})
	md, err := b.Metadata(ctx, pth)
	if err != nil || md.Current != 2 || len(md.Versions) != 2 || md.Versions[1].CreatedAt.IsZero() {
		t.Fatalf("metadata after an operator's write: %+v %v", md, err)
	}
	got, err := b.Get(ctx, pth, 0)
	if err != nil || got.Version != 2 || !bytes.Equal(got.Data, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("current: %v v%d %v", got.Data, got.Version, err)
	}
	// An operator who types `bao kv put … value=text` is read too.
	s.WriteData("", "secret/plexsphere/dom1/prj1/db-password", map[string]any{"value": "typed by hand"})
	if got, err := b.Get(ctx, pth, 3); err != nil || string(got.Data) != "typed by hand" {
		t.Fatalf("plain value field: %q %v", got.Data, err)
	}
	s.WriteData("", "secret/plexsphere/dom1/prj1/db-password", map[string]any{"password": "x"})
	if _, err := b.Get(ctx, pth, 4); err == nil || errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("a version without our field: %v", err)
	}
	// CAS sees the operator's version as current.
	three := int64(3)
	if _, err := b.Put(ctx, pth, []byte("x"), backend.PutOptions{CAS: &three}); !errors.Is(err, backend.ErrConflict) {
		t.Errorf("stale cas after out-of-band writes: %v", err)
	}
}

func TestDeletedAndDestroyedVersions(t *testing.T) {
	s := baotest.New(t)
	b := open(t, s)
	for _, v := range []string{"one", "two", "three"} {
		if _, err := b.Put(ctx, pth, []byte(v), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const p = "secret/plexsphere/dom1/prj1/db-password"
	s.DeleteVersion("", p, 1)
	s.DestroyVersion("", p, 2)
	for _, v := range []int64{1, 2, 9} {
		if _, err := b.Get(ctx, pth, v); !errors.Is(err, backend.ErrVersionNotFound) {
			t.Errorf("get v%d: %v, want ErrVersionNotFound", v, err)
		}
	}
	md, err := b.Metadata(ctx, pth)
	if err != nil || len(md.Versions) != 3 {
		t.Fatalf("metadata: %+v %v", md, err)
	}
	if md.Versions[0].DestroyedAt.IsZero() || md.Versions[1].DestroyedAt.IsZero() || !md.Versions[2].DestroyedAt.IsZero() {
		t.Errorf("destroyed marks: %+v", md.Versions)
	}
	s.DestroyVersion("", p, 3)
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrVersionNotFound) {
		t.Errorf("get of a destroyed current version: %v, want ErrVersionNotFound", err)
	}
}

func TestOldVersionsTrimmedLikeKV(t *testing.T) {
	s := baotest.New(t)
	b := open(t, s)
	for range 12 {
		if _, err := b.Put(ctx, pth, []byte("v"), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Get(ctx, pth, 2); !errors.Is(err, backend.ErrVersionNotFound) {
		t.Errorf("get of a trimmed version: %v", err)
	}
	md, err := b.Metadata(ctx, pth)
	if err != nil || md.Current != 12 || len(md.Versions) != 10 || md.Versions[0].Version != 3 {
		t.Fatalf("metadata: current %d, %d versions from %v, %v", md.Current, len(md.Versions), md.Versions[0].Version, err)
	}
}

func TestBadTokenIsDenied(t *testing.T) {
	s := baotest.New(t)
	b := open(t, s, func(c *Config) { c.Token = "s.not-a-token" })
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrDenied) {
		t.Fatalf("get with a bad token: %v, want ErrDenied", err)
	}
	if _, err := b.Put(ctx, pth, []byte("x"), backend.PutOptions{}); !errors.Is(err, backend.ErrDenied) {
		t.Fatalf("put with a bad token: %v, want ErrDenied", err)
	}
	// A static token is not retried: one request per call.
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests for two calls", n)
	}
}

func TestSealedIsUnavailable(t *testing.T) {
	s := baotest.New(t)
	b := open(t, s)
	if err := b.Health(ctx); err != nil {
		t.Fatalf("health of an active server: %v", err)
	}
	s.Seal()
	if _, err := b.Put(ctx, pth, []byte("x"), backend.PutOptions{}); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("put while sealed: %v", err)
	}
	if _, err := b.Metadata(ctx, pth); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("metadata while sealed: %v", err)
	}
	if err := b.Health(ctx); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("health while sealed: %v", err)
	}
	s.Unseal()
	if _, err := b.Put(ctx, pth, []byte("x"), backend.PutOptions{}); err != nil {
		t.Errorf("put after unseal: %v", err)
	}
	s.SetStandby(true)
	if err := b.Health(ctx); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("health of a standby: %v", err)
	}
	s.SetStandby(false)
	s.SetUninitialised(true)
	if err := b.Health(ctx); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("health of an uninitialised server: %v", err)
	}
}

func TestAppRoleReloginAfterExpiry(t *testing.T) {
	s := baotest.New(t)
	b := open(t, s, appRole(s, ""))
	if _, err := b.Put(ctx, pth, []byte("before"), backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s.ExpireTokens()
	done := make(chan error, 8)
	for range 8 {
		go func() { _, err := b.Get(ctx, pth, 0); done <- err }()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatalf("get after expiry: %v", err)
		}
	}
	if n := logins(s); n != 2 {
		t.Errorf("%d logins, want 2 (start, then one for all eight callers)", n)
	}
	// Short-lived tokens expire by themselves too.
	s.SetTokenTTL(time.Nanosecond)
	s.ExpireTokens()
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrDenied) {
		t.Errorf("a token dead on arrival: %v, want ErrDenied after one retry", err)
	}
}

func TestTokenFileIsReread(t *testing.T) {
	s := baotest.New(t)
	file := t.TempDir() + "/token"
	writeFile(t, file, "s.revoked\n")
	b := open(t, s, func(c *Config) { c.Token, c.TokenFile = "", file })
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrDenied) {
		t.Fatalf("revoked token: %v", err)
	}
	writeFile(t, file, s.RootToken()+"\n")
	if _, err := b.Get(ctx, pth, 0); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("after the agent wrote a new token: %v, want ErrNotFound", err)
	}
}
