package actions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/actions"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/cptest"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh/meshtest"
)

// results collects what the executors of several nodes post (cptest
// serves the stream, not the execution callbacks).
type results struct {
	*cpclient.Client // IntegrityViolation: the real call (unused here)
	node             string
	out              chan<- nodeproto.ExecutionResult
}

func (r results) ExecutionAck(context.Context, string, string, nodeproto.ExecutionAck) error {
	return nil
}
func (r results) PutCapabilities(context.Context, string, nodeproto.Capabilities) error { return nil }
func (r results) ExecutionResult(_ context.Context, nodeID, _ string, res nodeproto.ExecutionResult) error {
	if nodeID != r.node {
		return fmt.Errorf("result of node %s posted as %s", r.node, nodeID)
	}
	r.out <- res
	return nil
}

// TestSignedActionRequestsRunOnEveryNode is the harness shape: N joined
// nodes, each a real agent with an executor; an action_request emitted to
// each over the signed event stream runs exactly once per node, even when
// the stream is dropped and the event replayed.
func TestSignedActionRequestsRunOnEveryNode(t *testing.T) {
	const n = 3
	cp := cptest.New(t, cptest.Options{})
	out := make(chan nodeproto.ExecutionResult, 3*n)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	ids := make([]string, n)
	for i := range n {
		tok := fmt.Sprintf("psb_actions_%d", i)
		cp.AddToken(tok, 1)
		store, _ := identity.NewStore(t.TempDir())
		cl, _ := cpclient.New(cpclient.Options{Server: cp.URL})
		id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: tok, Server: cp.URL, Hostname: "h"})
		if err != nil {
			t.Fatal(err)
		}
		cl.SetCredentials(id.NodeID, id.NSK)
		ids[i] = id.NodeID
		var ag *agent.Agent
		ex, err := actions.New(actions.Options{NodeID: id.NodeID, ControlPlane: results{Client: cl, node: id.NodeID, out: out},
			DataDir: t.TempDir(), Status: func() actions.NodeStatus {
				st := ag.Status()
				return actions.NodeStatus{MeshIP: st.MeshIP, PeerCount: len(st.Peers), Detail: st}
			}})
		if err != nil {
			t.Fatal(err)
		}
		ag, err = agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Mesh: meshtest.New(16), Actions: ex,
			HeartbeatInterval: time.Hour, ReconcileInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { ex.Run(ctx) })
		wg.Go(func() { ag.Run(ctx) })
	}
	for range n {
		<-cp.Connects
	}
	for _, id := range ids {
		cp.Emit(id, nodeproto.EventActionRequest, nodeproto.ActionRequest{ExecutionID: "exec-" + id, Action: nodeproto.BuiltinGatherInfo})
	}
	seen := map[string]nodeproto.GatherInfo{}
	for range n {
		select {
		case r := <-out:
			var gi nodeproto.GatherInfo
			if r.Status != nodeproto.ResultSuccess || json.Unmarshal([]byte(r.Stdout), &gi) != nil || r.ExecutionID != "exec-"+gi.NodeID {
				t.Fatalf("result %+v", r)
			}
			seen[gi.NodeID] = gi
		case <-time.After(10 * time.Second):
			t.Fatalf("results from %d of %d nodes", len(seen), n)
		}
	}
	for _, id := range ids {
		if gi, ok := seen[id]; !ok || gi.MeshIP == "" {
			t.Errorf("node %s: %+v", id, gi)
		}
	}
	// The same execution id again, as a redelivery would bring it: it
	// never runs twice.
	cp.Emit(ids[0], nodeproto.EventActionRequest, nodeproto.ActionRequest{ExecutionID: "exec-" + ids[0], Action: nodeproto.BuiltinGatherInfo})
	select {
	case r := <-out:
		t.Errorf("a redelivered request ran again: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
}
