package nodeproto

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Issue 8: the state answer is the union of the level-1 StateResponse and
// the contract's NodeStateSnapshot. The smallest one renders every member
// the contract requires (policy and bridge as null, the lists as []) after
// the level-1 members, byte for byte.
func TestStateSnapshotRendersBothForms(t *testing.T) {
	changed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	snap := StateSnapshot{ContractState: ContractState{Reachability: StateReachability{State: "unreachable", ChangedAt: changed}}}
	got, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"peers":[],"policies":[],"data":[],"secret_refs":[],` +
		`"executions":[],"sessions":[],"reachability":{"state":"unreachable","changed_at":"2026-03-01T12:00:00Z"},` +
		`"policy":null,"bridge":null,"state":{"metadata":[],"data":[],"reports":[]},"reports":{"metadata":[],"data":[],"reports":[]}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var back StateSnapshot
	if err := json.Unmarshal(got, &back); err != nil || !back.Reachability.ChangedAt.Equal(changed) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	var level1 StateResponse // what the existing agent decodes
	if err := json.Unmarshal(got, &level1); err != nil {
		t.Fatal(err)
	}
	if err := level1.Validate(changed); err != nil {
		t.Fatalf("level-1 view invalid: %v", err)
	}
}

// Issue 8: no contract member of the state answer equals a level-1 member
// ignoring case (X2: a level-1 agent would decode one into the other).
func TestStateSnapshotMembersDoNotCollide(t *testing.T) {
	level1 := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(StateResponse{})) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		level1[strings.ToLower(name)] = true
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(ContractState{})) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if level1[strings.ToLower(name)] {
			t.Errorf("contract member %q collides with a level-1 member", name)
		}
	}
}

// Issue 8: a peer's node_id, the contract's name for its id, must name the
// same node.
func TestPeerNodeIDMatchesID(t *testing.T) {
	p := Peer{ID: "n2", NodeID: "n3", PublicKey: kB, MeshIP: "10.100.0.8", AllowedIPs: []string{"10.100.0.8/32"}}
	if p.Validate() == nil {
		t.Fatal("a node_id naming another node was accepted")
	}
	p.NodeID = "n2"
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}
