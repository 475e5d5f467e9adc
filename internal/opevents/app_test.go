package opevents_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/opevents"
)

// frame is one SSE event as received.
type frame struct {
	ID   int64
	Type string
	Data map[string]any
}

// sub is an open operator stream.
type sub struct {
	t      *testing.T
	frames chan frame
	cancel context.CancelFunc
}

// subscribe opens the stream of domainID as token; lastID "" for none.
func subscribe(t *testing.T, e *apptest.Env, token, domainID, lastID, query string) *sub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	path := "/v1/domains/" + domainID + "/events"
	if query != "" {
		path += "?" + query
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		resp.Body.Close()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sub{t: t, frames: make(chan frame, 1024), cancel: cancel}
	// The first comment arrives once the stream is subscribed: wait for it,
	// so that what the test does next is after the stream's start.
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q, %v", line, err)
	}
	go func() {
		defer resp.Body.Close()
		defer close(s.frames)
		var f frame
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if f.Type != "" {
					s.frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, "id: "):
				f.ID, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				f.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &f.Data)
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// await returns the first frame matching ok within 10 s, failing the test
// otherwise; the frames before it are returned too.
func (s *sub) await(ok func(frame) bool, what string) (frame, []frame) {
	s.t.Helper()
	var seen []frame
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, open := <-s.frames:
			if !open {
				s.t.Fatalf("stream ended waiting for %s; saw %+v", what, seen)
			}
			seen = append(seen, f)
			if ok(f) {
				return f, seen
			}
		case <-deadline:
			s.t.Fatalf("no %s within 10 s; saw %+v", what, seen)
		}
	}
}

// quiet collects frames for d.
func (s *sub) quiet(d time.Duration) []frame {
	var seen []frame
	deadline := time.After(d)
	for {
		select {
		case f, open := <-s.frames:
			if !open {
				return seen
			}
			seen = append(seen, f)
		case <-deadline:
			return seen
		}
	}
}

func is(typ, key, val string) func(frame) bool {
	return func(f frame) bool { return f.Type == typ && (key == "" || f.Data[key] == val) }
}

