package keyring

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeWrapper is a Transit look-alike: AES-GCM under its own key, "vault:v1:"
// ciphertexts.
type fakeWrapper struct {
	aead    cipher.AEAD
	failing bool

	mu     sync.Mutex
	wraps  int
	last   []byte
	mangle bool // Unwrap returns a different key
}

func newFake(t *testing.T) *fakeWrapper {
	k := make([]byte, 32)
	rand.Read(k)
	b, _ := aes.NewCipher(k)
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeWrapper{aead: g}
}

func (f *fakeWrapper) Wrap(_ context.Context, pt []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return "", errors.New("transit unavailable")
	}
	f.wraps++
	f.last = append([]byte(nil), pt...)
	n := make([]byte, f.aead.NonceSize())
	rand.Read(n)
	return "vault:v1:" + base64.StdEncoding.EncodeToString(f.aead.Seal(n, n, pt, nil)), nil
}

func (f *fakeWrapper) Unwrap(_ context.Context, ct string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "vault:v1:"))
	if err != nil || len(raw) < f.aead.NonceSize() {
		return nil, errors.New("bad ciphertext")
	}
	n := f.aead.NonceSize()
	pt, err := f.aead.Open(nil, raw[:n], raw[n:], nil)
	if f.mangle && err == nil {
		pt[0] ^= 1
	}
	return pt, err
}

func TestWrappedKeyIsCreatedWrappedOnly(t *testing.T) {
	ctx := context.Background()
	w := newFake(t)
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	kr, err := LoadOrCreateWrapped(ctx, path, w)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "vault:v1:") || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(w.last))) {
		t.Fatalf("file holds %q, want only the wrapped key", raw)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	sealed := kr.Seal("probe", []byte("hello"))
	again, err := LoadOrCreateWrapped(ctx, path, w)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := again.Open("probe", sealed); err != nil || string(pt) != "hello" {
		t.Fatalf("reloaded keyring: %q %v", pt, err)
	}
	if w.wraps != 1 {
		t.Errorf("%d wraps, want 1 (loading a wrapped key must not re-wrap)", w.wraps)
	}
	if _, err := LoadOrCreate(path); !errors.Is(err, ErrWrapped) || !strings.Contains(err.Error(), "--openbao-transit-key") {
		t.Errorf("plain LoadOrCreate of a wrapped key: %v", err)
	}
	if _, err := LoadOrCreateWrapped(ctx, path, newFake(t)); err == nil {
		t.Error("another key manager's key opened the file")
	}
}

func TestPlainKeyIsMigrated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	plain, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	sealed := plain.Seal("cursor", []byte("payload"))

	w := newFake(t)
	w.failing = true
	if _, err := LoadOrCreateWrapped(ctx, path, w); err == nil {
		t.Fatal("migration with a failing key manager succeeded")
	}
	w.failing, w.mangle = false, true
	if _, err := LoadOrCreateWrapped(ctx, path, w); err == nil {
		t.Fatal("migration with a key manager that gives another key back succeeded")
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, before) {
		t.Fatal("a failed migration changed the key file")
	}

	w.mangle = false
	kr, err := LoadOrCreateWrapped(ctx, path, w)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr.Open("cursor", sealed); err != nil || string(pt) != "payload" {
		t.Fatalf("migrated keyring opens %q, %v", pt, err)
	}
	after, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(after), "vault:v1:") || bytes.Contains(after, bytes.TrimSpace(before)) {
		t.Fatalf("after migration the file holds %q", after)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after migration, want 0600", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("left-over files: %v", ents)
	}
}

func TestConcurrentWrappedCreateAgrees(t *testing.T) {
	ctx := context.Background()
	w := newFake(t)
	path := filepath.Join(t.TempDir(), "master.key")
	krs := make([]*Keyring, 6)
	var wg sync.WaitGroup
	for i := range krs {
		wg.Go(func() {
			kr, err := LoadOrCreateWrapped(ctx, path, w)
			if err != nil {
				t.Error(err)
			}
			krs[i] = kr
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sealed := krs[0].Seal("n", []byte("x"))
	for i, kr := range krs {
		if _, err := kr.Open("n", sealed); err != nil {
			t.Errorf("starter %d got another master key", i)
		}
	}
}

func TestWrappedRejectsBadContent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	os.WriteFile(path, []byte("not base64!\n"), 0o600)
	if _, err := LoadOrCreateWrapped(ctx, path, newFake(t)); err == nil {
		t.Error("garbage key file accepted")
	}
	w := newFake(t)
	short, _ := w.Wrap(ctx, []byte("short"))
	os.WriteFile(path, []byte(short), 0o600)
	if _, err := LoadOrCreateWrapped(ctx, path, w); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("short unwrapped key: %v", err)
	}
	if _, err := LoadOrCreateWrapped(ctx, path, nil); err == nil {
		t.Error("nil wrapper accepted")
	}
}
