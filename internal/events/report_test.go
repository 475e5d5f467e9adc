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

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/store"
)

// reportBody renders a report of n entries named prefix0…, each with a
// JSON string payload of size bytes.
func reportBody(prefix string, n, size int) []byte {
	var b strings.Builder
	b.WriteString(`{"entries":[`)
	payload := `"` + strings.Repeat("x", max(size-2, 0)) + `"`
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"%s%d","content_type":"text/plain","payload":%s,"version":1,"updated_at":"2026-01-01T00:00:00Z"}`,
			prefix, i, payload)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// problemCode is the code member of a problem body.
func problemCode(raw []byte) string {
	var p struct{ Code string }
	json.Unmarshal(raw, &p)
	return p.Code
}

// reportUsage is a node's stored report rows and payload bytes.
func reportUsage(t *testing.T, db *store.DB, node string) (rows int, payload int64) {
	t.Helper()
	if err := db.QueryRow(`SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(payload)), 0) AS BIGINT) FROM node_reports
		WHERE node_id = $1`, node).Scan(&rows, &payload); err != nil {
		t.Fatal(err)
	}
	return rows, payload
}

// TestReportBounds: Issue 7 row 12: a report beyond the documented
// per-report bounds is refused whole with 413 report_too_large; many
// reports never take a node's stored entries beyond the per-node quota
// (422 report_quota_exceeded), while overwrites and deletions within it
// still succeed. On both databases, with the default limits.
func TestReportBounds(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			p.addNode(t, "n1", "d1", "10.0.0.1", "{}", false)
			post := func(body []byte) (int, string) {
				t.Helper()
				resp, raw := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/report", body, true)
				return resp.StatusCode, problemCode(raw)
			}
			if st, code := post(reportBody("big", 1, events.DefaultReportEntryBytes+1)); st != http.StatusRequestEntityTooLarge || code != events.CodeReportTooLarge {
				t.Errorf("entry over %d bytes: %d %s", events.DefaultReportEntryBytes, st, code)
			}
			if st, code := post(reportBody("many", events.DefaultReportEntries+1, 2)); st != http.StatusRequestEntityTooLarge || code != events.CodeReportTooLarge {
				t.Errorf("%d entries: %d %s", events.DefaultReportEntries+1, st, code)
			}
			if n, _ := reportUsage(t, p.db, "n1"); n != 0 {
				t.Fatalf("refused reports stored %d rows", n)
			}

			// 40 reports of 2 × 256 KiB under new keys: 20 MiB offered.
			refused := 0
			for i := range 40 {
				switch st, code := post(reportBody(fmt.Sprintf("r%d-", i), 2, 256<<10)); {
				case st == http.StatusNoContent:
				case st == http.StatusUnprocessableEntity && code == events.CodeReportQuotaExceeded:
					refused++
				default:
					t.Fatalf("report %d: %d %s", i, st, code)
				}
			}
			rows, bytes := reportUsage(t, p.db, "n1")
			if refused == 0 || bytes > events.DefaultReportBytes || rows == 0 {
				t.Fatalf("after 20 MiB offered: %d rows, %d payload bytes, %d refused; quota %d", rows, bytes, refused, events.DefaultReportBytes)
			}
			// Last writer wins within the quota; deleting makes room.
			if st, code := post(reportBody("r0-", 2, 256<<10)); st != http.StatusNoContent {
				t.Errorf("overwrite within the quota: %d %s", st, code)
			}
			resp, raw := p.call(t, "n1", http.MethodPost, "/v1/nodes/n1/report", []byte(`{"deleted":["r0-0","r0-1"]}`), false)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete: %d %s", resp.StatusCode, raw)
			}
			if st, code := post(reportBody("again-", 2, 256<<10)); st != http.StatusNoContent {
				t.Errorf("after deleting: %d %s", st, code)
			}

			// The number of keys is bounded too.
			p.db.Exec(`DELETE FROM node_reports WHERE node_id = 'n1'`)
			if st, code := post(reportBody("k", events.DefaultReportKeys, 2)); st != http.StatusNoContent {
				t.Fatalf("%d keys: %d %s", events.DefaultReportKeys, st, code)
			}
			if st, code := post(reportBody("extra", 1, 2)); st != http.StatusUnprocessableEntity || code != events.CodeReportQuotaExceeded {
				t.Errorf("key %d: %d %s", events.DefaultReportKeys+1, st, code)
			}
			if n, _ := reportUsage(t, p.db, "n1"); n != events.DefaultReportKeys {
				t.Errorf("%d keys stored, quota %d", n, events.DefaultReportKeys)
			}
		})
	}
}

// nodeToken sets up a Domain and Project on e and issues a node bootstrap
// token for it.
func nodeToken(t *testing.T, e *apptest.Env) string {
	t.Helper()
	fx := e.NewEnrolment(t, "d", "10.100.0.0/16", 10)
	tok := fx.Token
	return tok.Token
}

// storedFor counts what the event plane keeps for node.
func storedFor(t *testing.T, db *store.DB, node string) (reports, agents int) {
	t.Helper()
	db.QueryRow(`SELECT COUNT(*) FROM node_reports WHERE node_id = $1`, node).Scan(&reports)
	db.QueryRow(`SELECT COUNT(*) FROM node_agents WHERE node_id = $1`, node).Scan(&agents)
	return reports, agents
}

// TestNodeRemovalForgetsReports: Issue 7 row 12: a node's reports (and
// heartbeat record) are deleted with the node, by operator delete and by
// deregistration, on the real control plane and both databases.
func TestNodeRemovalForgetsReports(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, apptest.Backend(b))
			tok := nodeToken(t, e)
			for _, how := range []string{"delete", "deregister"} {
				n := register(t, e, tok)
				if resp, raw := agentCall(t, e.URL, n.NodeSecretKey, "POST", "/v1/nodes/"+n.NodeID+"/report",
					reportBody("k", 3, 100), true); resp.StatusCode != http.StatusNoContent {
					t.Fatalf("report: %d %s", resp.StatusCode, raw)
				}
				if resp, raw := agentCall(t, e.URL, n.NodeSecretKey, "POST", "/v1/nodes/"+n.NodeID+"/heartbeat", []byte("{}"), false); resp.StatusCode != 200 {
					t.Fatalf("heartbeat: %d %s", resp.StatusCode, raw)
				}
				if r, a := storedFor(t, e.Server.DB, n.NodeID); r != 3 || a != 1 {
					t.Fatalf("before %s: %d reports, %d agent rows", how, r, a)
				}
				removeNode(t, e, n, how)
				if r, a := storedFor(t, e.Server.DB, n.NodeID); r != 0 || a != 0 {
					t.Errorf("after %s: %d reports, %d agent rows remain", how, r, a)
				}
			}
		})
	}
}

// removeNode removes n by operator delete or by its own deregistration.
func removeNode(t *testing.T, e *apptest.Env, n agentNode, how string) {
	t.Helper()
	if how == "delete" {
		if st, raw := e.Do(t, "DELETE", "/v1/nodes/"+n.NodeID, nil, nil); st != http.StatusNoContent {
			t.Fatalf("delete: %d %s", st, raw)
		}
		return
	}
	if resp, raw := agentCall(t, e.URL, n.NodeSecretKey, "POST", "/v1/nodes/"+n.NodeID+"/deregister", nil, false); resp.StatusCode/100 != 2 {
		t.Fatalf("deregister: %d %s", resp.StatusCode, raw)
	}
}

// endsWithin fails unless the server ends c's stream within d, with no
// event before.
func (c *client) endsWithin(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.errc:
	case g := <-c.frames:
		c.t.Fatalf("unexpected event id %s (%s)", g.seq, g.env.EventType)
	case <-time.After(d):
		c.t.Fatalf("stream still open %s after the node's removal", d)
	}
}

// TestStreamEndsWhenNodeRemoved: Issue 7 row 18: removing a node (operator
// delete or deregistration) ends its open event stream at once, far
// within the 15 s keepalive, on both databases; on PostgreSQL also a
// stream served by another replica. A peer's stream stays open.
func TestStreamEndsWhenNodeRemoved(t *testing.T) {
	const prompt = 3 * time.Second
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, apptest.Backend(b))
			tok := nodeToken(t, e)
			peer := register(t, e, tok)
			pc, st := tryConnect(t, e.URL, peer.NodeID, peer.NodeSecretKey, "", keySetOf(t, peer.SigningPublicKey))
			if st != http.StatusOK {
				t.Fatalf("peer stream: %d", st)
			}
			served := []*apptest.Env{e}
			if b == postgresDB {
				served = append(served, e.Replica(t))
			}
			for _, srv := range served {
				for _, how := range []string{"delete", "deregister"} {
					n := register(t, e, tok)
					if g := pc.next(); g.env.EventType != "peer_added" {
						t.Fatalf("peer got %s", g.env.EventType)
					}
					c, st := tryConnect(t, srv.URL, n.NodeID, n.NodeSecretKey, "", keySetOf(t, n.SigningPublicKey))
					if st != http.StatusOK {
						t.Fatalf("stream: %d", st)
					}
					began := time.Now()
					removeNode(t, e, n, how)
					c.endsWithin(prompt)
					t.Logf("%s on %s: stream ended %s after the removal", how, srv.URL, time.Since(began).Round(time.Millisecond))
					if g := pc.next(); g.env.EventType != "peer_removed" {
						t.Fatalf("peer got %s", g.env.EventType)
					}
				}
			}
			pc.expectQuiet(100 * time.Millisecond)
		})
	}
}

// TestRemovedNodeRefused: Issue 7 rows 12 and 18: a request authenticated
// just before its node's removal committed finds the node removed: a
// stream is refused (no stream outlives the removal) and a report stores
// nothing (no report outlives the node); both 401 nsk_revoked.
func TestRemovedNodeRefused(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			p.addNode(t, "n9", "d1", "10.0.0.9", "{}", true)
			if _, st := tryConnect(t, p.hs.URL, "n9", "node:n9", "", nil); st != http.StatusUnauthorized {
				t.Errorf("stream of a removed node: %d", st)
			}
			if n := p.svc.Streams(); n != 0 {
				t.Errorf("%d streams open", n)
			}
			resp, raw := p.call(t, "n9", http.MethodPost, "/v1/nodes/n9/report", reportBody("k", 1, 10), false)
			if resp.StatusCode != http.StatusUnauthorized || problemCode(raw) != "nsk_revoked" {
				t.Errorf("report of a removed node: %d %s", resp.StatusCode, raw)
			}
			if n, _ := reportUsage(t, p.db, "n9"); n != 0 {
				t.Errorf("%d reports stored for a removed node", n)
			}
		})
	}
}

// TestRolledBackRemovalKeepsStream: Issue 7 row 18: only a committed
// removal ends a stream; one that rolls back leaves it serving.
func TestRolledBackRemovalKeepsStream(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(string(b), func(t *testing.T) {
			p := startPlane(t, newDatabase(t, b), nil, nil)
			p.addNode(t, "n1", "d1", "10.0.0.1", "{}", false)
			c := connect(t, p.hs.URL, "n1", "", nil)
			boom := errors.New("boom")
			err := p.db.Tx(context.Background(), func(tx *sql.Tx) error {
				if _, err := tx.Exec(`UPDATE nodes SET revoked_at = 2 WHERE id = 'n1'`); err != nil {
					return err
				}
				if err := p.svc.ForgetNode(context.Background(), tx, "n1"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			c.expectQuiet(300 * time.Millisecond)
			p.emit(t, "peer_removed", map[string]string{"peer_id": "x"}, "n1")
			if g := c.next(); g.env.EventType != "peer_removed" {
				t.Fatalf("got %s", g.env.EventType)
			}
		})
	}
}

// TestMissedRemovalNoticeEndsStream: Issue 7 row 18: on PostgreSQL a
// removal whose notice the replica missed (its LISTEN connection was
// down) still ends the stream when the listener reconnects.
func TestMissedRemovalNoticeEndsStream(t *testing.T) {
	for _, b := range backends(t) {
		if b != postgresDB {
			continue
		}
		p := startPlane(t, newDatabase(t, b), nil, nil)
		p.addNode(t, "n1", "d1", "10.0.0.1", "{}", false)
		c := connect(t, p.hs.URL, "n1", "", nil)
		if _, err := p.db.Exec(`UPDATE nodes SET revoked_at = 2 WHERE id = 'n1'`); err != nil { // no notice
			t.Fatal(err)
		}
		var schema string
		p.db.QueryRow(`SELECT current_schema()`).Scan(&schema)
		var killed int
		if err := p.db.QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE query LIKE 'LISTEN %' AND query LIKE '%' || $1 || '%'`, "plexsphere_events."+schema).Scan(&killed); err != nil || killed != 1 {
			t.Fatalf("terminated %d listeners: %v", killed, err)
		}
		c.endsWithin(3 * time.Second)
	}
}
