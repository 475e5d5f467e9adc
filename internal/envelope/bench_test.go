package envelope

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchPayload is a payload of about n bytes: a peer_added-like object.
func benchPayload(n int) json.RawMessage {
	base := `{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","mesh_ip":"10.100.0.8","endpoint":"198.51.100.2:51820","allowed_ips":["10.100.0.8/32"],"psk":"","pad":"`
	return json.RawMessage(base + strings.Repeat("x", max(0, n-len(base)-2)) + `"}`)
}

var benchSizes = []int{256, 4096, 60000}

func benchEvent(n int) Event {
	return Event{Type: "peer_added", ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", Payload: benchPayload(n)}
}

// BenchmarkSign measures Signer.Sign (validation, canonicalisation, nonce,
// Ed25519) in envelopes/s.
func BenchmarkSign(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("payload=%d", n), func(b *testing.B) {
			k, _ := newKey(b, 1)
			s := newSigner(b, k, "", nil)
			ev := benchEvent(n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
		})
	}
}

// BenchmarkRawEd25519Sign signs a message of the same size as the
// canonical bytes BenchmarkSign signs, for the overhead ratio.
func BenchmarkRawEd25519Sign(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("payload=%d", n), func(b *testing.B) {
			k, _ := newKey(b, 1)
			e, err := newSigner(b, k, "", nil).Sign(context.Background(), benchEvent(n))
			if err != nil {
				b.Fatal(err)
			}
			msg, _ := e.CanonicalBytes()
			b.ReportAllocs()
			for b.Loop() {
				_ = ed25519.Sign(k.priv, msg)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}

// BenchmarkVerifyJSON measures the agent path: parse, freshness, canonical
// bytes, Ed25519 verify and the replay cache.
func BenchmarkVerifyJSON(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("payload=%d", n), func(b *testing.B) {
			k, pub := newKey(b, 1)
			s := newSigner(b, k, "", func() time.Time { return t0 })
			const batch = 4096
			wires := make([][]byte, batch)
			for i := range wires {
				e, err := s.Sign(context.Background(), benchEvent(n))
				if err != nil {
					b.Fatal(err)
				}
				wires[i], _ = json.Marshal(&e)
			}
			var v *Verifier
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%batch == 0 { // fresh replay cache for each batch of nonces
					b.StopTimer()
					v = newVerifier(b, KeySet{Current: Key{Public: pub}}, func() time.Time { return t0 })
					b.StartTimer()
				}
				if _, err := v.VerifyJSON(wires[i%batch]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
		})
	}
}

// BenchmarkRawEd25519Verify verifies a same-size message, for the ratio.
func BenchmarkRawEd25519Verify(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("payload=%d", n), func(b *testing.B) {
			k, pub := newKey(b, 1)
			e, _ := newSigner(b, k, "", nil).Sign(context.Background(), benchEvent(n))
			msg, _ := e.CanonicalBytes()
			sig := ed25519.Sign(k.priv, msg)
			b.ReportAllocs()
			for b.Loop() {
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("verify")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}
