package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/policy/compile"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Bounds of one evaluation.
const (
	// maxPairsPerTest bounds the node pairs one test evaluates.
	maxPairsPerTest = 100_000
	// maxFailuresPerTest bounds the failing pairs reported per test.
	maxFailuresPerTest = 20
)

// Inventory loads what evaluation needs of a Domain besides its policies:
// the nodes as the compiler sees them (labels, mesh addresses) and the
// Domain's default for uncovered nodes.
type Inventory interface {
	Nodes(ctx context.Context, q store.Querier, domainID string) ([]compile.Node, error)
	Mode(ctx context.Context, q store.Querier, domainID string) (compile.Mode, error)
}

// ToCompile parses a stored revision of projectID's policy for the
// compiler (the policy selects only that Project's nodes).
func ToCompile(projectID, policyID, revisionID string, sel apiv1.PolicySelector, rules []apiv1.NetworkPolicyRule) (compile.Policy, error) {
	p := compile.Policy{ID: policyID, RevisionID: revisionID, Project: projectID, Rules: make([]compile.Rule, 0, len(rules))}
	var err error
	if p.Source, err = ParseSelector(sel.Source); err != nil {
		return p, fmt.Errorf("policy %s: source selector: %w", policyID, err)
	}
	if p.Destination, err = ParseSelector(sel.Destination); err != nil {
		return p, fmt.Errorf("policy %s: destination selector: %w", policyID, err)
	}
	for i, r := range rules {
		c := compile.Rule{Action: r.Action, Protocol: r.Protocol}
		if c.Source, err = netip.ParsePrefix(r.SourceCIDR); err != nil {
			return p, fmt.Errorf("policy %s: rules[%d]: %w", policyID, i, err)
		}
		if c.Destination, err = netip.ParsePrefix(r.DestinationCIDR); err != nil {
			return p, fmt.Errorf("policy %s: rules[%d]: %w", policyID, i, err)
		}
		if r.Ports != nil {
			c.Ports = &nodeproto.PortRange{From: r.Ports.From, To: r.Ports.To}
		}
		p.Rules = append(p.Rules, c)
	}
	return p, p.Validate()
}

// world is a Domain's policies and nodes loaded for evaluation.
type world struct {
	mode     compile.Mode
	policies []compile.Policy
	nodes    []compile.Node
	byID     map[string]compile.Node
}

// load reads the Domain's nodes, default and head revisions.
func (s *Service) load(ctx context.Context, q store.Querier, domainID string) (world, error) {
	w := world{byID: map[string]compile.Node{}}
	var err error
	if w.mode, err = s.cfg.Inventory.Mode(ctx, q, domainID); err != nil {
		return w, err
	}
	nodes, err := s.cfg.Inventory.Nodes(ctx, q, domainID)
	if err != nil {
		return w, err
	}
	for _, n := range nodes {
		if n.Validate() == nil {
			w.nodes = append(w.nodes, n)
			w.byID[n.ID] = n
		}
	}
	heads, err := ForDomain(ctx, q, domainID)
	if err != nil {
		return w, err
	}
	for _, h := range heads {
		p, err := ToCompile(h.ProjectID, h.PolicyID, h.Revision.ID, h.Revision.Selector, h.Revision.Rules)
		if err != nil {
			return w, err
		}
		w.policies = append(w.policies, p)
	}
	return w, nil
}

// with returns the policies with policyID's head replaced by cand (nil:
// removed).
func (w world) with(policyID string, cand *compile.Policy) []compile.Policy {
	out := make([]compile.Policy, 0, len(w.policies)+1)
	for _, p := range w.policies {
		if p.ID != policyID {
			out = append(out, p)
		}
	}
	if cand != nil {
		out = append(out, *cand)
	}
	return out
}

// candidate parses a draft as the next head of projectID's policyID.
func candidate(projectID, policyID string, d Draft) (compile.Policy, error) {
	p, err := ToCompile(projectID, policyID, "candidate", d.Selector, d.Rules)
	if err != nil {
		return p, problem.Internal(err)
	}
	return p, nil
}

// assert runs d's tests against the Domain with d as policyID's head; a
// failing test rejects the revision with 422 policy_test_failed, each
// failing case in errors[].
func (s *Service) assert(ctx context.Context, q store.Querier, domainID, projectID, policyID string, d Draft) error {
	if len(d.Tests) == 0 {
		return nil
	}
	w, err := s.load(ctx, q, domainID)
	if err != nil {
		return err
	}
	cand, err := candidate(projectID, policyID, d)
	if err != nil {
		return err
	}
	runs := runTests(compile.NewIndex(w.mode, w.with(policyID, &cand), w.nodes), w, d.Tests)
	return failed(runs)
}

