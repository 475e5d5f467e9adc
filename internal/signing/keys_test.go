package signing_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func openDB(t *testing.T, b apptest.Backend) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: apptest.DatabaseURL(t, b), SQLitePath: filepath.Join(t.TempDir(), "db.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func addDomain(t *testing.T, db *store.DB, id string) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO domains (id, slug, name, mesh_cidr, heartbeat_interval, stale_after,
		unreachable_after, created_at, updated_at) VALUES ($1, $1, $1, '100.64.0.0/16', '30s', '90s', '300s', 0, 0)`, id); err != nil {
		t.Fatal(err)
	}
}

// TestLocalBackend is the key-manager suite on both databases: first use
// creates one key even under concurrency, signatures verify with the listed
// key, rotation keeps the old key retiring (and signing) until not_after and
// refuses a second rotation meanwhile, after not_after the old key is retired
// and its private half destroyed, and no private key is stored in plaintext.
func TestLocalBackend(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testLocalBackend(t, openDB(t, b))
		})
	}
}

func testLocalBackend(t *testing.T, db *store.DB) {
	ctx := context.Background()
	kr, err := keyring.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)}
	l, err := signing.NewLocal(signing.LocalConfig{DB: db, Keyring: kr, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	const dom = "01900000-0000-7000-8000-000000000001"
	if _, err := l.PublicKeys(ctx, dom); !errors.Is(err, signing.ErrDomainNotFound) {
		t.Fatalf("unknown domain: %v", err)
	}
	addDomain(t, db, dom)

	var wg sync.WaitGroup
	kids := make([]string, 8)
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := l.ActiveKey(ctx, db, dom)
			if err != nil {
				t.Error(err)
			}
			kids[i] = k.KID
		}()
	}
	wg.Wait()
	for _, k := range kids {
		if k != kids[0] {
			t.Fatalf("concurrent first use made several keys: %v", kids)
		}
	}

	msg := []byte("canonical bytes")
	kid, sig, err := l.Sign(ctx, dom, msg)
	if err != nil || kid != kids[0] {
		t.Fatalf("sign: %s %v", kid, err)
	}
	keys, err := l.PublicKeys(ctx, dom)
	if err != nil || len(keys) != 1 || keys[0].Status != signing.StatusActive || !ed25519.Verify(keys[0].Public, msg, sig) {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	old := keys[0]

	if _, err := l.Rotate(ctx, dom, 10*time.Minute); err == nil {
		t.Fatal("a grace under an hour was accepted")
	}
	r, err := l.Rotate(ctx, dom, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r.Retiring.KID != old.KID || r.Active.KID == old.KID || r.Retiring.NotAfter == nil ||
		!r.Retiring.NotAfter.Equal(clk.Now().Add(2*time.Hour)) {
		t.Fatalf("rotation: %+v", r)
	}
	if _, err := l.Rotate(ctx, dom, 2*time.Hour); !errors.Is(err, signing.ErrRotationInProgress) {
		t.Fatalf("second rotation during the window: %v", err)
	}
	kid, sig, err = l.Sign(ctx, dom, msg)
	if err != nil || kid != r.Active.KID || !ed25519.Verify(r.Active.Public, msg, sig) {
		t.Fatalf("new events are not signed with the new key: %s %v", kid, err)
	}
	if sig, err := l.SignWith(ctx, old.KID, msg); err != nil || !ed25519.Verify(old.Public, msg, sig) {
		t.Fatalf("retiring key stopped signing inside its window: %v", err)
	}
	clk.Advance(2*time.Hour - time.Second)
	keys, _ = l.PublicKeys(ctx, dom)
	if len(keys) != 2 || keys[0].KID != r.Active.KID || keys[1].Status != signing.StatusRetiring {
		t.Fatalf("inside the window: %+v", keys)
	}
	clk.Advance(time.Second)
	keys, _ = l.PublicKeys(ctx, dom)
	if len(keys) != 2 || keys[1].Status != signing.StatusRetired {
		t.Fatalf("after not_after: %+v", keys)
	}
	if _, err := l.SignWith(ctx, old.KID, msg); !errors.Is(err, signing.ErrKeyUnusable) {
		t.Fatalf("retired key still signs: %v", err)
	}
	var sealed string
	db.QueryRow(`SELECT private_sealed FROM signing_keys WHERE kid = $1`, old.KID).Scan(&sealed)
	if sealed != "" {
		t.Fatal("a retired key kept its private half")
	}
	if _, err := l.Rotate(ctx, dom, time.Hour); err != nil {
		t.Fatalf("rotation after the window: %v", err)
	}

	// The sealed row opens only with the master key, holds the active
	// key's private half, and no encoding of it is stored in plaintext.
	var sealedActive string
	if err := db.QueryRow(`SELECT private_sealed FROM signing_keys WHERE kid = $1`, r.Active.KID).Scan(&sealedActive); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(sealedActive)
	pt, err := kr.Open("signing-key:"+r.Active.KID, raw)
	if err != nil || !bytes.Equal(ed25519.PrivateKey(pt).Public().(ed25519.PublicKey), r.Active.Public) {
		t.Fatalf("sealed key does not open to the active key: %v", err)
	}
	priv := ed25519.PrivateKey(pt)
	rows, err := db.Query(`SELECT kid, public_key, private_sealed FROM signing_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kid, pub, sealed string
		rows.Scan(&kid, &pub, &sealed)
		row := kid + pub + sealed
		for _, enc := range []string{base64.StdEncoding.EncodeToString(priv), base64.StdEncoding.EncodeToString(priv.Seed()),
			base64.RawURLEncoding.EncodeToString(priv.Seed()), string(priv.Seed())} {
			if strings.Contains(row, enc) {
				t.Fatal("a private key is stored in plaintext")
			}
		}
	}
}
