package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/actions"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh/meshtest"
)

// fleetNode is one in-process plexd core: a real agent with its executor.
type fleetNode struct {
	id     *identity.Identity
	cancel context.CancelFunc
	hooks  string
}

// TestFleetOperations is issue 14's harness on the real control plane:
// 50 plexd cores (agent + executor, in-memory mesh) and one existing
// agent replayed as raw HTTP. A selector dispatch of gather_info to all
// 51 with max_in_flight 10 never has more than 10 out and ends with 51
// results; a node stopped mid-rollout ends timeout on the control plane's
// clock; a tampered hook is refused with an integrity violation, its node
// turns drifted and the next dispatch skips it.
func TestFleetOperations(t *testing.T) {
	const n = 50
	e := apptest.Start(t, apptest.SQLite)
	enr := e.NewEnrolment(t, "fleet", "100.85.0.0/24", n+1)
	def, role := e.DefineNodeLabel(t, enr.Domain.ID, "role")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	nodes := make([]*fleetNode, n)
	for i := range nodes {
		store, _ := identity.NewStore(t.TempDir())
		cl := mustClient(t, e.URL)
		id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: enr.Token.Token, Server: e.URL,
			Hostname: fmt.Sprintf("core%d", i)})
		if err != nil {
			t.Fatalf("node %d join: %v", i, err)
		}
		cl.SetCredentials(id.NodeID, id.NSK)
		e.LabelNode(t, def, id.NodeID, "fleet")
		fn := &fleetNode{id: id, hooks: t.TempDir()}
		if i == 0 { // node 0 declares a hook
			writeHook(t, fn.hooks, "echo backed-up")
		}
		nctx, ncancel := context.WithCancel(ctx)
		fn.cancel = ncancel
		var ag *agent.Agent
		ex, err := actions.New(actions.Options{NodeID: id.NodeID, ControlPlane: cl, DataDir: t.TempDir(), HooksDir: fn.hooks,
			HooksPoll: 200 * time.Millisecond, Status: func() actions.NodeStatus {
				st := ag.Status()
				return actions.NodeStatus{MeshIP: st.MeshIP, PeerCount: len(st.Peers), Detail: st}
			}})
		if err != nil {
			t.Fatal(err)
		}
		ag, err = agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Mesh: meshtest.New(64), Actions: ex,
			HeartbeatInterval: time.Hour, ReconcileInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { ex.Run(nctx) })
		wg.Go(func() { ag.Run(nctx) })
		nodes[i] = fn
	}
	// The existing agent, replayed as raw HTTP.
	old := e.RegisterNode(t, enr.Token.Token, "level-one", 1)
	e.LabelNode(t, def, old.ID, "fleet")
	path := "/v1/projects/" + enr.Project.ID + "/executions"
	waitCapabilities(t, e, enr.Project.ID, n)

	t.Run("selector dispatch to 51 nodes, 10 at a time", func(t *testing.T) {
		var ex apiv1.Execution
		if st, raw := e.Do(t, "POST", path+":dispatch", apiv1.DispatchExecutionRequest{Action: "gather_info",
			Selector: role + "=fleet", MaxInFlight: 10, TimeoutSeconds: 60}, &ex); st != 201 || len(ex.Targets) != n+1 {
			t.Fatalf("dispatch: %d %.300s", st, raw)
		}
		peak, repliedOld := 0, false
		deadline := time.Now().Add(60 * time.Second)
		for {
			var out int
			e.Server.DB.QueryRow(`SELECT COUNT(*) FROM execution_targets WHERE execution_id = $1 AND sent_at IS NOT NULL
				AND status IN ('pending', 'ack', 'started')`, ex.ID).Scan(&out)
			peak = max(peak, out)
			if !repliedOld && sentTo(t, e, ex.ID, old.ID) {
				res := nodeproto.ExecutionResult{ExecutionID: ex.ID, Status: nodeproto.ResultSuccess, Stdout: "{}", Duration: "5ms",
					FinishedAt: time.Now().UTC()}
				if resp, raw := e.NodeSend(t, old, "POST", "/v1/nodes/"+old.ID+"/executions/"+ex.ID+"/result", res, nil); resp.StatusCode != 204 {
					t.Fatalf("level-1 result: %d %s", resp.StatusCode, raw)
				}
				repliedOld = true
			}
			var got apiv1.Execution
			e.Do(t, "GET", path+"/"+ex.ID, nil, &got)
			if got.Status == "succeeded" {
				ok := 0
				for _, tg := range got.Targets {
					if tg.Status == "succeeded" {
						ok++
					}
				}
				if ok != n+1 {
					t.Fatalf("%d of %d targets succeeded", ok, n+1)
				}
				break
			}
			if time.Now().After(deadline) || got.Status == "failed" || got.Status == "timeout" {
				t.Fatalf("execution %s after 60 s: %+v", got.Status, got.Targets)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("peak in flight: %d", peak)
		if peak > 10 {
			t.Errorf("%d targets were out at once (max_in_flight 10)", peak)
		}
	})

	t.Run("a node stopped mid-execution times out", func(t *testing.T) {
		victim := nodes[n-1]
		victim.cancel()
		var ex apiv1.Execution
		if st, raw := e.Do(t, "POST", path+":dispatch", apiv1.DispatchExecutionRequest{Action: "gather_info",
			NodeID: victim.id.NodeID, TimeoutSeconds: 1}, &ex); st != 201 {
			t.Fatalf("dispatch: %d %s", st, raw)
		}
		// The control plane's deadline (timeout plus margin) passes.
		e.Server.DB.Exec(`UPDATE execution_targets SET deadline = 1 WHERE execution_id = $1`, ex.ID)
		if _, err := e.Server.Actions.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		var got apiv1.Execution
		if e.Do(t, "GET", path+"/"+ex.ID, nil, &got); got.Status != "timeout" || got.Targets[0].Status != "timeout" {
			t.Fatalf("stopped node: %+v", got)
		}
	})

	t.Run("a tampered hook is refused and its node drifts", func(t *testing.T) {
		hooked := nodes[0]
		writeHookBody(t, hooked.hooks, "echo tampered") // the manifest still pins the old digest
		var ex apiv1.Execution
		if st, raw := e.Do(t, "POST", path+":dispatch", apiv1.DispatchExecutionRequest{Action: "backup", Type: "hook",
			NodeID: hooked.id.NodeID, TimeoutSeconds: 30}, &ex); st != 201 {
			t.Fatalf("hook dispatch: %d %s", st, raw)
		}
		var got apiv1.Execution
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			e.Do(t, "GET", path+"/"+ex.ID, nil, &got)
			if got.Status == "failed" || time.Now().After(deadline) {
				break
			}
		}
		if got.Status != "failed" || got.Targets[0].Stdout == "tampered\n" {
			t.Fatalf("tampered hook: %+v", got)
		}
		var vs apiv1.List[apiv1.IntegrityViolationRow]
		for deadline := time.Now().Add(10 * time.Second); len(vs.Items) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			e.Do(t, "GET", "/v1/integrity-violations?status=open&node_id="+hooked.id.NodeID, nil, &vs)
		}
		if len(vs.Items) == 0 || vs.Items[0].Kind != "hook" {
			t.Fatalf("no hook violation: %+v", vs)
		}
		var pre apiv1.DispatchPreview
		if st, raw := e.Do(t, "POST", path+":preview", apiv1.DispatchExecutionRequest{Action: "gather_info",
			Selector: role + "=fleet"}, &pre); st != 200 ||
			!slices.ContainsFunc(pre.Skipped, func(s apiv1.SkippedTarget) bool { return s.NodeID == hooked.id.NodeID && s.Reason == "drifted" }) {
			t.Fatalf("the drifted node is not skipped: %d %s", st, raw)
		}
	})
}

