package openbao

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

// BenchmarkSigningKeyPlacement compares the two ways Transit could guard
// the Domain signing keys (docs/design/0007-secrets.md): "in-process"
// signs an event envelope with a key unwrapped once at start (what we
// chose); "transit-round-trip" is the cost of one Transit call per
// signature (a decrypt against the stand-in over TLS on loopback, a lower
// bound for a remote OpenBao).
func BenchmarkSigningKeyPlacement(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 512)
	b.Run("in-process", func(b *testing.B) {
		for range b.N {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("transit-round-trip", func(b *testing.B) {
		s := baotest.New(b)
		tr, err := NewTransit(b.Context(), Config{Address: s.URL(), Token: s.RootToken(), CACert: s.CACertFile()},
			TransitConfig{Key: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		wrapped, err := tr.Wrap(b.Context(), priv.Seed())
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := tr.Unwrap(b.Context(), wrapped); err != nil {
				b.Fatal(err)
			}
		}
	})
}
