package actions_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// fleet is a Domain with a Project and n level-1 nodes labelled role=web,
// driven as raw HTTP (the existing agent's behaviour, §12.5).
type fleet struct {
	e     *apptest.Env
	enr   apptest.Enrolment
	nodes []apptest.Node
	roleQ string
}

func newFleet(t testing.TB, b apptest.Backend, n int) *fleet {
	t.Helper()
	e := apptest.Start(t, b)
	f := &fleet{e: e, enr: e.NewEnrolment(t, "ops", "100.83.0.0/24", n+1)}
	def, q := e.DefineNodeLabel(t, f.enr.Domain.ID, "role")
	f.roleQ = q
	for i := range n {
		nd := e.RegisterNode(t, f.enr.Token.Token, fmt.Sprintf("web%d", i), 1)
		e.LabelNode(t, def, nd.ID, "web")
		f.nodes = append(f.nodes, nd)
	}
	return f
}

func (f *fleet) path(s ...string) string {
	return "/v1/projects/" + f.enr.Project.ID + "/executions" + strings.Join(s, "")
}

func code(raw []byte) string {
	var p struct{ Code string }
	json.Unmarshal(raw, &p)
	return p.Code
}

// requests are the action_request payloads in a node's event log.
func (f *fleet) requests(t testing.TB, nodeID string) []nodeproto.ActionRequest {
	t.Helper()
	rows, err := f.e.Server.DB.Query(`SELECT payload FROM event_log WHERE node_id = $1 AND event_type = $2 ORDER BY seq`,
		nodeID, nodeproto.EventActionRequest)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []nodeproto.ActionRequest
	for rows.Next() {
		var raw string
		rows.Scan(&raw)
		var r nodeproto.ActionRequest
		json.Unmarshal([]byte(raw), &r)
		out = append(out, r)
	}
	return out
}

func (f *fleet) result(t testing.TB, n apptest.Node, execID, status string, exit int) {
	t.Helper()
	res := nodeproto.ExecutionResult{ExecutionID: execID, Status: status, ExitCode: exit, Stdout: "out of " + n.ID,
		Duration: "1.5s", FinishedAt: time.Now().UTC().Truncate(time.Second)}
	if resp, raw := f.e.NodeSend(t, n, "POST", "/v1/nodes/"+n.ID+"/executions/"+execID+"/result", res, nil); resp.StatusCode != 204 {
		t.Fatalf("result: %d %s", resp.StatusCode, raw)
	}
}

func (f *fleet) get(t testing.TB, id string) apiv1.Execution {
	t.Helper()
	var ex apiv1.Execution
	if st, raw := f.e.Do(t, "GET", f.path("/", id), nil, &ex); st != 200 {
		t.Fatalf("get: %d %s", st, raw)
	}
	return ex
}

