package logs_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	obslogs "github.com/plexsphere/plexsphere/internal/obs/logs"
)

// base is the time the test lines carry.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type lokiBody struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// line is one returned line with its labels.
type line struct {
	labels map[string]string
	ts     string
	text   string
}

// query runs QueryDomainLogs as token and returns the lines in answer order.
func query(t *testing.T, e *apptest.Env, token, domainID, expr string, extra url.Values) (int, []line, []byte) {
	t.Helper()
	v := url.Values{"query": {expr}, "start": {base.Add(-time.Hour).Format(time.RFC3339)},
		"end": {base.Add(time.Hour).Format(time.RFC3339)}}
	for k, vs := range extra {
		v[k] = vs
	}
	resp, raw := e.Send(t, token, "GET", "/v1/domains/"+domainID+"/logs/query?"+v.Encode())
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil, raw
	}
	var r obslogs.LogsQueryResult
	if err := json.Unmarshal(raw, &r); err != nil || r.StatusCode != 200 {
		t.Fatalf("answer %s: %v", raw, err)
	}
	var lb lokiBody
	if err := json.Unmarshal([]byte(r.Body), &lb); err != nil || lb.Status != "success" || lb.Data.ResultType != "streams" {
		t.Fatalf("loki body %s: %v", r.Body, err)
	}
	var out []line
	for _, s := range lb.Data.Result {
		for _, v := range s.Values {
			out = append(out, line{labels: s.Stream, ts: v[0], text: v[1]})
		}
	}
	return 200, out, raw
}

func texts(ls []line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.text
	}
	return out
}

// logEntry is a §12.7 LogEntry as the existing agent sends it.
func logEntry(sec int, unit, sev, host, msg string) map[string]any {
	return map[string]any{"timestamp": base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339Nano),
		"source": "journald", "unit": unit, "message": msg, "severity": sev, "hostname": host}
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// post sends a raw batch as node n and returns the status and records.
func post(t *testing.T, e *apptest.Env, n apptest.Node, kind, contentType string, body []byte, h http.Header) (int, int) {
	t.Helper()
	hd := http.Header{"Content-Type": {contentType}}
	for k, v := range h {
		hd[k] = v
	}
	resp, raw := e.NodeSendRaw(t, n, "POST", "/v1/nodes/"+n.ID+"/"+kind, body, hd)
	var r struct {
		Records int `json:"records"`
	}
	json.Unmarshal(raw, &r)
	return resp.StatusCode, r.Records
}

