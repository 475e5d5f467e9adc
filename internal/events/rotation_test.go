package events_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// rotatingKeys is a signing context with one Domain whose key rotates:
// the previous key stays valid until the transition deadline (K5).
type rotatingKeys struct {
	// mu guards the fields below.
	mu      sync.Mutex
	keys    map[string]*envelope.LocalKey
	cur     string
	prev    string
	expires time.Time
}

func newRotatingKeys(t testing.TB) *rotatingKeys {
	r := &rotatingKeys{keys: map[string]*envelope.LocalKey{}, cur: "kA"}
	r.keys["kA"] = newLocalKey(t, testKey)
	return r
}

func newLocalKey(t testing.TB, priv ed25519.PrivateKey) *envelope.LocalKey {
	k, err := envelope.NewLocalKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (r *rotatingKeys) CurrentKeyID(context.Context, store.Querier, string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, nil
}

func (r *rotatingKeys) EmissionKey(_ context.Context, _, id string) (envelope.KeySigner, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == r.cur || (id == r.prev && time.Now().Before(r.expires)) {
		return r.keys[id], nil
	}
	return r.keys[r.cur], nil
}

// rotate makes a new key current and returns the rotation payload.
func (r *rotatingKeys) rotate(t testing.TB, id string) (old string, sk nodeproto.SigningKeys) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[id] = newLocalKey(t, priv)
	old, r.prev, r.cur = r.cur, r.cur, id
	r.expires = time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	exp := r.expires
	return old, nodeproto.SigningKeys{
		Current:           base64.StdEncoding.EncodeToString(r.keys[id].Public()),
		Previous:          base64.StdEncoding.EncodeToString(r.keys[old].Public()),
		TransitionExpires: exp,
	}
}

// TestRotationDuringLiveStreamsLosesNothing: a signing-key rotation
// committed while streams are open and events keep flowing loses no event:
// signing_key_rotated is signed with the outgoing key (K4), later entries
// with the new one, and a replay across the rotation verifies step by step
// (K5) for an agent that trusted only the old key.
func TestRotationDuringLiveStreamsLosesNothing(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			keys := newRotatingKeys(t)
			p := startPlane(t, newDatabase(t, b), keys, nil)
			live := connect(t, p.hs.URL, "n1", "", nil)
			const n = 40
			for i := range n {
				if i == n/2 {
					old, sk := keys.rotate(t, "kB")
					err := p.db.Tx(context.Background(), func(tx *sql.Tx) error {
						_, err := p.svc.Append(context.Background(), tx, []string{"n1", "n2"},
							events.Entry{Type: nodeproto.EventSigningKeyRotated, Payload: sk, KeyID: old})
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				p.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint(i)), "n1", "n2")
			}
			seqs := make([]int, n+1)
			for i := range seqs {
				seqs[i] = i + 1
			}
			got := live.expectSeqs(seqs...)
			if got[n/2].env.EventType != nodeproto.EventSigningKeyRotated {
				t.Fatalf("id %d is %s", n/2+1, got[n/2].env.EventType)
			}
			// n2 was offline throughout and replays everything.
			replay := connect(t, p.hs.URL, "n2", "0", nil)
			replay.expectSeqs(seqs...)
			replay.expectQuiet(50 * time.Millisecond)
		})
	}
}
