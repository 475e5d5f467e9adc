// Package policytest is the one scenario table of issue 10's enforcement
// tests: the phases an operator goes through with the policy
// "role=web → role=db tcp/5432" (create, add an ICMP rule, relabel a
// node, delete the policy, open the Domain default) and the verdict every
// flow must get in each. The privileged end-to-end test (real plexd,
// nftables, network namespaces) and the in-process harness (netstack, the
// userspace filter) both drive this table through Run, so the two
// enforcement backends are held to the same expectations.
package policytest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The three nodes of the scenario, by the value of their role label.
const (
	Web   = "web"
	DB    = "db"
	Other = "other"
)

// Roles are the scenario's nodes; each starts labelled role=<name>.
var Roles = []string{Web, DB, Other}

// ListenPorts are the TCP ports a harness serves on the db node.
var ListenPorts = []uint16{5432, 22}

// Flow is one attempted connection and its expected verdict: a TCP
// connect to Port, or an ICMP echo (Protocol "icmp", no port), from one
// node to another's mesh IP.
type Flow struct {
	From, To string
	Protocol string // "tcp" | "icmp"
	Port     uint16
	Allow    bool
}

func (f Flow) String() string {
	v := "deny"
	if f.Allow {
		v = "allow"
	}
	if f.Protocol == "icmp" {
		return fmt.Sprintf("%s→%s icmp (%s)", f.From, f.To, v)
	}
	return fmt.Sprintf("%s→%s %s/%d (%s)", f.From, f.To, f.Protocol, f.Port, v)
}

// Step is the operator action that opens a phase.
type Step int

// The steps, in the order Phases uses them.
const (
	// CreatePolicy creates "web-to-db": role=web → role=db, allow tcp/5432.
	CreatePolicy Step = iota
	// AllowICMP patches the policy with a second rule, allow icmp.
	AllowICMP
	// RelabelOther sets other's role label to web.
	RelabelOther
	// DeletePolicy deletes the policy; the Domain default (deny) applies.
	DeletePolicy
	// DefaultAllow puts the Domain default to allow.
	DefaultAllow
)

// Phase is one step and the verdicts that hold once it took effect.
type Phase struct {
	Name  string
	Step  Step
	Flows []Flow
	// Within bounds the time from the step's request to the first moment
	// every allowed flow passes (0: only the harness's deadline).
	Within time.Duration
}

func tcp(from, to string, port uint16, allow bool) Flow {
	return Flow{From: from, To: to, Protocol: "tcp", Port: port, Allow: allow}
}

func icmp(from, to string, allow bool) Flow {
	return Flow{From: from, To: to, Protocol: "icmp", Allow: allow}
}

// Phases is the scenario table. The Domain starts with policy_default
// deny and no policy.
var Phases = []Phase{
	{Name: "policy web→db tcp/5432", Step: CreatePolicy, Flows: []Flow{
		tcp(Web, DB, 5432, true),
		tcp(Web, DB, 22, false),
		tcp(Other, DB, 5432, false),
		icmp(Web, DB, false),
	}},
	{Name: "revision adds icmp", Step: AllowICMP, Flows: []Flow{
		icmp(Web, DB, true),
		tcp(Web, DB, 5432, true),
		tcp(Web, DB, 22, false),
		icmp(Other, DB, false),
	}},
	{Name: "other relabelled role=web", Step: RelabelOther, Within: 2 * time.Second, Flows: []Flow{
		tcp(Other, DB, 5432, true),
		icmp(Other, DB, true),
		tcp(Web, DB, 5432, true),
		tcp(Other, DB, 22, false),
	}},
	{Name: "policy deleted, Domain default deny", Step: DeletePolicy, Flows: []Flow{
		tcp(Web, DB, 5432, false),
		tcp(Other, DB, 5432, false),
		icmp(Web, DB, false),
	}},
	{Name: "Domain default allow", Step: DefaultAllow, Flows: []Flow{
		tcp(Web, DB, 5432, true),
		tcp(Web, DB, 22, true),
		tcp(Other, DB, 5432, true),
		icmp(Web, DB, true),
	}},
}

// Harness is what Run needs of a test set-up: the operator API of a
// control plane, the ids of the scenario's Domain, Project and role label,
// the nodes (already labelled with their role and running), and a way to
// attempt a flow.
type Harness struct {
	// API sends an operator request; out is decoded from a 2xx body.
	API        func(t testing.TB, method, path string, body, out any) (int, []byte)
	DomainID   string
	ProjectID  string
	LabelDefID string
	// LabelKey is the role label's qualified key, used in selectors.
	LabelKey string
	// NodeID maps each of Roles to its node id.
	NodeID map[string]string
	// Probe attempts f once; nil when the connection was established (or
	// the echo answered) before ctx ended.
	Probe func(ctx context.Context, f Flow) error
	// Fingerprint reads the fingerprint a node's firewall enforces now
	// (optional): Run checks that the relabel changed db's.
	Fingerprint func(role string) string
	// Settle bounds each phase (default 30 s).
	Settle time.Duration
	// AllowTimeout and DenyTimeout bound one probe of an allowed / a
	// denied flow (defaults 400 ms and 1 s).
	AllowTimeout, DenyTimeout time.Duration
}