// appendAudit appends an entry as the executions and sessions code does
// (inside its own transaction), so that its hook records the events.
func appendAudit(t *testing.T, e *apptest.Env, entry audit.Entry) {
	t.Helper()
	err := e.Server.DB.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := e.Server.Audit.Append(context.Background(), tx, entry)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOperatorStreamEvents(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "opev", "100.71.0.0/16", 5)
			did := f.Domain.ID
			all := subscribe(t, e, e.Token, did, "", "")

			// node_registered, then healthy on its first heartbeat.
			n := e.RegisterNode(t, f.Token.Token, "web-1", 2)
			start := time.Now()
			got, _ := all.await(is(opevents.NodeRegistered, "node_id", n.ID), "node_registered")
			t.Logf("node_registered arrived %v after the registration answered", time.Since(start))
			if got.Data["project_id"] != f.Project.ID || got.Data["domain_id"] != did {
				t.Fatalf("node_registered data %v", got.Data)
			}
			all.await(func(fr frame) bool {
				return fr.Type == opevents.AuditAppended && fr.Data["action"] == "node.register" && fr.Data["outcome"] == "succeeded"
			}, "audit_appended of node.register")
			hb := nodeproto.Heartbeat{NodeID: n.ID, Status: "healthy"}
			if resp, raw := e.NodeSend(t, n, "POST", "/v1/nodes/"+n.ID+"/heartbeat", hb, nil); resp.StatusCode/100 != 2 {
				t.Fatalf("heartbeat: %d %s", resp.StatusCode, raw)
			}
			got, _ = all.await(is(opevents.NodeReachabilityChanged, "node_id", n.ID), "node_reachability_changed")
			if got.Data["state"] != "healthy" || got.Data["previous_state"] != "unreachable" {
				t.Fatalf("reachability data %v", got.Data)
			}

			// policy_revision_created through the real API.
			var pol struct {
				ID string `json:"id"`
			}
			_, role := e.DefineNodeLabel(t, did, "role")
			st, raw := e.Do(t, "POST", "/v1/projects/"+f.Project.ID+"/policies", map[string]any{"slug": "ev",
				"selector": map[string]string{"source": role + "=web", "destination": role + "=db"},
				"rules": []map[string]any{{"action": "allow", "protocol": "tcp", "source_cidr": "0.0.0.0/0",
					"destination_cidr": "0.0.0.0/0", "ports": map[string]int{"from": 22, "to": 22}}}}, &pol)
			if st != 201 {
				t.Fatalf("create policy: %d %s", st, raw)
			}
			all.await(is(opevents.PolicyRevisionCreated, "object_id", pol.ID), "policy_revision_created")

			// execution_updated and session_updated, from the entries those
			// services append.
			exID, sessID := uuid.NewString(), uuid.NewString()
			appendAudit(t, e, audit.Entry{ChainID: did, Action: "execution.result", Outcome: audit.Succeeded,
				ObjectType: "execution", ObjectID: exID, IdentityRef: "node:" + n.ID})
			all.await(is(opevents.ExecutionUpdated, "object_id", exID), "execution_updated")
			appendAudit(t, e, audit.Entry{ChainID: did, Action: "session.expire", Outcome: audit.Succeeded,
				ObjectType: "session", ObjectID: sessID, IdentityRef: "node:" + n.ID})
			got, _ = all.await(is(opevents.SessionUpdated, "object_id", sessID), "session_updated")
			if got.Data["action"] != "session.expire" {
				t.Fatalf("session_updated data %v", got.Data)
			}
			// A read is no update.
			appendAudit(t, e, audit.Entry{ChainID: did, Action: "session.read", Outcome: audit.Succeeded,
				ObjectType: "session", ObjectID: sessID})

			// node_deleted.
			if st, raw := e.Do(t, "DELETE", "/v1/nodes/"+n.ID, nil, nil); st/100 != 2 {
				t.Fatalf("delete node: %d %s", st, raw)
			}
			_, seen := all.await(is(opevents.NodeDeleted, "node_id", n.ID), "node_deleted")
			for _, fr := range seen {
				if fr.Type == opevents.SessionUpdated && fr.Data["action"] == "session.read" {
					t.Fatalf("a read was announced as an update: %v", fr)
				}
			}
		})
	}
}

func TestOperatorStreamReadRights(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "oprr", "100.72.0.0/16", 5)
			did := f.Domain.ID
			var p2 apiv1.Project
			if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: did, Name: "p2", Slug: "p2"}, &p2); st != 201 {
				t.Fatalf("project: %d %s", st, raw)
			}
			var tok2 apiv1.IssuedBootstrapToken
			if st, raw := e.Do(t, "POST", "/v1/projects/"+p2.ID+"/bootstrap-tokens",
				apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test", MaxUses: 2}, &tok2); st != 201 {
				t.Fatalf("bootstrap token: %d %s", st, raw)
			}
			bob, bobTok := e.NewUser(t, "Bob")
			// Without domain-view the stream is refused.
			if resp, _ := e.Send(t, bobTok, "GET", "/v1/domains/"+did+"/events"); resp.StatusCode != 403 {
				t.Fatalf("no domain-view: %d", resp.StatusCode)
			}
			for q, g := range map[string]apiv1.WriteRelationTuple{
				"":                            {Subject: "user:" + bob, Relation: "viewer", Resource: "domain:" + did},
				"?project_id=" + f.Project.ID: {Subject: "user:" + bob, Relation: "viewer", Resource: "project:" + f.Project.ID},
			} {
				if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples"+q, g, nil); st != 201 {
					t.Fatalf("grant: %d %s", st, raw)
				}
			}
			bobStream := subscribe(t, e, bobTok, did, "", "")
			admin := subscribe(t, e, e.Token, did, "", "")
			hidden := e.RegisterNode(t, tok2.Token, "db-1", 2)
			shown := e.RegisterNode(t, f.Token.Token, "web-1", 2)
			admin.await(is(opevents.NodeRegistered, "node_id", shown.ID), "admin: node_registered")
			_, seen := bobStream.await(is(opevents.NodeRegistered, "node_id", shown.ID), "bob: node_registered of P1")
			seen = append(seen, bobStream.quiet(1500*time.Millisecond)...)
			for _, fr := range seen {
				if fr.Data["node_id"] == hidden.ID {
					t.Fatalf("bob saw a node of a Project he may not read: %v", fr)
				}
				if fr.Type == opevents.AuditAppended {
					t.Fatalf("bob (no auditor) saw an audit entry: %v", fr)
				}
			}
		})
	}
}