func TestNodeLogsIngestAndQuery(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "logs", "100.81.0.0/16", 5)
			did := f.Domain.ID
			web := e.RegisterNode(t, f.Token.Token, "web-1", 1)
			db := e.RegisterNode(t, f.Token.Token, "db-1", 1)

			// The existing agent's batch: a JSON array, plain; then the same
			// batch resent gzipped (§12.7 O1): stored once.
			batch := []map[string]any{
				logEntry(1, "sshd.service", "info", "web-1", "Accepted publickey for alice"),
				logEntry(2, "sshd.service", "err", "web-1", "Failed password for root"),
				logEntry(3, "cron.service", "info", "web-1", "cron job ran"),
				logEntry(4, "nginx.service", "warning", "web-1", "upstream timed out"),
				{"timestamp": "not a time", "message": "bad", "severity": "info"},
				{"timestamp": base.Format(time.RFC3339), "message": "", "severity": "info"},
				{"timestamp": base.Format(time.RFC3339), "message": "x", "severity": "loud"},
				{"timestamp": "9999-01-01T00:00:00Z", "message": "far future", "severity": "info"},
			}
			raw, _ := json.Marshal(batch)
			if st, n := post(t, e, web, "logs", "application/json", raw, nil); st != 202 || n != 4 {
				t.Fatalf("plain batch: %d, %d records (want 202, 4: four bad ones dropped)", st, n)
			}
			if st, n := post(t, e, web, "logs", "application/json", gz(t, raw), http.Header{"Content-Encoding": {"gzip"}}); st != 202 || n != 4 {
				t.Fatalf("gzipped resend: %d, %d", st, n)
			}
			// Our plexd's NDJSON batch with an Idempotency-Key, sent twice.
			nd := fmt.Sprintf(`{"timestamp":%q,"severity":"debug","unit":"postgres.service","hostname":"db-1","message":"checkpoint complete"}`+"\n\n"+
				`{"timestamp":%q,"severity":"crit","unit":"postgres.service","hostname":"db-1","message":"out of disk"}`+"\n",
				base.Add(5*time.Second).Format(time.RFC3339), base.Add(6*time.Second).Format(time.RFC3339))
			for range 2 {
				if st, n := post(t, e, db, "logs", "application/x-ndjson", []byte(nd), http.Header{"Idempotency-Key": {"b-1"}}); st != 202 || n != 2 {
					t.Fatalf("ndjson: %d, %d", st, n)
				}
			}
			// Another node's NSK is refused.
			resp, body := e.NodeSendRaw(t, web, "POST", "/v1/nodes/"+db.ID+"/logs", raw, http.Header{"Content-Type": {"application/json"}})
			if resp.StatusCode != 403 || !strings.Contains(string(body), "node_id_mismatch") {
				t.Fatalf("another node's NSK: %d %s", resp.StatusCode, body)
			}

			_, all, _ := query(t, e, e.Token, did, `{}`, nil)
			if len(all) != 6 {
				t.Fatalf("all lines: %d %q (resends must be deduplicated)", len(all), texts(all))
			}
			if all[0].text != "out of disk" || all[5].text != "Accepted publickey for alice" {
				t.Fatalf("backward order: %q", texts(all))
			}
			if all[0].labels["node_id"] != db.ID || all[0].labels["project_id"] != f.Project.ID || all[0].labels["unit"] != "postgres.service" ||
				all[0].labels["severity"] != "crit" || all[0].labels["hostname"] != "db-1" || all[0].labels["source"] != "journald" {
				t.Fatalf("labels %v", all[0].labels)
			}
			if want := fmt.Sprint(base.Add(6 * time.Second).UnixNano()); all[0].ts != want {
				t.Fatalf("timestamp %s, want %s", all[0].ts, want)
			}
			for expr, want := range map[string][]string{
				`{node_id="` + web.ID + `"} |= "cron"`:                    {"cron job ran"},
				`{node_id!="` + web.ID + `"}`:                             {"out of disk", "checkpoint complete"},
				`{unit=~"ssh.*"}`:                                         {"Failed password for root", "Accepted publickey for alice"},
				`{unit=~"ssh"}`:                                           nil, // anchored
				`{unit!~"ssh.*|postgres.*"}`:                              {"upstream timed out", "cron job ran"},
				`{severity="err"}`:                                        {"Failed password for root"},
				`{hostname="db-1", severity!="debug"}`:                    {"out of disk"},
				`{source="journald"} |= "o" != "disk" |~ "^[A-Z]" !~ "F"`: {"Accepted publickey for alice"},
				`{source="auditd"}`:                                       nil,
			} {
				st, got, raw := query(t, e, e.Token, did, expr, nil)
				if st != 200 || strings.Join(texts(got), "|") != strings.Join(want, "|") {
					t.Errorf("%s: %d %q, want %q (%s)", expr, st, texts(got), want, raw)
				}
			}
			// direction and limit.
			if _, got, _ := query(t, e, e.Token, did, `{}`, url.Values{"direction": {"forward"}, "limit": {"2"}}); strings.Join(texts(got), "|") != "Accepted publickey for alice|Failed password for root" {
				t.Errorf("forward, limit 2: %q", texts(got))
			}
			if _, got, _ := query(t, e, e.Token, did, `{}`, url.Values{"limit": {"1"}, "nodeId": {web.ID}}); len(got) != 1 || got[0].text != "upstream timed out" {
				t.Errorf("backward, limit 1, nodeId: %q", texts(got))
			}
			// Bad queries are 400 with a clear code.
			for _, tc := range []struct{ expr, start, end, code string }{
				{`{unit=~"("}`, "", "", "invalid_logql"},
				{`{pod="x"}`, "", "", "invalid_logql"},
				{`{}`, base.Format(time.RFC3339), base.Add(-time.Second).Format(time.RFC3339), "invalid_query_window"},
				{`{}`, base.Format(time.RFC3339), base.Add(32 * 24 * time.Hour).Format(time.RFC3339), "invalid_query_window"},
			} {
				v := url.Values{}
				if tc.start != "" {
					v = url.Values{"start": {tc.start}, "end": {tc.end}}
				}
				st, _, raw := query(t, e, e.Token, did, tc.expr, v)
				if st != 400 || !strings.Contains(string(raw), tc.code) {
					t.Errorf("%s %s..%s: %d %s, want 400 %s", tc.expr, tc.start, tc.end, st, raw, tc.code)
				}
			}

			// Host audit: the level-1 AuditEntry and the contract's
			// AuditEvent, an append-only stream of their own.
			audit := fmt.Sprintf(`[{"timestamp":%q,"source":"auditd","event_type":"SYSCALL","subject":{"uid":0,"gid":0,"pid":42},"object":"/etc/shadow","action":"open","result":"failure","hostname":"web-1","raw":"type=SYSCALL ..."},`+
				`{"timestamp":%q,"source":"k8s-audit","event_type":"ResponseComplete","subject":{"username":"bob","groups":["dev"]},"object":"default/secrets/db","action":"get","result":"success","hostname":"web-1","raw":"{}"},`+
				`{"source":"auditd","action":"x"}]`, base.Add(7*time.Second).Format(time.RFC3339), base.Add(8*time.Second).Format(time.RFC3339))
			if st, n := post(t, e, web, "audit", "application/json", []byte(audit), nil); st != 202 || n != 2 {
				t.Fatalf("audit batch: %d, %d", st, n)
			}
			nda := fmt.Sprintf(`{"source":"k8s","action":"delete","outcome":"success","timestamp":%q}`, base.Add(9*time.Second).Format(time.RFC3339))
			if st, n := post(t, e, db, "audit", "application/x-ndjson", []byte(nda), nil); st != 202 || n != 1 {
				t.Fatalf("audit ndjson: %d, %d", st, n)
			}
			_, got, _ := query(t, e, e.Token, did, `{stream="audit", outcome="failure"} |= "shadow"`, nil)
			if len(got) != 1 || got[0].labels["action"] != "open" || got[0].labels["source"] != "auditd" || got[0].labels["stream"] != "audit" {
				t.Fatalf("audit query: %+v", got)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(got[0].text), &rec); err != nil || rec["object"] != "/etc/shadow" {
				t.Fatalf("audit line is the record's JSON: %q", got[0].text)
			}
			if _, got, _ := query(t, e, e.Token, did, `{stream="audit", source=~"k8s.*"}`, url.Values{"direction": {"forward"}}); strings.Join(labelsOf(got, "action"), ",") != "get,delete" {
				t.Fatalf("audit k8s: %+v", got)
			}
			// The existing agent re-queues a failed batch with newer records
			// and sends them together: only the new record is stored.
			merged, _ := json.Marshal(append(batch[:4:4], logEntry(10, "cron.service", "info", "web-1", "merged new line")))
			if st, n := post(t, e, web, "logs", "application/json", merged, nil); st != 202 || n != 5 {
				t.Fatalf("merged resend: %d, %d", st, n)
			}
			if _, got, _ := query(t, e, e.Token, did, `{node_id="`+web.ID+`"}`, nil); len(got) != 5 || got[0].text != "merged new line" {
				t.Fatalf("after the merged resend: %q", texts(got))
			}
			// The logs stream does not show audit events.
			if _, got, _ := query(t, e, e.Token, did, `{} |= "shadow"`, nil); len(got) != 0 {
				t.Fatalf("audit in the logs stream: %+v", got)
			}
		})
	}
}

