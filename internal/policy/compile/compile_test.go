package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/selector"
)

func node(id, ip string, labels ...string) Node {
	m := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		m[labels[i]] = labels[i+1]
	}
	return Node{ID: id, Labels: m, MeshIP: netip.MustParseAddr(ip)}
}

func rule(action, proto, src, dst string, ports ...int) Rule {
	r := Rule{Action: action, Protocol: proto, Source: netip.MustParsePrefix(src), Destination: netip.MustParsePrefix(dst)}
	if len(ports) == 2 {
		r.Ports = &nodeproto.PortRange{From: ports[0], To: ports[1]}
	}
	return r
}

func pol(id, src, dst string, rules ...Rule) Policy {
	return Policy{ID: id, RevisionID: id + "-r1", Source: selector.MustParse(src), Destination: selector.MustParse(dst), Rules: rules}
}

// fleet is the scenario of the issue: web → db tcp/5432 and icmp.
func fleet() ([]Policy, []Node) {
	nodes := []Node{
		node("web1", "100.64.0.1", "role", "web"),
		node("web2", "100.64.0.2", "role", "web"),
		node("db1", "100.64.0.3", "role", "db"),
		node("other", "100.64.0.4", "role", "batch"),
	}
	pols := []Policy{pol("p1", "role=web", "role=db",
		rule("allow", "tcp", "0.0.0.0/0", "0.0.0.0/0", 5432, 5432),
		rule("allow", "icmp", "0.0.0.0/0", "0.0.0.0/0"),
	)}
	return pols, nodes
}

func TestEvaluateScenario(t *testing.T) {
	pols, nodes := fleet()
	for _, mode := range []Mode{ModeDeny, ModeAllow} {
		x := NewIndex(mode, pols, nodes)
		cases := []struct {
			from, to, proto string
			port            int
			allow           bool
		}{
			{"web1", "db1", "tcp", 5432, true},
			{"web2", "db1", "tcp", 5432, true},
			{"web1", "db1", "tcp", 22, false},
			{"web1", "db1", "udp", 5432, false},
			{"web1", "db1", "icmp", 0, true},
			{"other", "db1", "tcp", 5432, false},
			{"other", "db1", "icmp", 0, false},
			{"db1", "web1", "tcp", 5432, mode == ModeAllow},
			{"web1", "other", "tcp", 80, mode == ModeAllow},
		}
		for _, c := range cases {
			v, ok := x.Evaluate(c.from, c.to, c.proto, c.port)
			if !ok || v.Allow != c.allow {
				t.Errorf("mode %s: %s→%s %s/%d: allow=%v, want %v", mode, c.from, c.to, c.proto, c.port, v.Allow, c.allow)
			}
		}
	}
}