// Run drives every phase of Phases in order: it performs the step through
// the API, then waits until every allowed flow passes and every denied
// flow is refused, logging how long each phase took to converge.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Settle == 0 {
		h.Settle = 30 * time.Second
	}
	if h.AllowTimeout == 0 {
		h.AllowTimeout = 400 * time.Millisecond
	}
	if h.DenyTimeout == 0 {
		h.DenyTimeout = time.Second
	}
	var policyID string
	for _, ph := range Phases {
		var fp string
		if h.Fingerprint != nil {
			fp = h.Fingerprint(DB)
		}
		started := time.Now()
		policyID = step(t, h, ph.Step, policyID)
		allowed, settled := converge(t, h, ph, started)
		first := "no allowed flow"
		if allowed >= 0 {
			first = "allowed flows pass after " + allowed.Round(time.Millisecond).String()
		}
		t.Logf("phase %q: %s, all %d verdicts hold after %v", ph.Name, first, len(ph.Flows), settled.Round(time.Millisecond))
		if ph.Within > 0 && allowed > ph.Within {
			t.Errorf("phase %q: allowed flows passed only after %v (bound %v)", ph.Name, allowed.Round(time.Millisecond), ph.Within)
		}
		if ph.Step == RelabelOther && h.Fingerprint != nil {
			if now := h.Fingerprint(DB); now == fp {
				t.Errorf("db's enforced ruleset did not change with the relabel (fingerprint %q)", now)
			}
		}
		if t.Failed() {
			return
		}
	}
}

// step performs one operator action and returns the policy id.
func step(t *testing.T, h Harness, s Step, policyID string) string {
	t.Helper()
	policies := "/v1/projects/" + h.ProjectID + "/policies"
	switch s {
	case CreatePolicy:
		var p struct {
			ID string `json:"id"`
		}
		body := map[string]any{"slug": "web-to-db",
			"selector": map[string]string{"source": h.LabelKey + "=" + Web, "destination": h.LabelKey + "=" + DB},
			"rules":    []any{rule("tcp", 5432)}}
		if st, raw := h.API(t, "POST", policies, body, &p); st != 201 || p.ID == "" {
			t.Fatalf("create policy: %d %s", st, raw)
		}
		return p.ID
	case AllowICMP:
		if st, raw := h.API(t, "PATCH", policies+"/"+policyID, map[string]any{"rules": []any{rule("tcp", 5432), rule("icmp", 0)}}, nil); st != 200 {
			t.Fatalf("patch policy: %d %s", st, raw)
		}
	case RelabelOther:
		if st, raw := h.API(t, "PUT", "/v1/objects/node/"+h.NodeID[Other]+"/labels", map[string]any{"definition_id": h.LabelDefID, "value": Web}, nil); st/100 != 2 {
			t.Fatalf("relabel other: %d %s", st, raw)
		}
	case DeletePolicy:
		if st, raw := h.API(t, "DELETE", policies+"/"+policyID, nil, nil); st != 204 {
			t.Fatalf("delete policy: %d %s", st, raw)
		}
	case DefaultAllow:
		if st, raw := h.API(t, "PUT", "/v1/domains/"+h.DomainID+"/policy-default", map[string]string{"policy_default": "allow"}, nil); st != 200 {
			t.Fatalf("default allow: %d %s", st, raw)
		}
	default:
		t.Fatalf("unknown step %d", s)
	}
	return policyID
}

// rule is an allow rule over all addresses; port 0 means no ports.
func rule(proto string, port uint16) map[string]any {
	r := map[string]any{"action": "allow", "protocol": proto, "source_cidr": "0.0.0.0/0", "destination_cidr": "0.0.0.0/0"}
	if port != 0 {
		r["ports"] = map[string]uint16{"from": port, "to": port}
	}
	return r
}

// converge waits first until the allowed flows of ph all pass (short
// probes, so the time is measured finely), then until every flow has its
// verdict in one round, returning both times. A denied flow that passes
// is retried until the deadline, since enforcement may still be on its
// way. (In a phase with only denied flows a mesh that is not up would
// pass too; the phase after it shows the mesh carries traffic again.)
func converge(t *testing.T, h Harness, ph Phase, started time.Time) (allowed, settled time.Duration) {
	t.Helper()
	deadline := started.Add(h.Settle)
	var allow []Flow
	for _, f := range ph.Flows {
		if f.Allow {
			allow = append(allow, f)
		}
	}
	if len(allow) == 0 {
		allowed = -1 // none; the first pass below is then the full one
	}
	for _, flows := range [][]Flow{allow, ph.Flows} {
		if len(flows) == 0 {
			continue
		}
		for {
			bad := probeAll(h, flows)
			if len(bad) == 0 {
				break
			}
			if time.Now().After(deadline) {
				for f, why := range bad {
					t.Errorf("phase %q: %v: %s", ph.Name, f, why)
				}
				t.FailNow()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if allowed == 0 {
			allowed = time.Since(started)
		}
	}
	return allowed, time.Since(started)
}

// probeAll attempts every flow at once and returns the ones whose verdict
// differs from the expected one, with what happened.
func probeAll(h Harness, flows []Flow) map[Flow]string {
	var mu sync.Mutex
	bad := map[Flow]string{}
	var wg sync.WaitGroup
	for _, f := range flows {
		wg.Go(func() {
			timeout := h.DenyTimeout
			if f.Allow {
				timeout = h.AllowTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			err := h.Probe(ctx, f)
			var why string
			switch {
			case f.Allow && err != nil:
				why = "refused: " + err.Error()
			case !f.Allow && err == nil:
				why = "passed"
			}
			if why != "" {
				mu.Lock()
				bad[f] = why
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return bad
}
