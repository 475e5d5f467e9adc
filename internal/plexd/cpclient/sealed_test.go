package cpclient

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

const testNSK = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"

// sealingPair is a fresh X25519 pair as Key32 strings.
func sealingPair(t *testing.T) (private, public string) {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k.Bytes()), base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
}

// answering returns a client whose control plane answers every call with
// resp as JSON, logging at debug into the returned buffer.
func answering(t *testing.T, resp any) (*Client, *bytes.Buffer, func() []seen) {
	t.Helper()
	raw, _ := json.Marshal(resp)
	c, reqs := recorder(t, 200, string(raw), map[string]string{nodeproto.HeaderPlexsphereProtocol: "2"})
	logs := &bytes.Buffer{}
	c.log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.SetCredentials("node-1", testNSK)
	return c, logs, reqs
}

// TestOpenSecretSealed: a sealed answer opens with the installed sealing
// key and is bound to the node id, key and version.
func TestOpenSecretSealed(t *testing.T) {
	priv, pub := sealingPair(t)
	resp, err := nodeproto.SealSecretToNode(pub, "node-1", "db", 4, []byte("pg-pass"))
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := answering(t, resp)
	if _, _, err := c.OpenSecret(context.Background(), "db"); !errors.Is(err, nodeproto.ErrSealedSecret) {
		t.Errorf("sealed answer without a sealing key: %v, want ErrSealedSecret", err)
	}
	if err := c.SetSealingKey(priv, true); err != nil {
		t.Fatal(err)
	}
	plain, version, err := c.OpenSecret(context.Background(), "db")
	if err != nil || string(plain) != "pg-pass" || version != 4 {
		t.Fatalf("OpenSecret = %q v%d %v", plain, version, err)
	}
	// Sealed for another node: the info binds the node id.
	other, _ := nodeproto.SealSecretToNode(pub, "node-2", "db", 4, []byte("pg-pass"))
	c2, _, _ := answering(t, other)
	c2.SetSealingKey(priv, true)
	if _, _, err := c2.OpenSecret(context.Background(), "db"); !errors.Is(err, nodeproto.ErrSealedSecret) {
		t.Errorf("a value sealed for another node opened: %v", err)
	}
}

// TestOpenSecretWrongSealingKey: sealed to another key (named by its kid,
// or claiming ours) is ErrSealedSecret, never a plaintext.
func TestOpenSecretWrongSealingKey(t *testing.T) {
	priv, pub := sealingPair(t)
	_, otherPub := sealingPair(t)
	foreign, _ := nodeproto.SealSecretToNode(otherPub, "node-1", "db", 1, []byte("x"))
	c, _, _ := answering(t, foreign)
	c.SetSealingKey(priv, true)
	_, _, err := c.OpenSecret(context.Background(), "db")
	if !errors.Is(err, nodeproto.ErrSealedSecret) || !strings.Contains(err.Error(), foreign.KID) {
		t.Errorf("foreign kid: %v, want ErrSealedSecret naming %s", err, foreign.KID)
	}
	ourKID, _ := nodeproto.SealingKID(pub)
	foreign.KID = ourKID // a lying kid still does not open
	c, _, _ = answering(t, foreign)
	c.SetSealingKey(priv, true)
	if _, _, err := c.OpenSecret(context.Background(), "db"); !errors.Is(err, nodeproto.ErrSealedSecret) {
		t.Errorf("foreign ciphertext under our kid: %v, want ErrSealedSecret", err)
	}
	if err := c.SetSealingKey("not-a-key", false); err == nil {
		t.Error("SetSealingKey accepted a malformed key")
	}
}

// TestLevelOneAnswerStillOpens: the control plane decides the form; a
// level-1 answer to a node with a registered sealing key opens under the
// NSK and leaves a debug note without the value.
func TestLevelOneAnswerStillOpens(t *testing.T) {
	priv, _ := sealingPair(t)
	resp, err := nodeproto.SealSecret(testNSK, "db", 2, []byte("plain-level-one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, logs, _ := answering(t, resp)
	c.SetSealingKey(priv, false)
	if got, _, err := c.OpenSecret(context.Background(), "db"); err != nil || string(got) != "plain-level-one" {
		t.Fatalf("level-1 answer before the key is registered: %q %v", got, err)
	}
	if logs.Len() != 0 {
		t.Errorf("a level-1 answer before registration was noted: %s", logs)
	}
	c.SetSealingKey(priv, true)
	if got, _, err := c.OpenSecret(context.Background(), "db"); err != nil || string(got) != "plain-level-one" {
		t.Fatalf("level-1 answer after registration: %q %v", got, err)
	}
	if !strings.Contains(logs.String(), `"level":"DEBUG"`) || !strings.Contains(logs.String(), "level 1") {
		t.Errorf("no debug note of a level-1 answer to a sealing node: %s", logs)
	}
	if strings.Contains(logs.String(), "plain-level-one") || strings.Contains(logs.String(), priv) {
		t.Error("the value or the sealing key was logged")
	}
}

// TestRegisterSealingKey: PUT …/sealing-key with the NSK and level 2; the
// answer must name our key; success marks the installed key acknowledged.
func TestRegisterSealingKey(t *testing.T) {
	priv, pub := sealingPair(t)
	kid, _ := nodeproto.SealingKID(pub)
	c, _, reqs := answering(t, nodeproto.SealingKeyResponse{KID: kid, PublicKey: pub})
	c.SetSealingKey(priv, false)
	ack, err := c.RegisterSealingKey(context.Background(), pub)
	if err != nil || ack.KID != kid {
		t.Fatalf("register: %+v %v", ack, err)
	}
	r := reqs()[0]
	var body nodeproto.SealingKeyRequest
	json.Unmarshal([]byte(r.body), &body)
	if r.method != "PUT" || r.path != "/api/v1/nodes/node-1/sealing-key" || body.PublicKey != pub ||
		r.header.Get("Authorization") != "Bearer "+testNSK || r.header.Get(nodeproto.HeaderPlexdProtocol) != "2" {
		t.Errorf("request %s %s %s %v", r.method, r.path, r.body, r.header)
	}
	if !c.sealing.Load().acknowledged.Load() {
		t.Error("a confirmed registration did not mark the key acknowledged")
	}
	_, otherPub := sealingPair(t)
	c, _, _ = answering(t, nodeproto.SealingKeyResponse{KID: kid, PublicKey: pub})
	if _, err := c.RegisterSealingKey(context.Background(), otherPub); err == nil {
		t.Error("an answer naming another key was accepted")
	}
	if _, err := c.RegisterSealingKey(context.Background(), "short"); err == nil {
		t.Error("a malformed key was sent")
	}
}
