package nodeproto

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"testing"
)

func wgPair(t testing.TB) (string, string) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(priv.Bytes()), base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())
}

// Issue 7 row 2 (level 2): a sealed NSK opens only with the node's private
// key and only for the node id it was sealed for.
func TestSealNSK(t *testing.T) {
	nsk, _ := NewNSK(nil)
	priv, pub := wgPair(t)
	sealed, err := SealNSK(nil, pub, "node-1", nsk)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenNSK(priv, "node-1", sealed); err != nil || got != nsk {
		t.Fatalf("open: %q %v", got, err)
	}
	again, _ := SealNSK(nil, pub, "node-1", nsk)
	if again == sealed {
		t.Fatal("two seals of the same NSK are equal")
	}
	other, _ := wgPair(t)
	if _, err := OpenNSK(other, "node-1", sealed); err != ErrSealedNSK {
		t.Fatalf("another key opened it: %v", err)
	}
	if _, err := OpenNSK(priv, "node-2", sealed); err != ErrSealedNSK {
		t.Fatalf("another node id opened it: %v", err)
	}
	r := RegisterResponse{NodeID: "node-1", NodeSecretKey: nsk, NodeSecretKeySealed: sealed}
	if got, err := r.OpenNSK(priv); err != nil || got != nsk {
		t.Fatalf("response: %q %v", got, err)
	}
	r.NodeSecretKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
	if _, err := r.OpenNSK(priv); err == nil {
		t.Fatal("a sealed NSK differing from node_secret_key was accepted")
	}
	if _, err := SealNSK(nil, "not a key", "node-1", nsk); err == nil {
		t.Fatal("sealed to a bad key")
	}
}

// FuzzOpenNSK feeds arbitrary sealed members (the control plane's answer is
// untrusted input to the agent): opening never panics and never yields
// anything but a valid NSK.
func FuzzOpenNSK(f *testing.F) {
	priv, pub := wgPair(f)
	nsk, _ := NewNSK(nil)
	sealed, _ := SealNSK(nil, pub, "n", nsk)
	f.Add(sealed)
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := OpenNSK(priv, "n", s)
		if err == nil && !ValidNSK(got) {
			t.Fatalf("opened %q to an invalid NSK", s)
		}
	})
}
