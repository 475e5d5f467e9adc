package integration

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/enroll"
	"github.com/plexsphere/plexsphere/internal/plexd/firewall"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/wg"
	"github.com/plexsphere/plexsphere/internal/policy/policytest"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// TestNetstackPolicyEnforced: the real control plane and three netstack
// nodes whose engines carry the userspace filter go through the scenario
// table the privileged end-to-end test uses (internal/policy/policytest:
// "role=web → role=db tcp/5432", an ICMP rule, a relabel, the policy's
// deletion, the Domain default), and db reports its drops.
func TestNetstackPolicyEnforced(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	enr := e.NewEnrolment(t, "polns", "100.68.0.0/24", 3)
	var def apiv1.LabelDefinition
	if st, raw := e.Do(t, "POST", "/v1/label-definitions", map[string]any{"scope": "domain", "scope_id": enr.Domain.ID,
		"local_key": "role", "value_schema": map[string]any{"kind": "string"}, "applicable_kinds": []string{"node"}}, &def); st != 201 {
		t.Fatalf("label definition: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "PUT", "/v1/domains/"+enr.Domain.ID+"/policy-default", map[string]string{"policy_default": "deny"}, nil); st != 200 {
		t.Fatalf("deny default: %d %s", st, raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wgr sync.WaitGroup
	t.Cleanup(func() { cancel(); wgr.Wait() })
	log := slog.New(slog.DiscardHandler)

	type pnode struct {
		id     *identity.Identity
		engine *wg.Engine
		fw     *firewall.Userspace
		ag     *agent.Agent
	}
	ports := map[string]int{}
	nodes := map[string]*pnode{}
	for _, role := range []string{"web", "db", "other"} {
		store, _ := identity.NewStore(t.TempDir())
		cl := mustClient(t, e.URL)
		id, err := enroll.Join(ctx, enroll.Options{Client: cl, Store: store, Token: enr.Token.Token, Server: e.URL, Hostname: role})
		if err != nil {
			t.Fatalf("%s join: %v", role, err)
		}
		cl.SetCredentials(id.NodeID, id.NSK)
		if st, raw := e.Do(t, "PUT", "/v1/objects/node/"+id.NodeID+"/labels", map[string]any{"definition_id": def.ID, "value": role}, nil); st/100 != 2 {
			t.Fatalf("label %s: %d %s", role, st, raw)
		}
		fw := firewall.NewUserspace(firewall.UserspaceOptions{})
		port := freeUDPPort(t)
		eng, err := wg.New(wg.Options{Backend: wg.BackendNetstack, ListenPort: port, Logger: log, WrapTUN: fw.Wrap,
			Tick: 200 * time.Millisecond, ProbeInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		ports[id.NodeID] = port
		ag, err := agent.New(agent.Options{Identity: id, Store: store, ControlPlane: cl, Rotator: cl,
			Mesh: loopbackPeers{Engine: eng, ports: ports}, Firewall: fw, Logger: log,
			HeartbeatInterval: time.Second, ReconcileInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		nodes[role] = &pnode{id: id, engine: eng, fw: fw, ag: ag}
	}
	for _, nd := range nodes {
		wgr.Go(func() { nd.ag.Run(ctx) })
	}
	db := nodes["db"]
	deadline := time.Now().Add(30 * time.Second)
	for db.engine.Net() == nil || nodes["web"].engine.Net() == nil || nodes["other"].engine.Net() == nil {
		if time.Now().After(deadline) {
			t.Fatal("netstacks never came up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dbIP := netip.MustParseAddr(db.id.MeshIP)
	for _, port := range policytest.ListenPorts {
		ln, err := db.engine.Net().ListenTCPAddrPort(netip.AddrPortFrom(dbIP, port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	ids := map[string]string{}
	for role, nd := range nodes {
		ids[role] = nd.id.NodeID
	}
	policytest.Run(t, policytest.Harness{
		API: func(t testing.TB, method, path string, body, out any) (int, []byte) {
			return e.Do(t, method, path, body, out)
		},
		DomainID:   enr.Domain.ID,
		ProjectID:  enr.Project.ID,
		LabelDefID: def.ID,
		LabelKey:   def.QualifiedKey,
		NodeID:     ids,
		Probe: func(ctx context.Context, f policytest.Flow) error {
			return netstackProbe(ctx, nodes[f.From].engine.Net(), netip.MustParseAddr(nodes[f.From].id.MeshIP), netip.MustParseAddr(nodes[f.To].id.MeshIP), f)
		},
		Fingerprint: func(role string) string { return nodes[role].fw.Stats().Fingerprint },
	})
	if s := db.fw.Stats(); s.Denied == 0 {
		t.Fatalf("db counted no drop: %+v", s)
	}
	if hb := db.ag.Heartbeat().Policy; hb == nil || hb.Denied == 0 || hb.Backend != firewall.BackendUserspace {
		t.Fatalf("db heartbeat policy %+v", hb)
	}
}

// netstackProbe attempts one flow of the scenario from a netstack: a TCP
// connect, or one ICMP echo answered before ctx ends.
func netstackProbe(ctx context.Context, n *netstack.Net, from, to netip.Addr, f policytest.Flow) error {
	if f.Protocol != "icmp" {
		c, err := n.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(to, f.Port))
		if err != nil {
			return err
		}
		return c.Close()
	}
	pc, err := n.DialPingAddr(from, to)
	if err != nil {
		return err
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		pc.SetReadDeadline(dl)
	}
	// An echo request (type 8); the stack fills in identifier and checksum.
	if _, err := pc.Write([]byte{8, 0, 0, 0, 0, 0, 0, 1, 'p', 'l', 'e', 'x'}); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, err := pc.Read(buf)
		if err != nil {
			return err
		}
		if n >= 8 && buf[0] == 0 { // echo reply
			return nil
		}
	}
}
