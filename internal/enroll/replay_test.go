package enroll_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// nodeCall asks for the node's state with an NSK and returns the status.
func (e *env) nodeCall(t *testing.T, nodeID, nsk string) int {
	t.Helper()
	resp, _ := e.raw(t, "GET", "/v1/nodes/"+nodeID+"/state", map[string]string{"Authorization": "Bearer " + nsk}, nil)
	return resp.StatusCode
}

// Issue 7 row 2: a registration replay (same bootstrap token, same public
// key, within the window) must never hand an existing node's NSK to
// someone else. Before the node used its NSK a replay answers a fresh NSK
// and the unused one stops authenticating; once the node used its NSK the
// replay is 409 public_key_conflict and carries no NSK. On both databases.
func TestRegistrationReplay(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "replay", "100.80.0.0/16", "")
			// A reusable token, as an operator shares it among many hosts:
			// the replay is the only way to get an NSK with a known key.
			tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).Token
			key := newKey()

			resp, raw := e.registerAgent(t, tok, key, "victim")
			first := decodeRegistered(t, raw)
			if resp.StatusCode != 200 || !nodeproto.ValidNSK(first.NodeSecretKey) {
				t.Fatalf("register: %d %s", resp.StatusCode, raw)
			}

			// Before any use (the response was lost): a fresh NSK for the
			// same node, and the unused one no longer authenticates.
			resp, raw = e.registerAgent(t, tok, key, "victim")
			again := decodeRegistered(t, raw)
			if resp.StatusCode != 200 || again.NodeID != first.NodeID || again.MeshIP != first.MeshIP ||
				!nodeproto.ValidNSK(again.NodeSecretKey) || again.NodeSecretKey == first.NodeSecretKey {
				t.Fatalf("replay before use: %d %s", resp.StatusCode, raw)
			}
			if st := e.nodeCall(t, first.NodeID, first.NodeSecretKey); st != 401 {
				t.Fatalf("the replaced NSK still authenticates: %d", st)
			}

			// The node uses its NSK; a later replay is a conflict without
			// any NSK, and the node's NSK keeps working.
			if st := e.nodeCall(t, again.NodeID, again.NodeSecretKey); st != 200 {
				t.Fatalf("the reissued NSK does not authenticate: %d", st)
			}
			resp, raw = e.registerAgent(t, tok, key, "attacker")
			wantProblem(t, resp.StatusCode, raw, 409, nodeproto.CodePublicKeyConflict)
			if strings.Contains(string(raw), again.NodeSecretKey) || strings.Contains(string(raw), "node_secret_key") ||
				strings.Contains(string(raw), again.NodeID) {
				t.Fatalf("the refused replay leaks the node: %s", raw)
			}
			if st := e.nodeCall(t, again.NodeID, again.NodeSecretKey); st != 200 {
				t.Fatalf("a refused replay broke the node's NSK: %d", st)
			}
			if strings.Contains(e.logs.String(), again.NodeSecretKey) || strings.Contains(e.logs.String(), first.NodeSecretKey) {
				t.Fatal("an NSK was logged")
			}
		})
	}
}

// Issue 7 row 2: a replay racing the node's first authenticated call never
// leaves both NSKs working: either the replay wins (the old NSK is refused)
// or the call wins (the replay is 409). On both databases.
func TestRegistrationReplayRacesFirstUse(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "race", "100.81.0.0/16", "")
			tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 20}).Token
			for range 5 {
				key := newKey()
				_, raw := e.registerAgent(t, tok, key, "n")
				first := decodeRegistered(t, raw)
				var (
					wg       sync.WaitGroup
					callSt   int
					replaySt int
					replayed registered
				)
				wg.Add(2)
				go func() { defer wg.Done(); callSt = e.nodeCall(t, first.NodeID, first.NodeSecretKey) }()
				go func() {
					defer wg.Done()
					resp, raw := e.registerAgent(t, tok, key, "n")
					replaySt = resp.StatusCode
					if replaySt == 200 {
						replayed = decodeRegistered(t, raw)
					}
				}()
				wg.Wait()
				// Either the replay won (the old NSK is refused, the new one
				// works) or the call won (the replay is refused); never both.
				switch {
				case replaySt == 200 && callSt == 401:
					if st := e.nodeCall(t, replayed.NodeID, replayed.NodeSecretKey); st != 200 {
						t.Fatalf("new NSK: %d", st)
					}
				case replaySt == 409 && callSt == 200:
				default:
					t.Fatalf("call %d, replay %d", callSt, replaySt)
				}
			}
		})
	}
}

// x25519 returns a WireGuard key pair (private, public) as Key32 strings.
func x25519(t *testing.T) (string, string) {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(priv.Bytes()), base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())
}

// Issue 7 row 2, level 2 (ours): a node that registered at level 2 gets
// its NSK also sealed to its WireGuard key; its replay is answered only to
// a level-2 request and only sealed, so a token holder who knows the public
// key but not the private key learns nothing. On both databases.
func TestRegistrationReplayLevel2Sealed(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "sealed", "100.82.0.0/16", "")
			tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).Token
			priv, pub := x25519(t)
			register := func(level string) (int, nodeproto.RegisterResponse, []byte) {
				h := agentHeaders(tok)
				if level != "" {
					h["X-Plexd-Protocol"] = level
				}
				resp, raw := e.raw(t, "POST", "/v1/register", h,
					[]byte(`{"token":`+quote(tok)+`,"public_key":"`+pub+`","hostname":"n"}`))
				var r nodeproto.RegisterResponse
				json.Unmarshal(raw, &r)
				return resp.StatusCode, r, raw
			}
			st, first, raw := register("2")
			if st != 200 || first.NodeSecretKeySealed == "" {
				t.Fatalf("level-2 register: %d %s", st, raw)
			}
			if nsk, err := first.OpenNSK(priv); err != nil || nsk != first.NodeSecretKey {
				t.Fatalf("sealed NSK: %q %v", nsk, err)
			}
			other, _ := x25519(t)
			if _, err := nodeproto.OpenNSK(other, first.NodeID, first.NodeSecretKeySealed); err == nil {
				t.Fatal("the sealed NSK opens with another key")
			}

			// A level-1 replay of a level-2 node is refused without an NSK.
			st, _, raw = register("")
			wantProblem(t, st, raw, 409, nodeproto.CodePublicKeyConflict)
			// A level-2 replay carries the fresh NSK only sealed.
			st, again, raw := register("2")
			if st != 200 || again.NodeID != first.NodeID || again.NodeSecretKey != "" || again.NSK != "" ||
				again.NodeSecretKeySealed == "" {
				t.Fatalf("level-2 replay: %d %s", st, raw)
			}
			if err := again.Validate(); err != nil {
				t.Fatalf("a sealed-only answer is not valid: %v", err)
			}
			nsk, err := again.OpenNSK(priv)
			if err != nil || nsk == first.NodeSecretKey {
				t.Fatalf("open the replayed NSK: %v", err)
			}
			if st := e.nodeCall(t, first.NodeID, first.NodeSecretKey); st != 401 {
				t.Fatalf("the replaced NSK still authenticates: %d", st)
			}
			if st := e.nodeCall(t, again.NodeID, nsk); st != 200 {
				t.Fatalf("the sealed NSK does not authenticate: %d", st)
			}
			st, _, raw = register("2")
			wantProblem(t, st, raw, 409, nodeproto.CodePublicKeyConflict)
		})
	}
}
