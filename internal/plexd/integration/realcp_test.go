package integration

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// countingCP counts drift reports on top of the real client.
type countingCP struct {
	*cpclient.Client
	drifts atomic.Int32
}

func (c *countingCP) Drift(ctx context.Context, r nodeproto.DriftReport) error {
	c.drifts.Add(1)
	return c.Client.Drift(ctx, r)
}

type node struct {
	id    *identity.Identity
	cp    *countingCP
	mesh  *mesh.Memory
	agent *agent.Agent
}

func peerIDs(m *mesh.Memory) []string {
	var ids []string
	for _, p := range m.Applied().Peers {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestNodesConvergeOnTheRealControlPlane enrols N plexd cores from one
// multi-use token against the real control plane on SQLite, waits until
// every node's mesh holds every other node, checks that a further
// reconcile reports no drift, then deletes one node and checks that the
// peer_removed event emitted to all arrives at all.
func TestNodesConvergeOnTheRealControlPlane(t *testing.T) {
	n := 50 // the issue's harness size; PLEXD_HARNESS_NODES overrides
	if testing.Short() {
		n = 3
	}
	if os.Getenv("PLEXD_HARNESS_NODES") != "" {
		fmt.Sscan(os.Getenv("PLEXD_HARNESS_NODES"), &n)
	}
	e := apptest.Start(t, apptest.SQLite)
	var dom apiv1.Domain
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "mesh", Slug: "mesh", MeshCIDR: "100.64.0.0/16"}, &dom); st != 201 {
		t.Fatalf("create domain: %d %s", st, raw)
	}
	e.AllowAll(t, dom.ID) // a full mesh without policies (new Domains deny)
	var proj apiv1.Project
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom.ID, Name: "p", Slug: "p"}, &proj); st != 201 {
		t.Fatalf("create project: %d %s", st, raw)
	}
	var tok apiv1.IssuedBootstrapToken
	if st, raw := e.Do(t, "POST", "/v1/projects/"+proj.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test", MaxUses: n}, &tok); st != 201 {
		t.Fatalf("issue token: %d %s", st, raw)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := make([]*node, n)
	for i := range nodes {
		store, _ := identity.NewStore(t.TempDir())
		cl, err := cpclient.New(cpclient.Options{Server: e.URL})
		if err != nil {
			t.Fatal(err)
		}
		id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: tok.Token, Server: e.URL, Hostname: fmt.Sprintf("h%d", i)})
		if err != nil {
			t.Fatalf("node %d join: %v", i, err)
		}
		cl.SetCredentials(id.NodeID, id.NSK)
		nd := &node{id: id, cp: &countingCP{Client: cl}, mesh: mesh.NewMemory()}
		nd.agent, err = agent.New(agent.Options{Identity: id, Store: store, ControlPlane: nd.cp, Mesh: nd.mesh,
			Logger: log, HeartbeatInterval: time.Second, ReconcileInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
		wg.Go(func() { nd.agent.Run(ctx) })
	}
	if _, err := enroll.Join(ctx, enroll.Options{Client: mustClient(t, e.URL), Store: mustStore(t), Token: tok.Token}); err == nil {
		t.Error("the token enrolled more nodes than max_uses")
	}

	all := make([]string, 0, n)
	for _, nd := range nodes {
		all = append(all, nd.id.NodeID)
	}
	converge := func(want func(self string) []string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			done := true
			for _, nd := range nodes {
				if nd == nil {
					continue
				}
				w := want(nd.id.NodeID)
				slices.Sort(w)
				if !slices.Equal(peerIDs(nd.mesh), w) {
					done = false
					if time.Now().After(deadline) {
						st, err := nd.cp.State(ctx)
						t.Logf("state of %s: %+v %v", nd.id.NodeID, st, err)
						t.Fatalf("node %s has peers %v, want %v (connection %s)", nd.id.NodeID, peerIDs(nd.mesh), w, nd.agent.Status().Connection)
					}
				}
			}
			if done {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	others := func(set []string) func(string) []string {
		return func(self string) []string {
			return slices.DeleteFunc(slices.Clone(set), func(s string) bool { return s == self })
		}
	}
	// Every node reaches the full mesh (peer_added events to running
	// nodes, the first state pull for the rest).
	converge(others(all))

	// Steady state: another reconcile from state changes nothing.
	for _, nd := range nodes {
		before := nd.cp.drifts.Load()
		if err := nd.agent.Reconcile(ctx); err != nil {
			t.Fatalf("reconcile %s: %v", nd.id.NodeID, err)
		}
		if nd.cp.drifts.Load() != before {
			t.Errorf("node %s reported drift in a steady state", nd.id.NodeID)
		}
		if st := nd.agent.Status(); st.Connection != "connected" || st.EventsRejected != 0 {
			t.Errorf("node %s: connection %s, %d events rejected", nd.id.NodeID, st.Connection, st.EventsRejected)
		}
	}

	// Rotate the Domain's signing key during the live streams: the
	// rotation event is signed by the old key, later events by the new one.
	var rot apiv1.SigningKeyRotation
	if st, raw := e.Do(t, "POST", "/v1/domains/"+dom.ID+"/signing-keys:rotate", apiv1.RotateSigningKey{}, &rot); st != 200 && st != 201 {
		t.Fatalf("rotate signing key: %d %s", st, raw)
	}
	for _, nd := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for nd.agent.Verifier().Keys().Current.Public.Equal(firstKey(t, nd)) {
			if time.Now().After(deadline) {
				t.Fatalf("node %s never installed the rotated key", nd.id.NodeID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// An event to all: deleting node 0 emits peer_removed to every peer,
	// which each must apply without a state pull (signed with the new key).
	gone := nodes[0].id.NodeID
	if st, raw := e.Do(t, "DELETE", "/v1/nodes/"+gone, nil, nil); st != 204 && st != 200 {
		t.Fatalf("delete node: %d %s", st, raw)
	}
	nodes[0] = nil
	converge(others(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == gone })))
	for _, nd := range nodes[1:] {
		if st := nd.agent.Status(); st.EventsRejected != 0 {
			t.Errorf("node %s rejected %d events across the rotation", nd.id.NodeID, st.EventsRejected)
		}
	}
}

// firstKey is the node's registration-time signing key.
func firstKey(t *testing.T, nd *node) ed25519.PublicKey {
	k, err := nodeproto.ParseKey32(nd.id.RegistrationSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	return k[:]
}

func mustClient(t *testing.T, url string) *cpclient.Client {
	cl, err := cpclient.New(cpclient.Options{Server: url})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func mustStore(t *testing.T) *identity.Store {
	s, _ := identity.NewStore(t.TempDir())
	return s
}
