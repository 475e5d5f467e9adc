package compile

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// The session gateway of a Project (docs/design/0008-access.md): no
// selector picks it, it is a peer of its own Project's nodes only, and
// they admit it on their access port and nothing else.
func TestSessionGateway(t *testing.T) {
	pols, nodes := fleet()
	for i := range nodes {
		nodes[i].Project = "p1"
	}
	other := node("elsewhere", "100.64.0.9")
	other.Project = "p2"
	gw := Node{ID: "gw", Project: "p1", MeshIP: netip.MustParseAddr("100.64.0.250"), Gateway: true}
	before, _ := Compile(ModeDeny, pols, append(slices.Clone(nodes), other), "db1")
	x := NewIndex(ModeDeny, append(pols, pol("all", "role", "role", rule("allow", "any", "0.0.0.0/0", "0.0.0.0/0"))),
		append(append(slices.Clone(nodes), other), gw))
	if got := x.Peers("gw"); !slices.Equal(got, []string{"db1", "other", "web1", "web2"}) {
		t.Errorf("gateway peers: %v", got)
	}
	if got := x.Peers("elsewhere"); slices.Contains(got, "gw") {
		t.Errorf("another Project's node sees the gateway: %v", got)
	}
	if got := x.Peers("web1"); !slices.Contains(got, "gw") {
		t.Errorf("web1 does not see its gateway: %v", got)
	}
	// A selector-everything policy still does not open the gateway.
	if c, _ := x.Compile("gw"); len(c.Rules) != 0 {
		t.Errorf("rules admit traffic to the gateway: %v", c.Rules)
	}
	x = NewIndex(ModeDeny, pols, append(append(slices.Clone(nodes), other), gw))
	c, _ := x.Compile("db1")
	want := nodeproto.CompiledRule{Action: "allow", Protocol: "tcp", SourceCIDR: "100.64.0.250/32", DestinationCIDR: "100.64.0.3/32",
		Ports: &nodeproto.PortRange{From: nodeproto.DefaultAccessPort, To: nodeproto.DefaultAccessPort}}
	if n := len(c.Rules); n != len(before.Rules)+1 || js(t, c.Rules[n-1]) != js(t, want) || c.Fingerprint == before.Fingerprint {
		t.Errorf("db1 with a gateway: %s", js(t, c.Rules))
	}
	if c, _ := x.Compile("elsewhere"); len(c.Rules) != 0 {
		t.Errorf("another Project's node admits the gateway: %v", c.Rules)
	}
	// The gateway's arrival and departure affect exactly its Project.
	y := NewIndex(ModeDeny, pols, append(slices.Clone(nodes), other))
	aff := y.SetNode(gw)
	for _, id := range []string{"web1", "web2", "db1", "other", "gw"} {
		if _, ok := aff[id]; !ok {
			t.Errorf("joining gateway does not affect %s", id)
		}
	}
	if _, ok := aff["elsewhere"]; ok {
		t.Error("joining gateway affects another Project's node")
	}
	if aff := y.RemoveNode("gw"); len(aff) != 4 {
		t.Errorf("leaving gateway affects %v", aff)
	}
	if c, _ := y.Compile("db1"); c.Fingerprint != before.Fingerprint {
		t.Error("the gateway's rules outlived it")
	}
}
