package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/netnstest"
	"github.com/plexsphere/plexsphere/internal/policy/policytest"
)

// policyHosts: the three nodes of the policy scenario on one segment.
var policyHosts = []hostSpec{
	{name: policytest.Web, addr: "198.18.0.41"},
	{name: policytest.DB, addr: "198.18.0.42"},
	{name: policytest.Other, addr: "198.18.0.43"},
}

// policyStatus is the policy object of `plexd status -o json`.
type policyStatus struct {
	Backend     string `json:"backend"`
	Enforcing   bool   `json:"enforcing"`
	Fingerprint string `json:"fingerprint"`
	RevisionID  string `json:"revision_id"`
	Rules       int    `json:"rules"`
	Denied      uint64 `json:"denied"`
	Error       string `json:"error"`
}

// policyOf reads the policy object of n's `plexd status -o json`.
func (m *meshLab) policyOf(n *meshNode) (*policyStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "plexd"), "status", "-o", "json", "--socket", n.sock).Output()
	if err != nil {
		return nil, fmt.Errorf("plexd status: %v %s", err, out)
	}
	var st struct {
		Policy *policyStatus `json:"policy"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, err
	}
	if st.Policy == nil {
		return nil, fmt.Errorf("no policy in status: %s", out)
	}
	return st.Policy, nil
}

// probe attempts one flow of the scenario from its source's namespace to
// its destination's mesh IP: a TCP connect, or one ping.
func (m *meshLab) probe(ctx context.Context, f policytest.Flow) error {
	from, to := m.nodes[f.From], m.nodes[f.To]
	if f.Protocol == "icmp" {
		// ping's -W is whole seconds; ctx cuts it shorter.
		_, err := m.lab.Exec(ctx, from.ns, "ping", "-n", "-q", "-c", "1", "-W", "1", to.meshIP)
		return err
	}
	c, err := netnstest.Dial(ctx, from.ns, "tcp", net.JoinHostPort(to.meshIP, strconv.Itoa(int(f.Port))))
	if err != nil {
		return err
	}
	return c.Close()
}

// TestPolicyInNamespaces is issue 10's privileged end-to-end test: the
// real plexsphere and three real plexd (userspace WireGuard, so the
// nftables backend enforces) each in its own network namespace, a Domain
// whose default is deny, and the shared scenario table of
// internal/policy/policytest driven through the API with real TCP
// connections and pings over the mesh IPs.
func TestPolicyInNamespaces(t *testing.T) {
	start := time.Now()
	m := newMeshLab(t, policyHosts)
	defer func() {
		if t.Failed() {
			m.dump(t)
			for _, name := range m.order {
				if ps, err := m.policyOf(m.nodes[name]); err == nil {
					t.Logf("%s policy status: %+v", name, *ps)
				}
				out, _ := m.lab.Exec(context.Background(), m.nodes[name].ns, "nft", "list", "table", "inet", "plexd")
				t.Logf("%s nft:\n%s", name, out)
			}
		}
	}()
	// The lab opens its Domains (allow); this one starts closed.
	if st, raw := m.do(t, "PUT", "/v1/domains/"+m.domainID+"/policy-default", map[string]any{"policy_default": "deny"}, nil); st != 200 {
		t.Fatalf("deny default: %d %s", st, raw)
	}
	var def struct {
		ID           string `json:"id"`
		QualifiedKey string `json:"qualified_key"`
	}
	if st, raw := m.do(t, "POST", "/v1/label-definitions", map[string]any{"scope": "domain", "scope_id": m.domainID,
		"local_key": "role", "value_schema": map[string]any{"kind": "string"}, "applicable_kinds": []string{"node"}}, &def); st != 201 {
		t.Fatalf("label definition: %d %s", st, raw)
	}
	tok := m.issueToken(t, "node", len(m.order))
	for _, name := range m.order {
		m.start(t, m.nodes[name], tok)
	}
	ids := map[string]string{}
	for _, name := range m.order {
		n := m.nodes[name]
		m.waitJoined(t, n, 30*time.Second)
		ids[name] = n.id
		if st, raw := m.do(t, "PUT", "/v1/objects/node/"+n.id+"/labels", map[string]any{"definition_id": def.ID, "value": name}, nil); st/100 != 2 {
			t.Fatalf("label %s: %d %s", name, st, raw)
		}
	}
	// Every node enforces with nftables (the userspace TUN backend prefers
	// it) and, under the deny default, a ruleset with no rule.
	deadline := time.Now().Add(15 * time.Second)
	for _, name := range m.order {
		for {
			ps, err := m.policyOf(m.nodes[name])
			if err == nil && ps.Backend == "nftables" && ps.Enforcing && ps.Error == "" && ps.Rules == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: policy status %+v, %v; want nftables enforcing an empty ruleset", name, ps, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	db := m.nodes[policytest.DB]
	for _, port := range policytest.ListenPorts {
		ln, err := netnstest.Listen(db.ns, "tcp", ":"+strconv.Itoa(int(port)))
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
	t.Logf("lab up, 3 nodes joined and enforcing after %v", time.Since(start).Round(time.Millisecond))

	before, _ := m.policyOf(db)
	policytest.Run(t, policytest.Harness{
		API: m.do, DomainID: m.domainID, ProjectID: m.projectID,
		LabelDefID: def.ID, LabelKey: def.QualifiedKey, NodeID: ids,
		Probe: m.probe,
		Fingerprint: func(role string) string {
			ps, err := m.policyOf(m.nodes[role])
			if err != nil {
				return "error: " + err.Error()
			}
			return ps.Fingerprint
		},
		Settle: 20 * time.Second,
	})
	// db counted the flows it dropped.
	if after, err := m.policyOf(db); err != nil || before == nil || after.Denied <= before.Denied {
		t.Errorf("db's denied counter did not grow: before %+v, after %+v (%v)", before, after, err)
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