func TestCompileResolvesSelectorsToAggregatedAddresses(t *testing.T) {
	pols, nodes := fleet()
	got, ok := Compile(ModeDeny, pols, nodes, "db1")
	if !ok {
		t.Fatal("db1 not compiled")
	}
	want := []nodeproto.CompiledRule{
		{Action: "allow", Protocol: "tcp", SourceCIDR: "100.64.0.1/32", DestinationCIDR: "100.64.0.3/32", Ports: &nodeproto.PortRange{From: 5432, To: 5432}},
		{Action: "allow", Protocol: "tcp", SourceCIDR: "100.64.0.2/32", DestinationCIDR: "100.64.0.3/32", Ports: &nodeproto.PortRange{From: 5432, To: 5432}},
		{Action: "allow", Protocol: "icmp", SourceCIDR: "100.64.0.1/32", DestinationCIDR: "100.64.0.3/32"},
		{Action: "allow", Protocol: "icmp", SourceCIDR: "100.64.0.2/32", DestinationCIDR: "100.64.0.3/32"},
	}
	// web1 and web2 are .1 and .2: not one aligned block, two /32s.
	if js(t, got.Rules) != js(t, want) {
		t.Fatalf("rules\n got %v\nwant %v", got.Rules, want)
	}
	if got.RevisionID != "p1-r1" || got.Fingerprint == "" {
		t.Fatalf("revision %q fingerprint %q", got.RevisionID, got.Fingerprint)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCompileDefaults(t *testing.T) {
	pols, nodes := fleet()
	deny, _ := Compile(ModeDeny, pols, nodes, "web1")
	allow, _ := Compile(ModeAllow, pols, nodes, "web1")
	if len(deny.Rules) != 0 {
		t.Fatalf("deny default: %v", deny.Rules)
	}
	want := []nodeproto.CompiledRule{{Action: "allow", Protocol: "any", SourceCIDR: "0.0.0.0/0", DestinationCIDR: "100.64.0.1/32"}}
	if js(t, allow.Rules) != js(t, want) {
		t.Fatalf("allow default: %v", allow.Rules)
	}
	if deny.Fingerprint == allow.Fingerprint {
		t.Fatal("defaults share a fingerprint")
	}
}

func TestCompileIntersectsRuleCIDRs(t *testing.T) {
	nodes := []Node{
		node("a", "10.0.0.4", "r", "a"), node("b", "10.0.0.5", "r", "a"),
		node("c", "10.0.0.6", "r", "a"), node("d", "10.0.0.7", "r", "a"),
		node("z", "10.0.1.1", "r", "z"),
	}
	pols := []Policy{pol("p", "r=a", "r=z",
		rule("allow", "any", "0.0.0.0/0", "0.0.0.0/0"),            // all four: one /30
		rule("deny", "udp", "10.0.0.6/31", "10.0.1.0/24", 53, 53), // c and d only
		rule("log", "tcp", "10.0.0.0/16", "10.9.0.0/16", 1, 10),   // z is outside: nothing
	)}
	got, _ := Compile(ModeDeny, pols, nodes, "z")
	want := []string{"allow any 10.0.0.4/30→10.0.1.1/32", "deny udp 10.0.0.6/31→10.0.1.1/32"}
	var have []string
	for _, r := range got.Rules {
		have = append(have, fmt.Sprintf("%s %s %s→%s", r.Action, r.Protocol, r.SourceCIDR, r.DestinationCIDR))
	}
	if !slices.Equal(have, want) {
		t.Fatalf("got %v, want %v", have, want)
	}
}

func TestFingerprintFollowsContent(t *testing.T) {
	pols, nodes := fleet()
	x := NewIndex(ModeDeny, pols, nodes)
	before, _ := x.Compile("db1")
	reversed := slices.Clone(nodes)
	slices.Reverse(reversed)
	if again, _ := NewIndex(ModeDeny, pols, reversed).Compile("db1"); again.Fingerprint != before.Fingerprint {
		t.Fatal("the fingerprint depends on input order")
	}
	aff := x.SetNode(node("other", "100.64.0.4", "role", "web"))
	after, _ := x.Compile("db1")
	if before.Fingerprint == after.Fingerprint {
		t.Fatal("a new source did not change the fingerprint")
	}
	if _, ok := aff["db1"]; !ok {
		t.Fatalf("db1 not affected by a new web node: %v", aff.IDs())
	}
	if _, ok := aff["web1"]; ok {
		t.Fatalf("web1 affected by another web node: %v", aff.IDs())
	}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendPayloadEncodesAsJSON(t *testing.T) {
	type payload struct {
		PolicyID   string                   `json:"policy_id"`
		RevisionID string                   `json:"revision_id"`
		Rules      []nodeproto.CompiledRule `json:"rules"`
	}
	rules := []nodeproto.CompiledRule{
		{Action: "allow", Protocol: "tcp", SourceCIDR: "10.0.0.0/8", DestinationCIDR: "10.0.0.1/32", Ports: &nodeproto.PortRange{From: 1, To: 65535}},
		{Action: "deny", Protocol: "any", SourceCIDR: "::/0", DestinationCIDR: "fd00::1/128"},
	}
	for _, id := range []string{"pol-1", `we"ird\<id>&é`, ""} {
		want, err := json.Marshal(payload{PolicyID: id, RevisionID: "r" + id, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if writePayload(&got, nil, id, "r"+id, rules); got.String() != string(want)+"\n" {
			t.Fatalf("payload of %q:\n got %s\nwant %s", id, got.String(), want)
		}
	}
	var got bytes.Buffer
	if writePayload(&got, nil, "p", "", nil); got.String() != `{"policy_id":"p","revision_id":"","rules":[]}`+"\n" {
		t.Fatalf("empty payload %s", got.String())
	}
}

func TestLevel1Rendering(t *testing.T) {
	nodes := []Node{node("a", "10.0.0.1", "r", "src"), node("b", "10.0.0.2", "r", "dst"), node("c", "10.0.0.3", "r", "x")}
	l1 := func(rules ...Rule) []string {
		x := NewIndex(ModeDeny, []Policy{pol("p", "r=src", "r=dst", rules...)}, nodes)
		var out []string
		for _, p := range x.Level1("b") {
			for _, r := range p.Rules {
				out = append(out, fmt.Sprintf("%s>%s %s/%d %s", r.Src, r.Dst, r.Protocol, r.Port, r.Action))
			}
		}
		return out
	}
	all := "0.0.0.0/0"
	cases := []struct {
		name  string
		rules []Rule
		want  []string
	}{
		{"any", []Rule{rule("allow", "any", all, all)}, []string{"a>b /0 allow"}},
		{"one port", []Rule{rule("allow", "tcp", all, all, 5432, 5432)}, []string{"a>b tcp/5432 allow"}},
		{"all ports is port 0", []Rule{rule("allow", "udp", all, all, 1, 65535)}, []string{"a>b udp/0 allow"}},
		{"small range expands", []Rule{rule("log", "tcp", all, all, 80, 82)}, []string{"a>b tcp/80 allow", "a>b tcp/81 allow", "a>b tcp/82 allow"}},
		{"wide range is left out", []Rule{rule("allow", "tcp", all, all, 1000, 2000)}, nil},
		{"icmp is left out", []Rule{rule("allow", "icmp", all, all)}, nil},
		{"deny punches the range", []Rule{rule("allow", "tcp", all, all, 21, 23), rule("deny", "tcp", all, all, 22, 22)},
			[]string{"a>b tcp/21 allow", "a>b tcp/23 allow"}},
		{"any with a partial deny keeps the untouched protocol", []Rule{rule("allow", "any", all, all), rule("deny", "tcp", all, all, 22, 22)},
			[]string{"a>b udp/0 allow"}},
		{"deny any drops the pair", []Rule{rule("allow", "any", all, all), rule("deny", "any", "10.0.0.1/32", all)}, nil},
		{"a CIDR that misses the source", []Rule{rule("allow", "any", "10.9.0.0/16", all)}, nil},
	}
	for _, c := range cases {
		if got := l1(c.rules...); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPeersFollowRules(t *testing.T) {
	nodes := []Node{node("a", "10.0.0.1", "r", "src"), node("b", "10.0.0.2", "r", "dst"), node("c", "10.0.0.3", "r", "x")}
	x := NewIndex(ModeDeny, []Policy{pol("p", "r=src", "r=dst", rule("allow", "tcp", "0.0.0.0/0", "0.0.0.0/0", 1, 1))}, nodes)
	for id, want := range map[string][]string{"a": {"b"}, "b": {"a"}, "c": nil} {
		if got := x.Peers(id); !slices.Equal(got, want) {
			t.Errorf("deny mode: peers of %s = %v, want %v", id, got, want)
		}
	}
	x.SetMode(ModeAllow) // c and a are uncovered: everyone reaches them
	for id, want := range map[string][]string{"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}} {
		if got := x.Peers(id); !slices.Equal(got, want) {
			t.Errorf("allow mode: peers of %s = %v, want %v", id, got, want)
		}
	}
	if x.Peers("nobody") != nil {
		t.Error("an unknown node has peers")
	}
}

// Deny beats allow and log whatever the order of the rules (a first-match
// evaluation would let an allow or log listed before the deny decide);
// log beats allow; a flow no rule matches is dropped.
func TestDecideOrderHasNoMeaning(t *testing.T) {
	allow := nodeproto.CompiledRule{Action: "allow", Protocol: "tcp", SourceCIDR: "100.64.0.0/24", DestinationCIDR: "100.64.0.3/32", Ports: &nodeproto.PortRange{From: 5000, To: 6000}}
	logr := nodeproto.CompiledRule{Action: "log", Protocol: "any", SourceCIDR: "100.64.0.1/32", DestinationCIDR: "100.64.0.3/32"}
	deny := nodeproto.CompiledRule{Action: "deny", Protocol: "tcp", SourceCIDR: "100.64.0.1/32", DestinationCIDR: "100.64.0.0/24", Ports: &nodeproto.PortRange{From: 5432, To: 5432}}
	flow := func(src string, port int) Flow {
		return Flow{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr("100.64.0.3"), Protocol: "tcp", Port: port}
	}
	for _, order := range [][]nodeproto.CompiledRule{
		{allow, logr, deny}, {allow, deny, logr}, {logr, allow, deny}, {logr, deny, allow}, {deny, allow, logr}, {deny, logr, allow},
	} {
		names := []string{order[0].Action, order[1].Action, order[2].Action}
		if v := Decide(order, flow("100.64.0.1", 5432)); v.Allow || order[v.Rule].Action != "deny" {
			t.Errorf("%v: the denied flow: %+v", names, v)
		}
		if v := Decide(order, flow("100.64.0.1", 5433)); !v.Allow || !v.Log || order[v.Rule].Action != "log" {
			t.Errorf("%v: the logged flow: %+v", names, v)
		}
		if v := Decide(order, flow("100.64.0.2", 5432)); !v.Allow || v.Log || order[v.Rule].Action != "allow" {
			t.Errorf("%v: the allowed flow: %+v", names, v)
		}
		if v := Decide(order, flow("100.64.0.2", 22)); v.Allow || v.Rule != -1 {
			t.Errorf("%v: the unmatched flow: %+v", names, v)
		}
	}
}
