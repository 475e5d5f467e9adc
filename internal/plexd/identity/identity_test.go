package identity

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func sample(t *testing.T) *Identity {
	t.Helper()
	kp, err := NewKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	nsk, _ := nodeproto.NewNSK(nil)
	sig := base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 31)...))
	return &Identity{NodeID: "node-1", MeshIP: "10.100.0.7", NSK: nsk, PrivateKey: kp.Private, PublicKey: kp.Public,
		RegistrationSigningKey: sig, SigningKeys: nodeproto.SigningKeys{Current: sig}, RegisteredAt: time.Unix(0, 0).UTC()}
}

func TestSaveLoadRoundTripAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := NewStore(dir)
	if _, err := s.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load before Save: %v, want ErrNotFound", err)
	}
	id := sample(t)
	if err := s.Save(id); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if *got != *id {
		t.Fatalf("round trip: got %+v want %+v", got, id)
	}
	fi, _ := os.Stat(s.Path())
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(dir)
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", di.Mode().Perm())
	}
	// A pre-existing wider directory is narrowed.
	os.Chmod(dir, 0o755)
	if err := s.SaveCursor("42"); err != nil {
		t.Fatal(err)
	}
	di, _ = os.Stat(dir)
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode after a write %v, want 0700", di.Mode().Perm())
	}
	if c, _ := s.LoadCursor(); c != "42" {
		t.Errorf("cursor %q", c)
	}
	ci, _ := os.Stat(filepath.Join(dir, CursorFile))
	if ci.Mode().Perm() != 0o600 {
		t.Errorf("cursor mode %v", ci.Mode().Perm())
	}
}

// TestSaveIsAtomic: concurrent readers never see a torn or partial file
// while writers replace it, and no temporary files are left behind.
func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	s, _ := NewStore(dir)
	a, b := sample(t), sample(t)
	b.NodeID, b.MeshIP = "node-2", "10.100.0.8"
	b.Hostname = strings.Repeat("h", 100_000) // a large file makes torn writes likely if they can happen
	if err := s.Save(a); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := a
			if i%2 == 1 {
				id = b
			}
			if err := s.Save(id); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 300 {
		got, err := s.Load()
		if err != nil {
			t.Fatalf("reader saw a broken identity: %v", err)
		}
		if got.NodeID != a.NodeID && got.NodeID != b.NodeID {
			t.Fatalf("reader saw node %q", got.NodeID)
		}
	}
	close(stop)
	wg.Wait()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestLoadRejectsDamagedFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := NewStore(dir)
	id := sample(t)
	if err := s.Save(id); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.Path(), []byte(`{"node_id":"x"`), 0o600)
	if _, err := s.Load(); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("truncated file: %v, want a parse error", err)
	}
	os.WriteFile(s.Path(), []byte(`{"node_id":"../etc","mesh_ip":"10.0.0.1"}`), 0o600)
	if _, err := s.Load(); err == nil {
		t.Fatal("invalid identity loaded")
	}
	if err := s.Save(&Identity{NodeID: "x"}); err == nil {
		t.Fatal("an invalid identity was saved")
	}
}

func TestSecretsNeverRendered(t *testing.T) {
	id := sample(t)
	for _, s := range []string{id.String(), id.LogValue().String()} {
		if strings.Contains(s, id.NSK) || strings.Contains(s, id.PrivateKey) {
			t.Errorf("rendering %q reveals a secret", s)
		}
	}
}

func TestPublicKeyOf(t *testing.T) {
	kp, _ := NewKeyPair(nil)
	if pub, err := PublicKeyOf(kp.Private); err != nil || pub != kp.Public {
		t.Errorf("PublicKeyOf = %q, %v; want %q", pub, err, kp.Public)
	}
	if _, err := PublicKeyOf("not a key"); err == nil {
		t.Error("a malformed private key was accepted")
	}
}

func TestKeyPairIsX25519(t *testing.T) {
	kp, err := NewKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := base64.StdEncoding.DecodeString(kp.Private)
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if base64.StdEncoding.EncodeToString(k.PublicKey().Bytes()) != kp.Public {
		t.Error("public key does not match private key")
	}
	if !nodeproto.ValidWireGuardKey(kp.Public) {
		t.Error("public key is not a valid WireGuard key")
	}
	if priv[0]&7 != 0 || priv[31]&128 != 0 || priv[31]&64 == 0 {
		t.Error("private key is not clamped")
	}
}

func TestRemove(t *testing.T) {
	s, _ := NewStore(t.TempDir())
	s.Save(sample(t))
	s.SaveCursor("1")
	s.SaveApplied([]byte(`{}`))
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Remove: %v", err)
	}
	if c, _ := s.LoadCursor(); c != "" {
		t.Errorf("cursor survived Remove: %q", c)
	}
	if a, _ := s.LoadApplied(); a != nil {
		t.Errorf("applied state survived Remove: %s", a)
	}
}
