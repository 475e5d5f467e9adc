package events_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func (c *client) installKeys(env *envelope.Envelope) error {
	var sk nodeproto.SigningKeys
	if err := json.Unmarshal(env.Payload, &sk); err != nil {
		return err
	}
	ks, err := envelope.KeySetFromWire(sk)
	if err != nil {
		return err
	}
	return c.ver.SetKeys(ks)
}

func peerRemoved(id string) nodeproto.PeerRemoved { return nodeproto.PeerRemoved{PeerID: id} }

// TestOfflineEventsWaitAndReplayOnce: events for an offline node wait in
// its log; a stream resuming with Last-Event-ID gets every later entry
// exactly once, in order, with a stable event_id and a fresh nonce and
// signature per emission; without Last-Event-ID it starts at the head.
func TestOfflineEventsWaitAndReplayOnce(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			for i := range 5 {
				p.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprintf("p%d", i)), "n1", "n2")
			}
			c := connect(t, p.hs.URL, "n1", "0", nil)
			first := c.expectSeqs(1, 2, 3, 4, 5)
			c.expectQuiet(100 * time.Millisecond)
			var pl nodeproto.PeerRemoved
			if err := json.Unmarshal(first[2].env.Payload, &pl); err != nil || pl.PeerID != "p2" {
				t.Fatalf("payload of id 3: %s (%v)", first[2].env.Payload, err)
			}
			c.close()

			p.emit(t, nodeproto.EventPeerRemoved, peerRemoved("p5"), "n1")
			p.emit(t, nodeproto.EventPeerRemoved, peerRemoved("p6"), "n1")
			c = connect(t, p.hs.URL, "n1", "3", nil)
			again := c.expectSeqs(4, 5, 6, 7)
			c.expectQuiet(100 * time.Millisecond)
			for i, g := range again[:2] {
				old := first[3+i].env
				if g.env.EventID != old.EventID {
					t.Errorf("id %s: event_id %s on replay, %s before", g.seq, g.env.EventID, old.EventID)
				}
				if g.env.Nonce == old.Nonce || g.env.Signature == old.Signature {
					t.Errorf("id %s: replay reused the nonce or signature", g.seq)
				}
			}
			p.emit(t, nodeproto.EventPolicyUpdated, nil, "n1")
			c.expectSeqs(8)
			c.close()

			// Node n2 resumes from its own log; a head start skips history.
			c2 := connect(t, p.hs.URL, "n2", "", nil)
			c2.expectQuiet(100 * time.Millisecond)
			p.emit(t, nodeproto.EventPolicyUpdated, nil, "n2")
			c2.expectSeqs(6)
		})
	}
}

// TestRollbackEmitsNothing: an event appended in a transaction that rolls
// back never reaches a stream, and its sequence number is reused by the
// next committed entry (the log has no gaps to skip).
func TestRollbackEmitsNothing(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			c := connect(t, p.hs.URL, "n1", "", nil)
			boom := errors.New("boom")
			err := p.db.Tx(context.Background(), func(tx *sql.Tx) error {
				if err := p.svc.Emit(context.Background(), tx, []string{"n1"}, nodeproto.EventPolicyUpdated, nil); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			c.expectQuiet(200 * time.Millisecond)
			p.emit(t, nodeproto.EventPeerRemoved, peerRemoved("x"), "n1")
			if g := c.next(); g.seq != "1" || g.env.EventType != nodeproto.EventPeerRemoved {
				t.Fatalf("got %s %s", g.seq, g.env.EventType)
			}
		})
	}
}

// TestRestartResumesExactlyOnce: the control plane stops mid-stream,
// events are committed while it is down, and the agent, reconnecting to
// the restarted plane with its Last-Event-ID, receives every missed event
// exactly once.
func TestRestartResumesExactlyOnce(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			d := newDatabase(t, b)
			p1 := startPlane(t, d, nil, nil)
			c := connect(t, p1.hs.URL, "n1", "", nil)
			seen := map[string]int{}
			last := ""
			for i := range 3 {
				p1.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint(i)), "n1")
				g := c.next()
				seen[g.seq]++
				last = g.seq
			}
			p1.emit(t, nodeproto.EventPeerRemoved, peerRemoved("a"), "n1")
			p1.stop()
			// Whatever the old stream delivered before it died counts.
		drain:
			for {
				select {
				case g := <-c.frames:
					seen[g.seq]++
					last = g.seq
				case <-c.errc:
					break drain
				case <-time.After(10 * time.Second):
					t.Fatal("stream did not end with the plane")
				}
			}
			p2 := startPlane(t, d, nil, nil)
			for i := range 3 {
				p2.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint("b", i)), "n1")
			}
			c = connect(t, p2.hs.URL, "n1", last, nil)
			for len(seen) < 7 {
				g := c.next()
				seen[g.seq]++
			}
			c.expectQuiet(100 * time.Millisecond)
			for i := 1; i <= 7; i++ {
				if n := seen[fmt.Sprint(i)]; n != 1 {
					t.Errorf("id %d delivered %d times", i, n)
				}
			}
		})
	}
}

