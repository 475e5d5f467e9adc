package apiv1

import "time"

// NetworkPolicy is the contract's Policy (api.md §3.7): a Project's network policy
// and the id of its head revision. Head is present on a single read only.
type NetworkPolicy struct {
	ID             string          `json:"id" format:"uuid" doc:"Policy id (UUIDv7)."`
	ProjectID      string          `json:"project_id" format:"uuid" doc:"Owning Project."`
	Slug           string          `json:"slug" doc:"Handle, unique in the Project: ^[a-z][a-z0-9-]*$, at most 64 bytes."`
	DisplayName    string          `json:"display_name,omitempty" doc:"Human-readable label; renderings fall back to slug."`
	HeadRevisionID string          `json:"head_revision_id" format:"uuid" doc:"The current head revision."`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at" doc:"When the head last advanced."`
	Head           *PolicyRevision `json:"head,omitempty" doc:"The head revision (single reads only)."`
}

// PolicyRevision is the contract's append-only PolicyRevision. Tests is
// ours (additive): the assertions the revision was accepted with.
type PolicyRevision struct {
	ID            string              `json:"id" format:"uuid" doc:"Revision id (UUIDv7)."`
	PolicyID      string              `json:"policy_id" format:"uuid" doc:"The Policy this revision belongs to."`
	ParentID      string              `json:"parent_id,omitempty" format:"uuid" doc:"The predecessor; absent on a Policy's first revision."`
	Selector      PolicySelector      `json:"selector"`
	Rules         []NetworkPolicyRule `json:"rules" nullable:"false" doc:"1..1024 rules; their order has no meaning."`
	CreatedAt     time.Time           `json:"created_at"`
	CreatedBy     string              `json:"created_by" doc:"The principal that authored the revision, e.g. user:<uuid>."`
	CorrelationID string              `json:"correlation_id,omitempty" doc:"Correlation id of the request that landed the revision (its audit entry)."`
	Tests         []PolicyTest        `json:"tests,omitempty" doc:"Ours: the assertions the revision passed when it landed."`
}

// PolicySelector is the contract's PolicySelector: label selectors (api.md
// §3.4) over a Domain's nodes. Both are required and non-empty.
type PolicySelector struct {
	Source      string `json:"source" doc:"Selector of the nodes traffic comes from."`
	Destination string `json:"destination" doc:"Selector of the nodes traffic goes to."`
}

// NetworkPolicyRule is the contract's PolicyRule: one L3/L4 rule. Ports is present
// exactly for tcp and udp.
type NetworkPolicyRule struct {
	Action          string           `json:"action" enum:"allow,deny,log"`
	Protocol        string           `json:"protocol" enum:"tcp,udp,icmp,any"`
	SourceCIDR      string           `json:"source_cidr" doc:"IPv4 or IPv6 prefix; same family as destination_cidr."`
	DestinationCIDR string           `json:"destination_cidr" doc:"IPv4 or IPv6 prefix."`
	Ports           *PolicyPortRange `json:"ports,omitempty"`
	Description     string           `json:"description,omitempty" doc:"Ours: a note for operators (at most 256 bytes)."`
}

// PolicyPortRange is the contract's PolicyPortRange: From..To inclusive.
type PolicyPortRange struct {
	From int `json:"from" minimum:"1" maximum:"65535"`
	To   int `json:"to" minimum:"1" maximum:"65535"`
}

// PolicyTest is ours: an assertion a revision must pass to land. From and
// To are node ids or selectors over the Domain's nodes; every pair of a
// From node and a different To node must meet Expect.
type PolicyTest struct {
	From     string `json:"from" doc:"A node id or a selector of the source nodes."`
	To       string `json:"to" doc:"A node id or a selector of the destination nodes."`
	Protocol string `json:"protocol" enum:"tcp,udp,icmp,any"`
	Port     int    `json:"port,omitempty" minimum:"1" maximum:"65535" doc:"Destination port; required for tcp and udp."`
	Expect   string `json:"expect" enum:"allow,deny"`
}

// PolicyCreateRequest is the contract's PolicyCreateRequest plus our Tests.
type PolicyCreateRequest struct {
	Slug        string              `json:"slug"`
	DisplayName string              `json:"display_name,omitempty"`
	Selector    PolicySelector      `json:"selector"`
	Rules       []NetworkPolicyRule `json:"rules"`
	Tests       []PolicyTest        `json:"tests,omitempty" doc:"Ours: assertions the revision must pass (at most 256)."`
}

