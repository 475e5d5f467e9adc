package identity

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// TestSealingKeyLifecycle: created once with mode 0600, the same key on
// every later start, its acknowledgement remembered, and removed with the
// identity.
func TestSealingKeyLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := NewStore(dir)
	if _, err := s.LoadSealingKey(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("load before any key: %v, want ErrNotFound", err)
	}
	k, created, err := s.EnsureSealingKey()
	if err != nil || !created {
		t.Fatalf("first Ensure: created=%v %v", created, err)
	}
	if kid, _ := nodeproto.SealingKID(k.PublicKey); kid != k.KID || len(k.KID) != 16 {
		t.Errorf("kid %q is not the public key's", k.KID)
	}
	fi, err := os.Stat(s.SealingKeyPath())
	if err != nil || fi.Mode().Perm() != FileMode {
		t.Fatalf("sealing key file: %v %v, want mode 0600", fi, err)
	}
	again, created, err := s.EnsureSealingKey()
	if err != nil || created || again.PrivateKey != k.PrivateKey {
		t.Fatalf("second Ensure made a new key (created=%v, %v)", created, err)
	}
	if k.Acknowledged("node-1") {
		t.Error("a fresh key counts as acknowledged")
	}
	k.AcknowledgedKID, k.AcknowledgedNodeID = k.KID, "node-1"
	if err := s.SaveSealingKey(k); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadSealingKey()
	if err != nil || !got.Acknowledged("node-1") || got.Acknowledged("node-2") {
		t.Fatalf("acknowledgement not remembered for exactly its node: %+v %v", got, err)
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.SealingKeyPath()); !errors.Is(err, os.ErrNotExist) {
		t.Error("Remove left the sealing key behind")
	}
}

// TestSealingKeyOpensWhatIsSealedToIt: the pair opens
// what nodeproto seals to it, and two generations differ.
func TestSealingKeyOpensWhatIsSealedToIt(t *testing.T) {
	a, err := NewSealingKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSealingKey(nil)
	if a.PrivateKey == b.PrivateKey {
		t.Fatal("two sealing keys are equal")
	}
	resp, err := nodeproto.SealSecretToNode(a.PublicKey, "node-1", "db", 3, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := resp.OpenSealed(a.PrivateKey, "node-1"); err != nil || string(got) != "v" {
		t.Errorf("own key: %q %v", got, err)
	}
	if _, err := resp.OpenSealed(b.PrivateKey, "node-1"); !errors.Is(err, nodeproto.ErrSealedSecret) {
		t.Errorf("another key: %v, want ErrSealedSecret", err)
	}
}

// TestSealingKeyRefusesDamage: a mismatched pair or kid does not load, and
// Ensure replaces a damaged file with a fresh key.
func TestSealingKeyRefusesDamage(t *testing.T) {
	s, _ := NewStore(t.TempDir())
	k, _ := NewSealingKey(nil)
	other, _ := NewSealingKey(nil)
	for name, bad := range map[string]SealingKey{
		"foreign public key": {PrivateKey: k.PrivateKey, PublicKey: other.PublicKey, KID: other.KID},
		"wrong kid":          {PrivateKey: k.PrivateKey, PublicKey: k.PublicKey, KID: other.KID},
		"not a key":          {PrivateKey: "short", PublicKey: k.PublicKey, KID: k.KID},
	} {
		if err := s.SaveSealingKey(&bad); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
	os.WriteFile(s.SealingKeyPath(), []byte(`{"sealing_private_key":"AAAA"}`), 0o600)
	if _, err := s.LoadSealingKey(); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("damaged file loaded: %v", err)
	}
	fresh, created, err := s.EnsureSealingKey()
	if err != nil || !created || fresh.Validate() != nil {
		t.Errorf("Ensure over a damaged file: created=%v %v", created, err)
	}
}

// TestSealingKeyNeverLogged: slog and fmt render the kid, not the private key.
func TestSealingKeyNeverLogged(t *testing.T) {
	k, _ := NewSealingKey(nil)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", slog.Any("k", k), slog.Any("p", &k))
	out := buf.String() + fmt.Sprint(k) + fmt.Sprintf("%v %+v", k, &k)
	if strings.Contains(out, k.PrivateKey) {
		t.Errorf("the sealing private key was rendered: %s", out)
	}
	if !strings.Contains(out, k.KID) {
		t.Errorf("the kid is missing from %s", out)
	}
}