// TestUnusableLastEventID: an id that does not parse, lies beyond the head
// or behind retention starts the stream at the live head and makes the
// node's next heartbeat ask for a reconcile, once (L5).
func TestUnusableLastEventID(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, func(c *events.Config) { c.MaxEntries = 3 })
			for i := range 10 {
				p.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint(i)), "n1")
			}
			if n, err := p.svc.Prune(context.Background()); err != nil || n != 7 {
				t.Fatalf("prune: %d, %v", n, err)
			}
			ctx := context.Background()
			for _, id := range []string{"abc", "-1", "+3", "1.5", " 3", "0x3", "11", "99999999999999999999", "2", "6"} {
				c := connect(t, p.hs.URL, "n1", id, nil)
				c.expectQuiet(50 * time.Millisecond)
				c.close()
				if rec, err := p.svc.ConsumeReconcile(ctx, "n1"); err != nil || !rec {
					t.Errorf("Last-Event-ID %q: reconcile %v, %v", id, rec, err)
				}
				if rec, _ := p.svc.ConsumeReconcile(ctx, "n1"); rec {
					t.Errorf("Last-Event-ID %q: reconcile flag not cleared", id)
				}
			}
			// 7 is the newest pruned id: everything after it is kept.
			c := connect(t, p.hs.URL, "n1", "7", nil)
			c.expectSeqs(8, 9, 10)
			c.close()
			if rec, _ := p.svc.ConsumeReconcile(ctx, "n1"); rec {
				t.Error("a valid resume point flagged a reconcile")
			}
			c = connect(t, p.hs.URL, "n1", "10", nil)
			c.expectQuiet(50 * time.Millisecond)
			if rec, _ := p.svc.ConsumeReconcile(ctx, "n1"); rec {
				t.Error("resuming at the head flagged a reconcile")
			}
		})
	}
}

// TestCrossReplicaDelivery: an agent connected to replica B receives an
// event committed on replica A (PostgreSQL LISTEN/NOTIFY), promptly.
func TestCrossReplicaDelivery(t *testing.T) {
	if len(backends(t)) < 2 {
		t.Skip(postgresEnv + " not set")
	}
	d := newDatabase(t, postgresDB)
	a := startPlane(t, d, nil, nil)
	b := startPlane(t, d, nil, nil)
	c := connect(t, b.hs.URL, "n1", "", nil)
	for i := 1; i <= 3; i++ {
		start := time.Now()
		a.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint(i)), "n1", "n2")
		c.expectSeqs(i)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cross-replica delivery took %s", d)
		}
	}
}

// TestOneStreamPerNode: a newer stream of a node ends the older one (§6.1).
func TestOneStreamPerNode(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	old := connect(t, p.hs.URL, "n1", "", nil)
	cur := connect(t, p.hs.URL, "n1", "", nil)
	old.waitEnd()
	p.emit(t, nodeproto.EventPolicyUpdated, nil, "n1")
	cur.expectSeqs(1)
}

// TestStreamRefusals: another node's credential is 403 node_id_mismatch,
// and a plane that is not ready answers 503 event_stream_unavailable with
// Retry-After, never 401/403/404 (R5, C5).
func TestStreamRefusals(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	if _, st := tryConnect(t, p.hs.URL, "n1", "node:n2", "", nil); st != http.StatusForbidden {
		t.Errorf("foreign NSK: status %d, want 403", st)
	}
	p.svc.Close()
	req, _ := http.NewRequest(http.MethodGet, p.hs.URL+"/v1/nodes/n1/events", nil)
	req.Header.Set("Authorization", "Bearer node:n1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusServiceUnavailable || body.Code != "event_stream_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("closed plane: %d %q Retry-After %q", resp.StatusCode, body.Code, resp.Header.Get("Retry-After"))
	}
}

// TestStreamHeaders: the response is 200 text/event-stream, uncompressed,
// no-cache, with the API version header and the negotiated level, and
// starts with a comment at once (§6.1).
func TestStreamHeaders(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	req, _ := http.NewRequest(http.MethodGet, p.hs.URL+"/v1/nodes/n1/events", nil)
	req.Header.Set("Authorization", "Bearer node:n1")
	req.Header.Set("X-Plexd-Protocol", "7")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := resp.Header
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
		"X-Plexsphere-API-Version": "v1", "X-Plexsphere-Protocol": fmt.Sprint(nodeproto.MaxLevel), "Content-Encoding": "",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Errorf("protocol %s", resp.Proto)
	}
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), ":") {
		t.Errorf("first bytes %q, want a comment", buf[:n])
	}
}