func labelsOf(ls []line, k string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.labels[k]
	}
	return out
}

// A caller with rights on one Project sees no line of another Project's
// nodes through any query, nor through the tail; a caller with none is
// refused; another Domain's id is 404.
func TestNodeLogsConfinement(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "logc", "100.82.0.0/16", 5)
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
			shown := e.RegisterNode(t, f.Token.Token, "web-1", 1)
			hidden := e.RegisterNode(t, tok2.Token, "secret-1", 1)
			bob, bobTok := e.NewUser(t, "Bob")
			if st, _, raw := query(t, e, bobTok, did, `{}`, nil); st != 404 {
				t.Fatalf("no rights: %d %s (want 404: nothing of the Domain shows)", st, raw)
			}
			if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+f.Project.ID,
				apiv1.WriteRelationTuple{Subject: "user:" + bob, Relation: "viewer", Resource: "project:" + f.Project.ID}, nil); st != 201 {
				t.Fatalf("grant: %d %s", st, raw)
			}
			tail := openTail(t, e, bobTok, did, `{}`)
			for _, n := range []apptest.Node{shown, hidden} {
				raw, _ := json.Marshal([]map[string]any{logEntry(1, "app.service", "info", "h", "line of "+n.ID),
					logEntry(2, "app.service", "err", "h", "hidden? "+n.ID)})
				if st, k := post(t, e, n, "logs", "application/json", raw, nil); st != 202 || k != 2 {
					t.Fatalf("post: %d %d", st, k)
				}
				araw := fmt.Sprintf(`[{"timestamp":%q,"source":"auditd","action":"open","result":"success","object":"%s"}]`, base.Format(time.RFC3339), n.ID)
				if st, k := post(t, e, n, "audit", "application/json", []byte(araw), nil); st != 202 || k != 1 {
					t.Fatalf("post audit: %d %d", st, k)
				}
			}
			// The admin sees both Projects.
			if _, got, _ := query(t, e, e.Token, did, `{}`, nil); len(got) != 4 {
				t.Fatalf("admin: %q", texts(got))
			}
			for _, expr := range []string{`{}`, `{node_id="` + hidden.ID + `"}`, `{node_id=~".*"}`, `{node_id!="x"}`,
				`{project_id="` + p2.ID + `"}`, `{project_id!~"` + f.Project.ID + `"}`, `{} |= "` + hidden.ID + `"`,
				`{} |~ ".*"`, `{stream="audit"}`, `{stream="audit", node_id="` + hidden.ID + `"}`} {
				for _, extra := range []url.Values{nil, {"nodeId": {hidden.ID}}, {"direction": {"forward"}, "limit": {"5000"}}} {
					st, got, raw := query(t, e, bobTok, did, expr, extra)
					if st != 200 {
						t.Fatalf("%s: %d %s", expr, st, raw)
					}
					for _, l := range got {
						if l.labels["node_id"] != shown.ID || strings.Contains(l.text, hidden.ID) || l.labels["project_id"] != f.Project.ID {
							t.Fatalf("bob saw another Project's line through %s %v: %+v", expr, extra, l)
						}
					}
				}
			}
			if _, got, _ := query(t, e, bobTok, did, `{}`, nil); len(got) != 2 {
				t.Fatalf("bob's own Project: %q", texts(got))
			}
			// A grant on one node alone reaches that node's lines only.
			carol, carolTok := e.NewUser(t, "Carol")
			if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+f.Project.ID,
				apiv1.WriteRelationTuple{Subject: "user:" + carol, Relation: "viewer", Resource: "node:" + shown.ID}, nil); st != 201 {
				t.Fatalf("node grant: %d %s", st, raw)
			}
			for _, expr := range []string{`{}`, `{node_id="` + hidden.ID + `"}`, `{stream="audit"}`} {
				st, got, raw := query(t, e, carolTok, did, expr, nil)
				if st != 200 {
					t.Fatalf("carol %s: %d %s", expr, st, raw)
				}
				for _, l := range got {
					if l.labels["node_id"] != shown.ID {
						t.Fatalf("carol saw a node she may not read through %s: %+v", expr, l)
					}
				}
				if expr == `{}` && len(got) != 2 {
					t.Fatalf("carol's node: %q", texts(got))
				}
			}
			// The tail shows the shown node's new lines, never the hidden one's.
			frames := tail.await(t, shown.ID)
			for _, fr := range frames {
				if strings.Contains(fr, hidden.ID) {
					t.Fatalf("tail showed another Project's line: %s", fr)
				}
			}
			// Another Domain's id: 404.
			g := e.NewEnrolment(t, "logc2", "100.83.0.0/16", 1)
			if st, _, raw := query(t, e, bobTok, g.Domain.ID, `{}`, nil); st != 404 {
				t.Fatalf("other Domain: %d %s", st, raw)
			}
			if st, _, raw := query(t, e, bobTok, "00000000-0000-7000-8000-000000000001", `{}`, nil); st != 404 {
				t.Fatalf("unknown Domain: %d %s", st, raw)
			}
		})
	}
}