func TestOperatorStreamResumeAndFilter(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "opre", "100.73.0.0/16", 5)
			did := f.Domain.ID
			all := subscribe(t, e, e.Token, did, "", "")
			n1 := e.RegisterNode(t, f.Token.Token, "a", 2)
			first, _ := all.await(is(opevents.NodeRegistered, "node_id", n1.ID), "first node")
			n2 := e.RegisterNode(t, f.Token.Token, "b", 2)
			_, seen := all.await(is(opevents.NodeRegistered, "node_id", n2.ID), "second node")
			all.cancel()

			// Resume after the first node_registered: everything after it
			// again, in order, starting right after it.
			again := subscribe(t, e, e.Token, did, strconv.FormatInt(first.ID, 10), "")
			_, replay := again.await(is(opevents.NodeRegistered, "node_id", n2.ID), "replayed second node")
			if replay[0].ID != first.ID+1 {
				t.Fatalf("resume started at %d, want %d", replay[0].ID, first.ID+1)
			}
			if len(replay) != len(seen) {
				t.Fatalf("replayed %d events, live %d", len(replay), len(seen))
			}
			for i := range replay {
				if replay[i].ID != seen[i].ID || replay[i].Type != seen[i].Type {
					t.Fatalf("replay %d: %+v, live %+v", i, replay[i], seen[i])
				}
			}

			// A filter delivers only its types.
			only := subscribe(t, e, e.Token, did, "0", "types=node_registered")
			for _, fr := range only.quiet(1500 * time.Millisecond) {
				if fr.Type != opevents.NodeRegistered {
					t.Fatalf("filtered stream delivered %s", fr.Type)
				}
			}
			from0 := subscribe(t, e, e.Token, did, "0", "types=node_registered,%20audit_appended")
			from0.await(is(opevents.NodeRegistered, "node_id", n2.ID), "filtered replay of the second node")

			// Bad input.
			for _, c := range []struct{ query, lastID, code string }{
				{"types=nope", "", opevents.CodeInvalidEventType},
				{"", "x", opevents.CodeInvalidLastEventID},
			} {
				req, _ := http.NewRequest("GET", e.URL+"/v1/domains/"+did+"/events?"+c.query, nil)
				req.Header.Set("Authorization", "Bearer "+e.Token)
				if c.lastID != "" {
					req.Header.Set("Last-Event-ID", c.lastID)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var pd struct {
					Code string `json:"code"`
				}
				json.NewDecoder(resp.Body).Decode(&pd)
				resp.Body.Close()
				if resp.StatusCode != 400 || pd.Code != c.code {
					t.Fatalf("%+v: %d %s", c, resp.StatusCode, pd.Code)
				}
			}
		})
	}
}

// An event committed on another replica reaches a stream of this one
// (the heads poller reads the database).
func TestOperatorStreamAcrossReplicas(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "oprep", "100.75.0.0/16", 2)
			other := e.Replica(t)
			s := subscribe(t, e, e.Token, f.Domain.ID, "", "types=node_registered")
			n := other.RegisterNode(t, f.Token.Token, "far", 2)
			start := time.Now()
			s.await(is(opevents.NodeRegistered, "node_id", n.ID), "node_registered from the other replica")
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("the other replica's event took %v (the heads poller runs every %v)", d, opevents.DefaultPoll)
			}
		})
	}
}
