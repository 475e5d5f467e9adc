package envelope

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// The §7.5 worked example, copied from the spec text.
const (
	vecSeedHex   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	vecPubHex    = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	vecPubB64    = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	vecReceived  = `{"event_type":"node_state_updated","event_id":"evt_0001","issued_at":"2026-03-01T12:00:00.120+00:00","nonce":"q3Zx0mY1s9Tn8VwB","payload":{ "metadata": {"team": "a<b & c>d", "city": "Z\u00fcrich"}, "data": [] },"signature":"vcSWg3DR/7xzpa7ZcbqTX+wuo6sYYKGjqmwikvn4qeu7oAlRNbhqWKlpDDGgk0NTHgaIlb1vCxOwn4zKxB/0Cg=="}`
	vecCanonical = `{"event_type":"node_state_updated","event_id":"evt_0001","issued_at":"2026-03-01T12:00:00.12Z","nonce":"q3Zx0mY1s9Tn8VwB","payload":{"metadata":{"team":"a\u003cb \u0026 c\u003ed","city":"Z\u00fcrich"},"data":[]}}`
	vecSHA256    = "141abab72f10289231e810ecf4060c92ac24d2e604e5be2c3ad44d3fffc590b9"
	vecSignature = "vcSWg3DR/7xzpa7ZcbqTX+wuo6sYYKGjqmwikvn4qeu7oAlRNbhqWKlpDDGgk0NTHgaIlb1vCxOwn4zKxB/0Cg=="
	vecEmitted   = `{"event_type":"node_state_updated","event_id":"evt_0001","issued_at":"2026-03-01T12:00:00.12Z","nonce":"q3Zx0mY1s9Tn8VwB","payload":{"metadata":{"team":"a\u003cb \u0026 c\u003ed","city":"Z\u00fcrich"},"data":[]},"signature":"vcSWg3DR/7xzpa7ZcbqTX+wuo6sYYKGjqmwikvn4qeu7oAlRNbhqWKlpDDGgk0NTHgaIlb1vCxOwn4zKxB/0Cg=="}`
)

func vecKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString(vecSeedHex)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if hex.EncodeToString(pub) != vecPubHex || base64.StdEncoding.EncodeToString(pub) != vecPubB64 {
		t.Fatalf("RFC 8032 TEST 1 key mismatch: %x", pub)
	}
	return priv
}

func vecKeySet(t testing.TB) KeySet {
	return KeySet{Current: Key{Public: vecKey(t).Public().(ed25519.PublicKey)}}
}

func fixedClock(s string) func() time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

// TestVectorCanonicalBytes reproduces the canonical bytes of §7.5 from the
// non-canonical wire form, byte for byte, with the stated length and hash.
func TestVectorCanonicalBytes(t *testing.T) {
	for name, wire := range map[string]string{"received": vecReceived, "emitted": vecEmitted} {
		e, err := Parse([]byte(wire))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := e.CanonicalBytes()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != vecCanonical {
			t.Fatalf("%s canonical bytes\n got: %s\nwant: %s", name, got, vecCanonical)
		}
		if len(got) != 212 {
			t.Fatalf("%s: %d bytes, want 212", name, len(got))
		}
		if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != vecSHA256 {
			t.Fatalf("%s: SHA-256 %x", name, sum)
		}
	}
}

// TestVectorSignature signs the example with the RFC 8032 key and gets the
// spec's signature and the spec's emitted wire form, byte for byte.
func TestVectorSignature(t *testing.T) {
	priv := vecKey(t)
	if got := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(vecCanonical))); got != vecSignature {
		t.Fatalf("raw signature %s", got)
	}
	key, err := NewLocalKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := CanonicalPayload([]byte(`{ "metadata": {"team": "a<b & c>d", "city": "Z\u00fcrich"}, "data": [] }`))
	if err != nil {
		t.Fatal(err)
	}
	e := Envelope{
		EventType: "node_state_updated", EventID: "evt_0001",
		IssuedAt: fixedClock("2026-03-01T12:00:00.120+00:00")(),
		Nonce:    "q3Zx0mY1s9Tn8VwB", Payload: payload,
	}
	if err := sign(context.Background(), key, &e); err != nil {
		t.Fatal(err)
	}
	if e.Signature != vecSignature {
		t.Fatalf("signature %s", e.Signature)
	}
	wire, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if string(wire) != vecEmitted {
		t.Fatalf("emitted form\n got: %s\nwant: %s", wire, vecEmitted)
	}
}

// TestVectorVerification runs the four checks §7.5 asks for.
func TestVectorVerification(t *testing.T) {
	for name, wire := range map[string]string{"received": vecReceived, "emitted": vecEmitted} {
		v, err := NewVerifier(VerifierOptions{Keys: vecKeySet(t), Now: fixedClock("2026-03-01T12:02:00Z")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.VerifyJSON([]byte(wire)); err != nil {
			t.Errorf("%s form at 12:02:00: %v", name, err)
		}
		if _, err := v.VerifyJSON([]byte(wire)); !errors.Is(err, ErrReplay) {
			t.Errorf("%s form, second delivery: %v, want ErrReplay", name, err)
		}
		stale, _ := NewVerifier(VerifierOptions{Keys: vecKeySet(t), Now: fixedClock("2026-03-01T12:05:01Z")})
		if _, err := stale.VerifyJSON([]byte(wire)); !errors.Is(err, ErrStale) {
			t.Errorf("%s form at 12:05:01: %v, want ErrStale", name, err)
		}
	}
	// A signature over the literal received bytes (".120+00:00", raw "<")
	// must not verify.
	literal := []byte(`{"event_type":"node_state_updated","event_id":"evt_0001","issued_at":"2026-03-01T12:00:00.120+00:00","nonce":"q3Zx0mY1s9Tn8VwB","payload":{ "metadata": {"team": "a<b & c>d", "city": "Z\u00fcrich"}, "data": [] }}`)
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(vecKey(t), literal))
	forged := bytes.Replace([]byte(vecReceived), []byte(vecSignature), []byte(sig), 1)
	v, _ := NewVerifier(VerifierOptions{Keys: vecKeySet(t), Now: fixedClock("2026-03-01T12:02:00Z")})
	if _, err := v.VerifyJSON(forged); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signature over literal bytes: %v, want ErrBadSignature", err)
	}
}