// tailSub is an open live tail.
type tailSub struct {
	frames chan string
	cancel context.CancelFunc
}

func openTail(t *testing.T, e *apptest.Env, token, domainID, expr string) *tailSub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/v1/domains/"+domainID+"/logs/tail?query="+url.QueryEscape(expr), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("tail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, ":") {
		t.Fatalf("first line %q %v", l, err)
	}
	s := &tailSub{frames: make(chan string, 256), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(s.frames)
				return
			}
			if strings.HasPrefix(l, "data: ") {
				s.frames <- strings.TrimSpace(strings.TrimPrefix(l, "data: "))
			}
		}
	}()
	return s
}

// await collects frames until one contains want (10 s at most), then a
// short quiet period more.
func (s *tailSub) await(t *testing.T, want string) []string {
	t.Helper()
	var got []string
	deadline := time.After(10 * time.Second)
	found := false
	var quiet <-chan time.Time
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatalf("tail ended; got %q", got)
			}
			got = append(got, f)
			var tf struct {
				Streams []struct {
					Stream map[string]string `json:"stream"`
					Values [][2]string       `json:"values"`
				} `json:"streams"`
			}
			if err := json.Unmarshal([]byte(f), &tf); err != nil || len(tf.Streams) == 0 {
				t.Fatalf("tail frame %s: %v", f, err)
			}
			if !found && strings.Contains(f, want) {
				found, quiet = true, time.After(1500*time.Millisecond)
			}
		case <-quiet:
			return got
		case <-deadline:
			t.Fatalf("no tail frame with %s; got %q", want, got)
		}
	}
}