// failed turns failing runs into the 422 problem, or nil.
func failed(runs []apiv1.PolicyTestRun) error {
	var details []apiv1.ProblemDetail
	n := 0
	for _, r := range runs {
		if r.Passed {
			continue
		}
		n++
		loc := fmt.Sprintf("tests[%d]", r.Index)
		if r.Message != "" {
			details = append(details, apiv1.ProblemDetail{Location: loc, Message: r.Message})
		}
		for _, f := range r.Failures {
			flow := r.Test.Protocol
			if r.Test.Port != 0 {
				flow += fmt.Sprintf("/%d", r.Test.Port)
			}
			details = append(details, apiv1.ProblemDetail{Location: loc, Message: fmt.Sprintf(
				"%s → %s %s from %s to %s: got %s, want %s", r.Test.From, r.Test.To, flow,
				f.FromNodeID, f.ToNodeID, f.Got, r.Test.Expect)})
		}
	}
	if n == 0 {
		return nil
	}
	p := problem.Newf(http.StatusUnprocessableEntity, CodeTestFailed,
		"%d of %d policy tests failed; the revision was not saved.", n, len(runs))
	p.Errors = details
	return p
}

// resolve lists the node ids an endpoint names, sorted.
func resolve(w world, e Endpoint) []string {
	if e.NodeID != "" {
		if _, ok := w.byID[e.NodeID]; ok {
			return []string{e.NodeID}
		}
		return nil
	}
	var out []string
	for _, n := range w.nodes {
		if e.Selector.Matches(n.Labels) {
			out = append(out, n.ID)
		}
	}
	slices.Sort(out)
	return out
}

// runTests evaluates each test over every pair of a from node and a
// different to node. A test whose from or to names no node fails: an
// assertion about nothing would pass vacuously.
func runTests(x *compile.Index, w world, tests []apiv1.PolicyTest) []apiv1.PolicyTestRun {
	runs := make([]apiv1.PolicyTestRun, len(tests))
	for i, t := range tests {
		run := apiv1.PolicyTestRun{Index: i, Test: t, Passed: true}
		from, _ := ParseEndpoint(t.From)
		to, _ := ParseEndpoint(t.To)
		srcs, dsts := resolve(w, from), resolve(w, to)
		switch {
		case len(srcs) == 0:
			run.Passed, run.Message = false, "from matches no node of the Domain"
		case len(dsts) == 0:
			run.Passed, run.Message = false, "to matches no node of the Domain"
		case len(srcs)*len(dsts) > maxPairsPerTest:
			run.Passed, run.Message = false, fmt.Sprintf("from × to is more than %d pairs; narrow the selectors", maxPairsPerTest)
		}
		pairs := 0
		for _, a := range srcs {
			for _, b := range dsts {
				if a == b || !run.Passed && run.Message != "" {
					continue
				}
				pairs++
				v, _ := x.Evaluate(a, b, t.Protocol, t.Port)
				got := "deny"
				if v.Allow {
					got = "allow"
				}
				if got != t.Expect {
					run.Passed = false
					if len(run.Failures) < maxFailuresPerTest {
						run.Failures = append(run.Failures, apiv1.TestFailure{FromNodeID: a, ToNodeID: b, Got: got})
					}
				}
			}
		}
		if run.Passed && pairs == 0 {
			run.Passed, run.Message = false, "from and to name only the same node"
		}
		runs[i] = run
	}
	return runs
}