// TestEmitRefusesOversizeAndNonObjects: an envelope that would break the
// 65,000-byte line limit, or a payload that is not an object, is never
// appended (F2, E1).
func TestEmitRefusesOversizeAndNonObjects(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	big := map[string]string{"x": strings.Repeat("a", envelope.MaxLineBytes)}
	for name, payload := range map[string]any{"oversize": big, "array": []int{1}, "string": "s"} {
		err := p.db.Tx(context.Background(), func(tx *sql.Tx) error {
			return p.svc.Emit(context.Background(), tx, []string{"n1"}, nodeproto.EventNodeStateUpdated, payload)
		})
		if err == nil {
			t.Errorf("%s payload accepted", name)
		}
		if name == "oversize" && !errors.Is(err, envelope.ErrTooLarge) {
			t.Errorf("oversize: %v", err)
		}
	}
	c := connect(t, p.hs.URL, "n1", "0", nil)
	c.expectQuiet(50 * time.Millisecond)
}

// TestVoidEntriesAreSkipped: an entry past its void time, or voided, is not
// emitted on replay (L7).
func TestVoidEntriesAreSkipped(t *testing.T) {
	p := startPlane(t, newDatabase(t, sqliteDB), nil, nil)
	ctx := context.Background()
	var voidID string
	err := p.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := p.svc.Append(ctx, tx, []string{"n1"}, events.Entry{Type: nodeproto.EventSessionRevoked,
			Payload: nodeproto.SessionRevoked{SessionID: "s1"}, VoidAfter: time.Now().Add(-time.Second)}); err != nil {
			return err
		}
		var err error
		voidID, err = p.svc.Append(ctx, tx, []string{"n1"}, events.Entry{Type: nodeproto.EventRotateKeys})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Void(ctx, p.db, "n1", voidID); err != nil {
		t.Fatal(err)
	}
	p.emit(t, nodeproto.EventPolicyUpdated, nil, "n1")
	c := connect(t, p.hs.URL, "n1", "0", nil)
	if g := c.next(); g.seq != "3" {
		t.Fatalf("first emitted id %s, want 3", g.seq)
	}
}

// TestRetentionByAge: entries older than MaxAge are pruned; a resume point
// behind them resyncs, one at the newest pruned id replays the rest.
func TestRetentionByAge(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			clk := &clock{t: time.Now()}
			p := startPlane(t, newDatabase(t, b), nil, func(c *events.Config) { c.Now = clk.now; c.MaxAge = 24 * time.Hour })
			for i := range 3 {
				p.emit(t, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint(i)), "n1")
			}
			clk.add(25 * time.Hour)
			p.emit(t, nodeproto.EventPolicyUpdated, nil, "n1")
			p.emit(t, nodeproto.EventPolicyUpdated, nil, "n1")
			if n, err := p.svc.Prune(context.Background()); err != nil || n != 3 {
				t.Fatalf("prune: %d, %v", n, err)
			}
			clk.add(-25 * time.Hour) // verifiers judge freshness by the real clock
			c := connect(t, p.hs.URL, "n1", "2", nil)
			c.expectQuiet(50 * time.Millisecond)
			c.close()
			if rec, _ := p.svc.ConsumeReconcile(context.Background(), "n1"); !rec {
				t.Error("a resume point behind retention did not flag a reconcile")
			}
			c = connect(t, p.hs.URL, "n1", "3", nil)
			c.expectSeqs(4, 5)
		})
	}
}

// TestReconnectChurnDeliversEachIDOnce: while events are committed
// continuously, the agent drops its stream after every few events and
// reconnects with Last-Event-ID (the existing agent does so every 30 s);
// every id arrives exactly once, in order.
func TestReconnectChurnDeliversEachIDOnce(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			const total = 60
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range total {
					if err := p.db.Tx(context.Background(), func(tx *sql.Tx) error {
						return p.svc.Emit(context.Background(), tx, []string{"n1"}, nodeproto.EventPeerRemoved, peerRemoved(fmt.Sprint(i)))
					}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			last, next := "0", 1
			for next <= total {
				c := connect(t, p.hs.URL, "n1", last, nil)
				for range 4 {
					if next > total {
						break
					}
					g := c.next()
					if g.seq != fmt.Sprint(next) {
						t.Fatalf("got id %s, want %d (resumed after %s)", g.seq, next, last)
					}
					last = g.seq
					next++
				}
				c.close()
			}
			<-done
		})
	}
}