func TestNodeLogsTail(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "logt", "100.84.0.0/16", 5)
			n := e.RegisterNode(t, f.Token.Token, "web-1", 1)
			old, _ := json.Marshal([]map[string]any{logEntry(0, "a.service", "err", "web-1", "before the tail")})
			post(t, e, n, "logs", "application/json", old, nil)
			tail := openTail(t, e, e.Token, f.Domain.ID, `{severity="err"} |= "boom"`)
			raw, _ := json.Marshal([]map[string]any{logEntry(1, "a.service", "info", "web-1", "boom but info"),
				logEntry(2, "a.service", "err", "web-1", "boom: a new line")})
			if st, k := post(t, e, n, "logs", "application/json", raw, nil); st != 202 || k != 2 {
				t.Fatalf("post: %d %d", st, k)
			}
			frames := tail.await(t, "boom: a new line")
			all := strings.Join(frames, "\n")
			if strings.Contains(all, "before the tail") || strings.Contains(all, "boom but info") {
				t.Fatalf("tail delivered lines it should not: %s", all)
			}
			if st, _ := e.Send(t, e.Token, "GET", "/v1/domains/"+f.Domain.ID+"/logs/tail?query="+url.QueryEscape(`{x="1"}`)); st.StatusCode != 400 {
				t.Fatalf("bad tail query: %d", st.StatusCode)
			}
		})
	}
}

