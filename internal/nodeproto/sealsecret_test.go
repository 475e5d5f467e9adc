package nodeproto

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func sealingPair(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k.Bytes()), base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
}

func TestSealedSecretRoundTrip(t *testing.T) {
	priv, pub := sealingPair(t)
	resp, err := SealSecretToNode(pub, "node-a", "db", 3, []byte("s3cret-value"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Ciphertext != "" || resp.Nonce != "" || resp.KID == "" {
		t.Fatalf("level-1 members filled or kid missing: %+v", resp)
	}
	kid, _ := SealingKID(pub)
	if resp.KID != kid || len(kid) != 16 {
		t.Errorf("kid %q, want %q", resp.KID, kid)
	}
	got, err := resp.OpenSealed(priv, "node-a")
	if err != nil || string(got) != "s3cret-value" {
		t.Fatalf("open: %q %v", got, err)
	}
}

func TestSealedSecretRefusesTheWrongKeyAndBinding(t *testing.T) {
	_, pub := sealingPair(t)
	other, _ := sealingPair(t)
	resp, err := SealSecretToNode(pub, "node-a", "db", 3, []byte("s3cret-value"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.OpenSealed(other, "node-a"); !errors.Is(err, ErrSealedSecret) {
		t.Errorf("another node's key opened it: %v", err)
	}
	// The right key, but the answer relabelled: node, key or version.
	rightPriv, rightPub := sealingPair(t)
	resp, _ = SealSecretToNode(rightPub, "node-a", "db", 3, []byte("v"))
	for name, mut := range map[string]func(r *SecretResponse) string{
		"node":    func(r *SecretResponse) string { return "node-b" },
		"key":     func(r *SecretResponse) string { r.Key = "api"; return "node-a" },
		"version": func(r *SecretResponse) string { r.Version = 4; return "node-a" },
	} {
		r := resp
		node := mut(&r)
		if _, err := r.OpenSealed(rightPriv, node); !errors.Is(err, ErrSealedSecret) {
			t.Errorf("relabelled %s opened: %v", name, err)
		}
	}
}
