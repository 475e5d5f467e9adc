package events_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/signing"
)

// clock is a settable test clock.
type clock struct {
	// mu guards t.
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestDomainKeysOverTheSigningContext: with the real local key manager,
// an entry recorded with the outgoing key is signed with it until its
// transition deadline and with the active key after (K5), and state's
// signing_keys names the live rotation, then drops previous (K2, K3).
func TestDomainKeysOverTheSigningContext(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			db := newDatabase(t, b).open(t)
			ctx := context.Background()
			kr, err := keyring.New(bytes.Repeat([]byte{7}, 32))
			if err != nil {
				t.Fatal(err)
			}
			clk := &clock{t: time.Now().UTC()}
			km, err := signing.NewLocal(signing.LocalConfig{DB: db, Keyring: kr, Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO domains (id, slug, name, mesh_cidr, heartbeat_interval, stale_after,
				unreachable_after, created_at, updated_at) VALUES ('d1', 'd1', 'D1', '10.100.0.0/16', '30s', '90s', '300s', 1, 1)`); err != nil {
				t.Fatal(err)
			}
			dk := events.NewDomainKeys(km, clk.now)
			oldKID, err := dk.CurrentKeyID(ctx, db, "d1")
			if err != nil {
				t.Fatal(err)
			}
			sk, err := dk.WireKeys(ctx, "d1")
			if err != nil || sk.Previous != "" || !sk.TransitionExpires.IsZero() {
				t.Fatalf("before rotation: %+v, %v", sk, err)
			}
			oldPub := sk.Current
			r, err := km.Rotate(ctx, "d1", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			sk, err = dk.WireKeys(ctx, "d1")
			if err != nil || sk.Current != r.Active.PublicBase64() || sk.Previous != oldPub ||
				!sk.TransitionExpires.Equal(*r.Retiring.NotAfter) {
				t.Fatalf("after rotation: %+v, %v", sk, err)
			}
			pubOf := func(kid string) string {
				t.Helper()
				s, err := dk.EmissionKey(ctx, "d1", kid)
				if err != nil {
					t.Fatal(err)
				}
				return base64.StdEncoding.EncodeToString(s.Public())
			}
			if got := pubOf(oldKID); got != oldPub {
				t.Errorf("entry of the retiring key signed by %s, want %s", got, oldPub)
			}
			clk.add(time.Hour + time.Second)
			if got := pubOf(oldKID); got != r.Active.PublicBase64() {
				t.Errorf("after the deadline the entry is signed by %s, want the active key", got)
			}
			sk, err = dk.WireKeys(ctx, "d1")
			if err != nil || sk.Previous != "" || !sk.TransitionExpires.IsZero() {
				t.Errorf("after the deadline: %+v, %v", sk, err)
			}
			// The signer really signs: an envelope verifies under the key.
			s, _ := dk.EmissionKey(ctx, "d1", r.Active.KID)
			signer, _ := envelope.NewSigner(envelope.SignerOptions{Key: s, Now: clk.now})
			env, err := signer.Sign(ctx, envelope.Event{Type: "policy_updated", ID: "e1", Payload: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := envelope.CheckSignature(&env, envelope.KeySet{Current: envelope.Key{Public: ed25519.PublicKey(r.Active.Public)}}, clk.now()); err != nil {
				t.Error(err)
			}
		})
	}
}