func TestNodeLogsRetention(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			f := e.NewEnrolment(t, "logr", "100.85.0.0/16", 5)
			n := e.RegisterNode(t, f.Token.Token, "web-1", 1)
			var batch []map[string]any
			for i := range 23 {
				batch = append(batch, logEntry(i, "a.service", "info", "web-1", fmt.Sprint("line ", i)))
			}
			raw, _ := json.Marshal(batch)
			if st, k := post(t, e, n, "logs", "application/json", raw, nil); st != 202 || k != 23 {
				t.Fatalf("post: %d %d", st, k)
			}
			araw := fmt.Sprintf(`[{"timestamp":%q,"source":"auditd","action":"open","result":"success"}]`, base.Format(time.RFC3339))
			post(t, e, n, "audit", "application/json", []byte(araw), nil)
			// A sweeper whose clock is 8 days on, deleting 5 rows at a time.
			sw, err := obslogs.New(obslogs.Config{DB: e.Server.DB, Authz: e.Server.Guard, DeleteBatch: 5,
				Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			// Nothing is older than 7 days by the real clock.
			keep, _ := obslogs.New(obslogs.Config{DB: e.Server.DB, Authz: e.Server.Guard, DeleteBatch: 5})
			if k, err := keep.Sweep(context.Background()); err != nil || k != 0 {
				t.Fatalf("sweep now: %d %v", k, err)
			}
			k, err := sw.Sweep(context.Background())
			if err != nil || k != 24 {
				t.Fatalf("sweep 8 days on: %d %v, want 24", k, err)
			}
			// 23 lines in deletes of 5 (5 statements, the last short), the
			// audit event in 1: never one unbounded delete.
			if st := sw.SweepStatements(); st != 6 {
				t.Fatalf("%d delete statements, want 6 bounded ones", st)
			}
			if _, got, _ := query(t, e, e.Token, f.Domain.ID, `{}`, nil); len(got) != 0 {
				t.Fatalf("lines left: %q", texts(got))
			}
			var left int
			e.Server.DB.QueryRow(`SELECT COUNT(*) FROM node_log_lines`).Scan(&left)
			if left != 0 {
				t.Fatalf("%d rows left", left)
			}
			// The batch keys went too: the same batch is stored again.
			if st, k := post(t, e, n, "logs", "application/json", raw, nil); st != 202 || k != 23 {
				t.Fatalf("repost: %d %d", st, k)
			}
			if _, got, _ := query(t, e, e.Token, f.Domain.ID, `{}`, url.Values{"limit": {"100"}}); len(got) != 23 {
				t.Fatalf("after repost: %d", len(got))
			}
		})
	}
}

// Limits: an oversize batch is 413; a flood of batches from one node is 429
// with Retry-After.
func TestNodeLogsLimits(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	f := e.NewEnrolment(t, "logl", "100.86.0.0/16", 5)
	n := e.RegisterNode(t, f.Token.Token, "web-1", 1)
	var big []map[string]any
	for i := range obslogs.DefaultMaxBatchRecords + 1 {
		big = append(big, map[string]any{"timestamp": base.Format(time.RFC3339), "severity": "info", "message": fmt.Sprint(i)})
	}
	raw, _ := json.Marshal(big)
	if st, _ := post(t, e, n, "logs", "application/json", raw, nil); st != 413 {
		t.Fatalf("too many records: %d", st)
	}
	got429 := false
	for i := range 60 {
		one, _ := json.Marshal([]map[string]any{logEntry(i, "a", "info", "h", fmt.Sprint("flood ", i))})
		resp, _ := e.NodeSendRaw(t, n, "POST", "/v1/nodes/"+n.ID+"/logs", one, http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode == 429 {
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			got429 = true
			break
		}
	}
	if !got429 {
		t.Fatal("no 429 under a flood")
	}
}
