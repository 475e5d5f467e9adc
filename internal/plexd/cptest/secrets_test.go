package cptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
)

// node is a registered node as the tests hold it.
type node struct {
	id, nsk, wgPublic string
	l2, l1            *cpclient.Client // announcing level 2 and level 1
}

// put sends a raw PUT …/sealing-key (around the client's own checks).
func (n node) put(t *testing.T, cp *cptest.Server, level string, body any) *http.Response {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("PUT", cp.URL+"/v1/nodes/"+n.id+"/sealing-key", bytes.NewReader(raw))
	req.Header.Set(nodeproto.HeaderPlexdProtocol, level)
	req.Header.Set(nodeproto.HeaderAuthorization, "Bearer "+n.nsk)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// joined registers a node with a level-2 and a level-1 client.
func joined(t *testing.T, cp *cptest.Server) node {
	t.Helper()
	cp.AddToken("psb_sec", 1)
	kp, _ := identity.NewKeyPair(nil)
	l2, _ := cpclient.New(cpclient.Options{Server: cp.URL})
	resp, err := l2.Register(context.Background(), "psb_sec", nodeproto.RegisterRequest{PublicKey: kp.Public, Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	nsk, err := resp.OpenNSK(kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := cpclient.New(cpclient.Options{Server: cp.URL, Level: 1})
	l2.SetCredentials(resp.NodeID, nsk)
	l1.SetCredentials(resp.NodeID, nsk)
	return node{id: resp.NodeID, nsk: nsk, wgPublic: kp.Public, l2: l2, l1: l1}
}

// drain empties the observation channels.
func drain(cp *cptest.Server) {
	for {
		select {
		case <-cp.SecretFetches:
		case <-cp.SealingKeys:
		default:
			return
		}
	}
}

// TestSealingKeyAndSealedDelivery pins the stand-in to the real control
// plane's level-2 semantics (docs/design/0007-secrets.md).
func TestSealingKeyAndSealedDelivery(t *testing.T) {
	cp := cptest.New(t, cptest.Options{})
	ctx := context.Background()
	n := joined(t, cp)
	node, l2, l1 := n.id, n.l2, n.l1
	cp.SetSecret("db", "pg-pass-1")
	cp.SetSecret("db", "pg-pass-2") // a new value is version 2

	// No sealing key yet: level 1 under the NSK, at either level.
	if got, v, err := l2.OpenSecret(ctx, "db"); err != nil || string(got) != "pg-pass-2" || v != 2 {
		t.Fatalf("before a sealing key: %q v%d %v", got, v, err)
	}
	if f := <-cp.SecretFetches; f.Sealed || f.Level != 2 || f.Status != 200 {
		t.Errorf("fetch %+v: want level 2, not sealed", f)
	}
	sk, _ := identity.NewSealingKey(nil)
	for name, c := range map[string]struct {
		level string
		body  any
	}{
		"level 1":           {"1", nodeproto.SealingKeyRequest{PublicKey: sk.PublicKey}},
		"no level":          {"", nodeproto.SealingKeyRequest{PublicKey: sk.PublicKey}},
		"the WireGuard key": {"2", nodeproto.SealingKeyRequest{PublicKey: n.wgPublic}},
		"not a key":         {"2", nodeproto.SealingKeyRequest{PublicKey: "c2hvcnQ="}},
		"not JSON":          {"2", "x"},
	} {
		if resp := n.put(t, cp, c.level, c.body); resp.StatusCode != http.StatusBadRequest ||
			resp.Header.Get("Content-Type") != nodeproto.ContentTypeProblemJSON {
			t.Errorf("%s: %d %s, want 400 problem+json", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if cp.SealingKey(node) != "" {
		t.Fatal("a refused sealing key was kept")
	}
	ack, err := l2.RegisterSealingKey(ctx, sk.PublicKey)
	if err != nil || ack.KID != sk.KID || cp.SealingKey(node) != sk.PublicKey {
		t.Fatalf("register: %+v %v", ack, err)
	}
	drain(cp)

	// Sealed at level 2, the level-1 members empty.
	resp, err := l2.Secret(ctx, "db")
	if err != nil || resp.Sealed == "" || resp.KID != sk.KID || resp.Ciphertext != "" || resp.Nonce != "" {
		t.Fatalf("sealed answer %+v %v", resp, err)
	}
	if got, err := resp.OpenSealed(sk.PrivateKey, node); err != nil || string(got) != "pg-pass-2" {
		t.Errorf("open sealed: %q %v", got, err)
	}
	if f := <-cp.SecretFetches; !f.Sealed || f.Status != 200 {
		t.Errorf("fetch %+v: want sealed", f)
	}
	// A level-1 fetch of a node with a sealing key is a refused downgrade.
	_, err = l1.Secret(ctx, "db")
	var se *cpclient.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden || se.Code != nodeproto.CodeProtocolDowngradeRefused {
		t.Errorf("level-1 fetch: %v, want 403 %s", err, nodeproto.CodeProtocolDowngradeRefused)
	}
	var p nodeproto.Problem
	if json.Unmarshal([]byte(se.Body), &p) != nil || p.Status != http.StatusForbidden {
		t.Errorf("the refusal is not a problem document: %s", se.Body)
	}
	if _, err := l2.Secret(ctx, "nope"); !cpclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("unknown secret: %v", err)
	}
}

// TestOlderControlPlaneHasNoSealingKeyRoute: below level 2 the route is
// unknown (404), and delivery stays level 1.
func TestOlderControlPlaneHasNoSealingKeyRoute(t *testing.T) {
	cp := cptest.New(t, cptest.Options{MaxLevel: 1})
	n := joined(t, cp)
	node := n.id
	sk, _ := identity.NewSealingKey(nil)
	if _, err := n.l2.RegisterSealingKey(context.Background(), sk.PublicKey); !cpclient.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("PUT at a level-1 control plane: %v, want 404", err)
	}
	if put := <-cp.SealingKeys; put.Status != 404 || put.Level != 1 || put.NodeID != node {
		t.Errorf("recorded %+v", put)
	}
	if cp.SealingKey(node) != "" {
		t.Error("a level-1 control plane kept a sealing key")
	}
}