// PolicyUpdateRequest is the contract's PolicyUpdateRequest plus our Tests:
// unset fields inherit from the head.
type PolicyUpdateRequest struct {
	DisplayName        *string             `json:"display_name,omitempty"`
	Selector           *PolicySelector     `json:"selector,omitempty"`
	Rules              []NetworkPolicyRule `json:"rules,omitempty"`
	ExpectedRevisionID string              `json:"expected_revision_id,omitempty" doc:"Compare-and-swap: the head the client saw; another head is 409 revision_conflict."`
	Tests              []PolicyTest        `json:"tests,omitzero" doc:"Ours: assertions the new revision must pass; unset inherits the head's, [] removes them."`
}

// PolicyDryRunRequest is the contract's PolicyDryRunRequest plus our Tests.
type PolicyDryRunRequest struct {
	Selector PolicySelector      `json:"selector"`
	Rules    []NetworkPolicyRule `json:"rules"`
	Tests    []PolicyTest        `json:"tests,omitempty" doc:"Ours: assertions to evaluate against the candidate."`
}

// PolicyDiff is the contract's PolicyDiff between two rule lists after
// canonicalisation: a reorder-only edit is empty. Modified pairs rules that
// differ only in action. SelectorChanged is ours.
type PolicyDiff struct {
	Added           []NetworkPolicyRule `json:"added" nullable:"false"`
	Removed         []NetworkPolicyRule `json:"removed" nullable:"false"`
	Modified        []PolicyDiffPair    `json:"modified" nullable:"false"`
	SelectorChanged *SelectorChange     `json:"selector_changed,omitempty" doc:"Ours: the selector before and after, when it changed."`
}

// SelectorChange is ours: a selector before and after.
type SelectorChange struct {
	Before PolicySelector `json:"before"`
	After  PolicySelector `json:"after"`
}

// PolicyDiffPair is the contract's PolicyDiffPair.
type PolicyDiffPair struct {
	Before NetworkPolicyRule `json:"before"`
	After  NetworkPolicyRule `json:"after"`
}

// PolicyDryRunResponse is the contract's PolicyDryRunResponse plus ours:
// per-node changes of the compiled ruleset and the tests' results.
type PolicyDryRunResponse struct {
	MatchedNodeIDs     []string         `json:"matched_node_ids" nullable:"false" doc:"Nodes either selector matches (that the caller may read)."`
	RuleDiff           PolicyDiff       `json:"rule_diff"`
	PeerPairsAffected  int              `json:"peer_pairs_affected" doc:"Ordered node pairs whose verdict on some flow would change."`
	UnreachableNodeIDs []string         `json:"unreachable_node_ids" nullable:"false" doc:"Matched nodes the caller may not read (ids only)."`
	NodeChanges        []NodeRuleChange `json:"node_changes,omitempty" doc:"Ours: per node, the compiled rules it would gain and lose."`
	TestResults        []PolicyTestRun  `json:"test_results,omitempty" doc:"Ours: the outcome of each test."`
}

// NodeRuleChange is ours: the compiled rules one node would gain and lose.
type NodeRuleChange struct {
	NodeID  string             `json:"node_id"`
	Gained  []NodeCompiledRule `json:"gained" nullable:"false"`
	Removed []NodeCompiledRule `json:"removed" nullable:"false"`
}

// NodeCompiledRule is a rule as a node enforces it (the contract's
// NodeStateCompiledRule).
type NodeCompiledRule struct {
	Action          string           `json:"action" enum:"allow,deny,log"`
	Protocol        string           `json:"protocol" enum:"tcp,udp,icmp,any"`
	SourceCIDR      string           `json:"source_cidr"`
	DestinationCIDR string           `json:"destination_cidr"`
	Ports           *PolicyPortRange `json:"ports,omitempty"`
}

// PolicyTestRun is ours: the outcome of one test. Failures name the pairs
// that did not meet the expectation.
type PolicyTestRun struct {
	Index    int           `json:"index" doc:"Position of the test in the request."`
	Test     PolicyTest    `json:"test"`
	Passed   bool          `json:"passed"`
	Failures []TestFailure `json:"failures,omitempty"`
	Message  string        `json:"message,omitempty" doc:"Why the test could not be evaluated, e.g. no node matched."`
}

// TestFailure is one pair that did not meet a test's expectation.
type TestFailure struct {
	FromNodeID string `json:"from_node_id"`
	ToNodeID   string `json:"to_node_id"`
	Got        string `json:"got" enum:"allow,deny"`
}