// TestRolloutRespectsMaxInFlight: a selector dispatch to 7 nodes with
// max_in_flight 3 hands out action_request to 3 nodes, and one more per
// result; results (with or without an ack, repeated) settle targets, and
// the execution ends succeeded with every output stored and audited.
func TestRolloutRespectsMaxInFlight(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := newFleet(t, b, 7)
			var ex apiv1.Execution
			st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "gather_info",
				Selector: f.roleQ + "=web", MaxInFlight: 3, TimeoutSeconds: 60}, &ex)
			if st != 201 || len(ex.Targets) != 7 || ex.Status != "pending" {
				t.Fatalf("dispatch: %d %s", st, raw)
			}
			done := map[string]bool{}
			for round := 0; len(done) < 7; round++ {
				var out []apptest.Node
				for _, n := range f.nodes {
					if !done[n.ID] && len(f.requests(t, n.ID)) == 1 {
						out = append(out, n)
					}
				}
				if len(out) == 0 || len(out) > 3 {
					t.Fatalf("round %d: %d targets out (max_in_flight 3)", round, len(out))
				}
				n := out[0]
				r := f.requests(t, n.ID)[0]
				if r.ExecutionID != ex.ID || r.Action != "gather_info" || r.Timeout != "1m0s" {
					t.Fatalf("action_request %+v", r)
				}
				if round%2 == 0 { // half acknowledge first, as our plexd does
					ack := nodeproto.ExecutionAck{ExecutionID: ex.ID, Status: nodeproto.AckAccepted}
					if resp, raw := f.e.NodeSend(t, n, "POST", "/v1/nodes/"+n.ID+"/executions/"+ex.ID+"/ack", ack, nil); resp.StatusCode != 204 {
						t.Fatalf("ack: %d %s", resp.StatusCode, raw)
					}
				}
				f.result(t, n, ex.ID, nodeproto.ResultSuccess, 0)
				f.result(t, n, ex.ID, nodeproto.ResultFailed, 9) // a resend after a lost answer changes nothing
				done[n.ID] = true
			}
			got := f.get(t, ex.ID)
			if got.Status != "succeeded" {
				t.Fatalf("execution %s", got.Status)
			}
			for _, tg := range got.Targets {
				if tg.Status != "succeeded" || tg.ExitCode == nil || *tg.ExitCode != 0 || tg.Stdout != "out of "+tg.NodeID ||
					tg.DurationMS == nil || *tg.DurationMS != 1500 || tg.OutputRef == nil {
					t.Errorf("target %+v", tg)
				}
			}
			var n int
			f.e.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1 AND action = 'execution.result' AND object_id = $2`,
				f.enr.Domain.ID, ex.ID).Scan(&n)
			if n != 7 {
				t.Errorf("%d results audited", n)
			}
		})
	}
}

// TestTimeoutsRejectionsAndCancel: a node that never answers is timed out
// on the control plane's clock; a rejected ack fails its target with the
// agent's reason; cancel ends the rest; stop_after_failures stops a
// rollout.
func TestTimeoutsRejectionsAndCancel(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 4)
	var ex apiv1.Execution
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "ping",
		Parameters: json.RawMessage(`{"target":"100.83.0.1"}`), NodeIDs: []string{f.nodes[0].ID, f.nodes[1].ID, f.nodes[2].ID, f.nodes[3].ID},
		MaxInFlight: 2, TimeoutSeconds: 1, StopAfterFailures: 2}, &ex); st != 201 {
		t.Fatalf("dispatch: %d %s", st, raw)
	}
	if r := f.requests(t, f.nodes[0].ID); len(r) != 1 || r[0].Parameters["target"] != "100.83.0.1" {
		t.Fatalf("requests %+v", r)
	}
	// Node 0 rejects; node 1 goes silent past its deadline.
	rej := nodeproto.ExecutionAck{ExecutionID: ex.ID, Status: nodeproto.AckRejected, Reason: nodeproto.AckReasonMaxConcurrent}
	if resp, raw := f.e.NodeSend(t, f.nodes[0], "POST", "/v1/nodes/"+f.nodes[0].ID+"/executions/"+ex.ID+"/ack", rej, nil); resp.StatusCode != 204 {
		t.Fatalf("reject: %d %s", resp.StatusCode, raw)
	}
	if _, err := f.e.Server.DB.Exec(`UPDATE execution_targets SET deadline = 1 WHERE execution_id = $1 AND node_id = $2`,
		ex.ID, f.nodes[1].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := f.e.Server.Actions.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	// Node 2 took node 0's slot; with two failures node 3 is never sent.
	got := f.get(t, ex.ID)
	want := map[string]string{f.nodes[0].ID: "failed", f.nodes[1].ID: "timeout", f.nodes[2].ID: "pending", f.nodes[3].ID: "cancelled"}
	for _, tg := range got.Targets {
		if tg.Status != want[tg.NodeID] {
			t.Errorf("%s: %s (%s), want %s", tg.NodeID, tg.Status, tg.Detail, want[tg.NodeID])
		}
		if tg.NodeID == f.nodes[0].ID && !strings.Contains(tg.Detail, "max_concurrent_reached") {
			t.Errorf("rejection detail %q", tg.Detail)
		}
	}
	if got.Status != "started" || len(f.requests(t, f.nodes[2].ID)) != 1 || len(f.requests(t, f.nodes[3].ID)) != 0 {
		t.Fatalf("after two failures: %s, node 2 got %d requests, node 3 %d", got.Status, len(f.requests(t, f.nodes[2].ID)),
			len(f.requests(t, f.nodes[3].ID)))
	}
	f.result(t, f.nodes[2], ex.ID, nodeproto.ResultSuccess, 0)
	if got = f.get(t, ex.ID); got.Status != "failed" {
		t.Fatalf("with every target final: %s", got.Status)
	}
	// Cancel a running execution: the node is told, the target ends.
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "gather_info", NodeID: f.nodes[3].ID}, &ex); st != 201 {
		t.Fatalf("dispatch: %d %s", st, raw)
	}
	if st, raw := f.e.Do(t, "POST", f.path("/", ex.ID, "/cancel"), nil, &got); st != 200 || got.Status != "cancelled" {
		t.Fatalf("cancel: %d %s", st, raw)
	}
	if r := f.requests(t, f.nodes[3].ID); len(r) != 2 || r[1].Action != "cancel" || r[1].Parameters["execution_id"] != ex.ID {
		t.Errorf("the node was not told to cancel: %+v", r)
	}
	f.result(t, f.nodes[3], ex.ID, nodeproto.ResultSuccess, 0) // too late: stays cancelled
	if got = f.get(t, ex.ID); got.Targets[0].Status != "cancelled" {
		t.Errorf("a late result reopened a cancelled target: %s", got.Targets[0].Status)
	}
}

// TestContractCallback: the contract's callback is a CAS along
// ack → started → final, refusing repeats and going back.
func TestContractCallback(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 1)
	n := f.nodes[0]
	var ex apiv1.Execution
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "gather_info", NodeID: n.ID}, &ex); st != 201 {
		t.Fatalf("dispatch: %d %s", st, raw)
	}
	cb := "/v1/nodes/" + n.ID + "/executions/" + ex.ID
	step := func(body string, want int, wantCode string) {
		t.Helper()
		resp, raw := f.e.NodeSendRaw(t, n, "POST", cb, []byte(body), http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode != want || wantCode != "" && code(raw) != wantCode {
			t.Errorf("%s: %d %s, want %d %s", body, resp.StatusCode, raw, want, wantCode)
		}
	}
	step(`{"status":"started"}`, 200, "")
	step(`{"status":"ack"}`, 409, "invalid_state_transition")
	step(`{"status":"succeeded","exit_code":0,"output":{"inline":"aGVsbG8="}}`, 200, "")
	step(`{"status":"failed"}`, 409, "execution_already_terminal")
	step(`{"status":"bogus"}`, 400, "invalid_body")
	other := f.e.RegisterNode(t, f.enr.Token.Token, "stranger", 1)
	if resp, raw := f.e.NodeSendRaw(t, other, "POST", cb, []byte(`{"status":"started"}`), nil); resp.StatusCode != 403 || code(raw) != "nsk_node_mismatch" {
		t.Errorf("another node's callback: %d %s", resp.StatusCode, raw)
	}
	if got := f.get(t, ex.ID); got.Status != "succeeded" || got.Targets[0].Stdout != "hello" {
		t.Errorf("after the callbacks: %+v", got)
	}
}

// TestTargetsFilteredAndDriftGated: a caller who may operate only some
// nodes runs on those, the others are skipped with the reason; an
// undeclared action is refused; a node with an open integrity violation
// is skipped as drifted until an operator acknowledges it; hooks carry
// the declared checksum.
func TestTargetsFilteredAndDriftGated(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 3)
	uid, tok := f.e.NewUser(t, "op-of-two")
	for _, nd := range f.nodes[:2] {
		var node apiv1.Node
		f.e.Do(t, "GET", "/v1/nodes/"+nd.ID, nil, &node)
		if st, raw := f.e.Do(t, "POST", "/v1/authz/relation-tuples?project_id="+f.enr.Project.ID, apiv1.WriteRelationTuple{
			Subject: "user:" + uid, Relation: "operator", Resource: "resource:" + node.ResourceID}, nil); st != 201 {
			t.Fatalf("grant: %d %s", st, raw)
		}
	}
	req := apiv1.DispatchExecutionRequest{Action: "gather_info", Selector: f.roleQ + "=web"}
	var ex apiv1.Execution
	if st, raw := f.e.DoAs(t, tok, "POST", f.path(":dispatch"), req, &ex); st != 201 || len(ex.Targets) != 2 ||
		len(ex.Skipped) != 1 || ex.Skipped[0].NodeID != f.nodes[2].ID || ex.Skipped[0].Reason != "insufficient_relation" {
		t.Fatalf("partial dispatch: %d %s", st, raw)
	}
	_, stranger := f.e.NewUser(t, "nobody")
	if st, raw := f.e.DoAs(t, stranger, "POST", f.path(":dispatch"), req, nil); st != 403 {
		t.Errorf("a caller who may operate no node: %d %s", st, raw)
	}
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "format_disks", Selector: f.roleQ + "=web"}, nil); st != 400 ||
		code(raw) != "action_not_declared" {
		t.Errorf("unknown action: %d %s", st, raw)
	}
	// Node 2 declares a hook and then reports it tampered.
	sum := strings.Repeat("ab", 32)
	caps := nodeproto.Capabilities{BuiltinActions: []nodeproto.BuiltinAction{{Name: "gather_info"}},
		Hooks: []nodeproto.Hook{{Name: "backup", Checksum: sum}}}
	n2 := f.nodes[2]
	if resp, raw := f.e.NodeSend(t, n2, "PUT", "/v1/nodes/"+n2.ID+"/capabilities", caps, nil); resp.StatusCode/100 != 2 {
		t.Fatalf("capabilities: %d %s", resp.StatusCode, raw)
	}
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "backup", Type: "hook", NodeID: n2.ID}, &ex); st != 201 {
		t.Fatalf("hook dispatch: %d %s", st, raw)
	}
	if r := f.requests(t, n2.ID); len(r) == 0 || r[len(r)-1].Checksum != sum {
		t.Fatalf("hook request %+v", r)
	}
	v := nodeproto.IntegrityViolation{Type: nodeproto.IntegrityHook, Path: "backup", ExpectedChecksum: sum,
		ActualChecksum: strings.Repeat("cd", 32), Detail: "checksum mismatch", Timestamp: time.Now().UTC()}
	if resp, raw := f.e.NodeSend(t, n2, "POST", "/v1/nodes/"+n2.ID+"/integrity/violations", v, nil); resp.StatusCode != 204 {
		t.Fatalf("violation: %d %s", resp.StatusCode, raw)
	}
	var pre apiv1.DispatchPreview
	if st, raw := f.e.Do(t, "POST", f.path(":preview"), req, &pre); st != 200 || len(pre.Targets) != 2 ||
		!slices.ContainsFunc(pre.Skipped, func(s apiv1.SkippedTarget) bool { return s.NodeID == n2.ID && s.Reason == "drifted" }) {
		t.Fatalf("drift gate: %d %s", st, raw)
	}
	req.IncludeDrifted = true
	if st, _ := f.e.Do(t, "POST", f.path(":preview"), req, &pre); st != 200 || len(pre.Targets) != 3 {
		t.Errorf("include_drifted: %+v", pre)
	}
	var caps2 apiv1.List[apiv1.CapabilityRow]
	if st, raw := f.e.Do(t, "GET", "/v1/projects/"+f.enr.Project.ID+"/capabilities?status=drift", nil, &caps2); st != 200 ||
		len(caps2.Items) != 1 || caps2.Items[0].NodeID != n2.ID {
		t.Errorf("capabilities: %d %s", st, raw)
	}
	var hooks apiv1.List[apiv1.DiscoveredHook]
	if st, raw := f.e.Do(t, "GET", "/v1/hooks?project_id="+f.enr.Project.ID, nil, &hooks); st != 200 || len(hooks.Items) != 1 ||
		hooks.Items[0].ImageDigestMatch || hooks.Items[0].ImageDigest != "sha256:"+sum {
		t.Errorf("hooks: %d %s", st, raw)
	}
	var vs apiv1.List[apiv1.IntegrityViolationRow]
	if st, raw := f.e.Do(t, "GET", "/v1/integrity-violations?status=open&node_id="+n2.ID, nil, &vs); st != 200 || len(vs.Items) != 1 {
		t.Fatalf("violations: %d %s", st, raw)
	}
	ack := "/v1/integrity-violations/" + vs.Items[0].ID + "/acknowledge"
	if st, raw := f.e.Do(t, "POST", ack, map[string]string{"reason": "   "}, nil); st != 400 || code(raw) != "invalid_acknowledge_reason" {
		t.Errorf("blank reason: %d %s", st, raw)
	}
	var row apiv1.IntegrityViolationRow
	if st, raw := f.e.Do(t, "POST", ack, map[string]string{"reason": "hook updated by the backup team, ticket 42"}, &row); st != 200 ||
		row.Status != "acknowledged" || row.AcknowledgedAt == nil {
		t.Fatalf("acknowledge: %d %s", st, raw)
	}
	if st, raw := f.e.Do(t, "POST", ack, map[string]string{"reason": "again"}, nil); st != 409 || code(raw) != "illegal_transition" {
		t.Errorf("second acknowledge: %d %s", st, raw)
	}
	req.IncludeDrifted = false
	if st, _ := f.e.Do(t, "POST", f.path(":preview"), req, &pre); st != 200 || len(pre.Targets) != 3 {
		t.Errorf("after the acknowledgement: %+v", pre)
	}
	var list apiv1.List[apiv1.Execution]
	if st, raw := f.e.Do(t, "GET", f.path("?action_name=backup"), nil, &list); st != 200 || len(list.Items) != 1 || len(list.Items[0].Targets) != 0 {
		t.Errorf("list: %d %s", st, raw)
	}
}

// TestProgressStream: the operator's event stream shows each target's
// change and ends with the execution's final status.
func TestProgressStream(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 2)
	var ex apiv1.Execution
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "gather_info",
		Selector: f.roleQ + "=web"}, &ex); st != 201 {
		t.Fatalf("dispatch: %d %s", st, raw)
	}
	req, _ := http.NewRequest("GET", f.e.URL+f.path("/", ex.ID, "/events"), nil)
	req.Header.Set("Authorization", "Bearer "+f.e.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	defer resp.Body.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		for _, n := range f.nodes {
			f.result(t, n, ex.ID, nodeproto.ResultSuccess, 0)
		}
	}()
	body, err := io.ReadAll(resp.Body) // the stream ends with the execution
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	if strings.Count(text, "event: target") < 4 || !strings.Contains(text, `"status":"succeeded"`) ||
		!strings.HasSuffix(strings.TrimSpace(text), `"targets":[]}`) || !strings.Contains(text, "event: execution") {
		t.Fatalf("stream:\n%s", text)
	}
}