// dryRun computes what landing d as policyID's head would change.
func (s *Service) dryRun(ctx context.Context, domainID, projectID, policyID string, head apiv1.PolicyRevision, d Draft) (apiv1.PolicyDryRunResponse, error) {
	out := apiv1.PolicyDryRunResponse{MatchedNodeIDs: []string{}, UnreachableNodeIDs: []string{},
		RuleDiff: Diff(head, apiv1.PolicyRevision{Selector: d.Selector, Rules: d.Rules})}
	w, err := s.load(ctx, s.cfg.DB, domainID)
	if err != nil {
		return out, problem.From(err)
	}
	cand, err := candidate(projectID, policyID, d)
	if err != nil {
		return out, err
	}
	before := compile.NewIndex(w.mode, w.policies, w.nodes)
	after := compile.NewIndex(w.mode, w.with(policyID, &cand), w.nodes)
	old, err := ToCompile(projectID, policyID, head.ID, head.Selector, head.Rules)
	if err != nil {
		return out, problem.Internal(err)
	}
	var matched, touched []string
	for _, n := range w.nodes {
		if cand.Source.Matches(n.Labels) || cand.Destination.Matches(n.Labels) {
			matched = append(matched, n.ID)
		}
		// Only a node either revision's destination selects can see its
		// compiled ruleset change.
		if cand.Destination.Matches(n.Labels) || old.Destination.Matches(n.Labels) {
			touched = append(touched, n.ID)
		}
	}
	slices.Sort(matched)
	slices.Sort(touched)
	visible, err := s.visibleNodes(ctx, append(slices.Clone(matched), touched...))
	if err != nil {
		return out, err
	}
	for _, id := range matched {
		if visible[id] {
			out.MatchedNodeIDs = append(out.MatchedNodeIDs, id)
		} else {
			out.UnreachableNodeIDs = append(out.UnreachableNodeIDs, id)
		}
	}
	for _, id := range touched {
		b, _ := before.Compile(id)
		a, _ := after.Compile(id)
		gained, removed := ruleDelta(b.Rules, a.Rules)
		if len(gained) == 0 && len(removed) == 0 {
			continue
		}
		out.PeerPairsAffected += pairsAffected(w, id, gained, removed)
		if visible[id] {
			out.NodeChanges = append(out.NodeChanges, apiv1.NodeRuleChange{NodeID: id, Gained: gained, Removed: removed})
		}
	}
	if len(d.Tests) > 0 {
		out.TestResults = runTests(after, w, d.Tests)
	}
	return out, nil
}

// visibleNodes reports which nodes the caller may read.
func (s *Service) visibleNodes(ctx context.Context, ids []string) (map[string]bool, error) {
	objs := make([]string, len(ids))
	for i, id := range ids {
		objs[i] = "node:" + id
	}
	ok, err := s.cfg.Authz.Visible(ctx, "read", objs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for i, id := range ids {
		out[id] = ok[i]
	}
	return out, nil
}

// ruleDelta returns the compiled rules in after but not before (gained)
// and in before but not after (removed), each in canonical order.
func ruleDelta(before, after []nodeproto.CompiledRule) (gained, removed []apiv1.NodeCompiledRule) {
	key := func(r nodeproto.CompiledRule) string { b, _ := json.Marshal(r); return string(b) }
	inBefore, inAfter := map[string]bool{}, map[string]bool{}
	for _, r := range before {
		inBefore[key(r)] = true
	}
	for _, r := range after {
		inAfter[key(r)] = true
	}
	gained, removed = []apiv1.NodeCompiledRule{}, []apiv1.NodeCompiledRule{}
	for _, r := range after {
		if k := key(r); !inBefore[k] {
			inBefore[k] = true
			gained = append(gained, wireRule(r))
		}
	}
	for _, r := range before {
		if k := key(r); !inAfter[k] {
			inAfter[k] = true
			removed = append(removed, wireRule(r))
		}
	}
	return gained, removed
}

func wireRule(r nodeproto.CompiledRule) apiv1.NodeCompiledRule {
	c := apiv1.NodeCompiledRule{Action: r.Action, Protocol: r.Protocol, SourceCIDR: r.SourceCIDR, DestinationCIDR: r.DestinationCIDR}
	if r.Ports != nil {
		c.Ports = &apiv1.PolicyPortRange{From: r.Ports.From, To: r.Ports.To}
	}
	return c
}

// pairsAffected counts the source nodes whose traffic to dst a gained or
// removed rule concerns: the ordered pairs (n, dst) whose verdict may flip.
func pairsAffected(w world, dst string, gained, removed []apiv1.NodeCompiledRule) int {
	var srcs []netip.Prefix
	for _, r := range append(slices.Clone(gained), removed...) {
		if p, err := netip.ParsePrefix(r.SourceCIDR); err == nil {
			srcs = append(srcs, p)
		}
	}
	n := 0
	for _, node := range w.nodes {
		if node.ID == dst {
			continue
		}
		for _, p := range srcs {
			if p.Contains(node.MeshIP) || node.MeshIPv6.IsValid() && p.Contains(node.MeshIPv6) {
				n++
				break
			}
		}
	}
	return n
}
