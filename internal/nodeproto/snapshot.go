package nodeproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// StateSnapshot is what the control plane answers on GET
// /v1/nodes/{node_id}/state: the level-1 StateResponse (§9.1) and, beside
// it, the members of the public contract's NodeStateSnapshot, so that both
// the existing agent and a client generated from the contract decode it
// (api.md §6: node-facing answers are the union of both forms). Level-1
// agents ignore the added members (X2); none of them restricts anything
// that StateResponse allows (X4).
type StateSnapshot struct {
	StateResponse
	ContractState
}

// ContractState holds the contract's NodeStateSnapshot members that the
// level-1 form does not have. Executions and Sessions are [] until actions
// and access exist; Policy and Bridge are null until the policy and bridge
// contexts populate them (the contract allows null); State and Reports
// carry the node's state entries (Reports mirrors State, as the contract
// defines).
type ContractState struct {
	Executions   []json.RawMessage `json:"executions" doc:"Pending action dispatches; always [] until actions exist."`
	Sessions     []json.RawMessage `json:"sessions" doc:"Live mediated sessions; always [] until access exists."`
	Reachability StateReachability `json:"reachability"`
	Policy       *NodeStatePolicy  `json:"policy" doc:"The node's compiled ruleset; null when no policy governs the node."`
	Bridge       *json.RawMessage  `json:"bridge" doc:"The contract's bridge block; null until it is populated."`
	State        StateBuckets      `json:"state"`
	Reports      StateBuckets      `json:"reports" doc:"Mirrors state."`
}

// StateReachability is a node's health projection as the contract renders it.
type StateReachability struct {
	State           string     `json:"state" enum:"healthy,stale,unreachable"`
	LastHeartbeatAt *time.Time `json:"last_heartbeat_at,omitempty"`
	ChangedAt       time.Time  `json:"changed_at" doc:"When the state last changed."`
}

// StateBuckets is the contract's NodeStateReports: a node's state entries
// by kind, each bucket ordered by key and [] (never null) when empty.
type StateBuckets struct {
	Metadata []StateEntry `json:"metadata"`
	Data     []StateEntry `json:"data"`
	Reports  []StateEntry `json:"reports"`
}

// MarshalJSON renders nil buckets as [].
func (b StateBuckets) MarshalJSON() ([]byte, error) {
	type wire StateBuckets
	w := wire(b)
	w.Metadata, w.Data, w.Reports = nonNil(w.Metadata), nonNil(w.Data), nonNil(w.Reports)
	return json.Marshal(w)
}

// StateEntry is one entry of a state bucket; Value is carried opaquely.
type StateEntry struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	WorkloadTag string `json:"workload_tag,omitempty"`
}

// MarshalJSON renders the level-1 members, then the contract's, in one
// object. Neither part shares a member name with the other (X2).
func (s StateSnapshot) MarshalJSON() ([]byte, error) {
	level1, err := json.Marshal(s.StateResponse)
	if err != nil {
		return nil, err
	}
	c := s.ContractState
	c.Executions, c.Sessions = nonNil(c.Executions), nonNil(c.Sessions)
	contract, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return joinObjects(level1, contract)
}

// UnmarshalJSON decodes both forms from one object.
func (s *StateSnapshot) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.StateResponse); err != nil {
		return err
	}
	return json.Unmarshal(b, &s.ContractState)
}

// joinObjects merges two encoded JSON objects into one.
func joinObjects(a, b []byte) ([]byte, error) {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if len(a) < 2 || len(b) < 2 || a[0] != '{' || b[0] != '{' {
		return nil, fmt.Errorf("nodeproto: join: not two JSON objects")
	}
	switch {
	case len(a) == 2:
		return b, nil
	case len(b) == 2:
		return a, nil
	}
	out := make([]byte, 0, len(a)+len(b))
	out = append(out, a[:len(a)-1]...)
	out = append(out, ',')
	return append(out, b[1:]...), nil
}