// sentTo reports whether the node's target of the execution was sent.
func sentTo(t *testing.T, e *apptest.Env, execID, nodeID string) bool {
	var sent *int64
	e.Server.DB.QueryRow(`SELECT sent_at FROM execution_targets WHERE execution_id = $1 AND node_id = $2`, execID, nodeID).Scan(&sent)
	return sent != nil
}

// waitCapabilities waits until every core has reported its manifest.
func waitCapabilities(t *testing.T, e *apptest.Env, project string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var rows apiv1.List[apiv1.CapabilityRow]
		e.Do(t, "GET", "/v1/projects/"+project+"/capabilities?status=match&limit=200", nil, &rows)
		if len(rows.Items) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d nodes reported capabilities", len(rows.Items), n)
		}
	}
}

// writeHook installs the hook "backup" (a shell script) with a manifest
// pinning its digest.
func writeHook(t *testing.T, dir, body string) {
	t.Helper()
	script := writeHookBody(t, dir, body)
	raw, _ := os.ReadFile(script)
	sum := sha256.Sum256(raw)
	manifest := fmt.Sprintf("name: backup\ndescription: test hook\ncommand: %s\ntimeout: 10s\nchecksum: %s\n", script, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(dir, "backup.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeHookBody(t *testing.T, dir, body string) string {
	t.Helper()
	script := filepath.Join(dir, "backup.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}
