package policy

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

const validBody = `{"slug":"web-to-db","display_name":"Web","selector":{"source":"role = web","destination":"role=db, env in (prod,stage)"},
"rules":[{"action":"allow","protocol":"tcp","source_cidr":"0.0.0.0/0","destination_cidr":"10.0.0.0/8","ports":{"from":5432,"to":5433}},
{"action":"log","protocol":"icmp","source_cidr":"::ffff:10.0.0.0/104","destination_cidr":"0.0.0.0/0"}],
"tests":[{"from":"role=web","to":"0190f0f0-0000-7000-8000-000000000001","protocol":"tcp","port":5432,"expect":"allow"}]}`

// Selectors and CIDRs are stored in canonical form, so that diffs and
// fingerprints do not depend on spelling.
func TestDecodeCreateCanonicalises(t *testing.T) {
	c, err := DecodeCreate([]byte(validBody))
	if err != nil {
		t.Fatal(err)
	}
	if c.Selector.Source != "role=web" || c.Selector.Destination != "role=db,env in(prod,stage)" {
		t.Fatalf("selector not canonical: %+v", c.Selector)
	}
	if c.Rules[1].SourceCIDR != "10.0.0.0/8" {
		t.Fatalf("source cidr: %q", c.Rules[1].SourceCIDR)
	}
	if c.Tests[0].To != "0190f0f0-0000-7000-8000-000000000001" {
		t.Fatalf("test: %+v", c.Tests[0])
	}
}

// Each problem names the offending rule.
func TestRuleProblemsNameTheRule(t *testing.T) {
	body := strings.Replace(validBody, `"action":"log"`, `"action":"drop"`, 1)
	_, err := DecodeCreate([]byte(body))
	var p *problem.Problem
	if !errors.As(err, &p) || p.Code != CodeUnknownAction || !strings.HasPrefix(p.Detail, "rules[1]:") {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeUpdate(t *testing.T) {
	for in, code := range map[string]string{
		`{}`: CodeEmptyPatch,
		`{"expected_revision_id":"0190f0f0-0000-7000-8000-000000000001"}`: CodeEmptyPatch,
		`{"slug":"x","display_name":"y"}`:                                 CodeSlugImmutable,
		`{"expected_revision_id":"nope","display_name":"y"}`:              "invalid_revision_id",
		`{"rules":[]}`:                  CodeRuleCount,
		`{"display_name":"a\nb"}`:       CodeInvalidDisplayName,
		`{"selector":{"source":"a=b"}}`: CodeEmptySelector,
		`{"tests":[{"from":"a=b","to":"c=d","protocol":"icmp","expect":"maybe"}]}`: CodeInvalidTest,
	} {
		_, err := DecodeUpdate([]byte(in))
		var p *problem.Problem
		if !errors.As(err, &p) || p.Code != code {
			t.Errorf("%s: got %v, want %s", in, err, code)
		}
	}
	u, err := DecodeUpdate([]byte(`{"tests":[],"display_name":""}`))
	if err != nil || u.Tests == nil || len(u.Tests) != 0 || u.DisplayName == nil || *u.DisplayName != "" || u.Rules != nil {
		t.Fatalf("clearing tests and name: %+v %v", u, err)
	}
}

func rule(action, proto, src, dst string, from, to int) apiv1.NetworkPolicyRule {
	r := apiv1.NetworkPolicyRule{Action: action, Protocol: proto, SourceCIDR: src, DestinationCIDR: dst}
	if from > 0 {
		r.Ports = &apiv1.PolicyPortRange{From: from, To: to}
	}
	return r
}

// The contract's diff: reorder-only is empty, action-only changes are
// modified pairs, everything else added or removed.
func TestDiffRules(t *testing.T) {
	a := rule("allow", "tcp", "0.0.0.0/0", "10.0.0.0/8", 80, 80)
	b := rule("deny", "tcp", "0.0.0.0/0", "10.0.0.0/8", 22, 22)
	c := rule("log", "icmp", "0.0.0.0/0", "10.0.0.0/8", 0, 0)
	if d := DiffRules([]apiv1.NetworkPolicyRule{a, b, c}, []apiv1.NetworkPolicyRule{c, a, b, a}); !Empty(d) {
		t.Fatalf("reorder and duplicate: %+v", d)
	}
	bAllow := b
	bAllow.Action = "allow"
	d := DiffRules([]apiv1.NetworkPolicyRule{a, b}, []apiv1.NetworkPolicyRule{a, bAllow, c})
	if len(d.Modified) != 1 || d.Modified[0].Before.Action != "deny" || d.Modified[0].After.Action != "allow" ||
		len(d.Added) != 1 || d.Added[0] != c || len(d.Removed) != 0 {
		t.Fatalf("diff: %+v", d)
	}
	// Two actions on one key that become one: not a pair, a removal.
	aLog := a
	aLog.Action = "log"
	d = DiffRules([]apiv1.NetworkPolicyRule{a, aLog}, []apiv1.NetworkPolicyRule{a})
	if len(d.Removed) != 1 || d.Removed[0].Action != "log" || len(d.Modified) != 0 || len(d.Added) != 0 {
		t.Fatalf("diff: %+v", d)
	}
	from := apiv1.PolicyRevision{Selector: apiv1.PolicySelector{Source: "a=b", Destination: "c=d"}, Rules: []apiv1.NetworkPolicyRule{a}}
	to := from
	to.Selector.Source = "a=x"
	if d := Diff(from, to); d.SelectorChanged == nil || d.SelectorChanged.After.Source != "a=x" || Empty(d) {
		t.Fatalf("selector change: %+v", d)
	}
}

// Property: the diff of two rule lists accounts for every rule: applying it
// to the canonical source yields the canonical target.
func TestDiffApplies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() []apiv1.NetworkPolicyRule {
		var out []apiv1.NetworkPolicyRule
		for range r.IntN(6) {
			port := 1 + r.IntN(3)
			out = append(out, rule([]string{"allow", "deny", "log"}[r.IntN(3)], "tcp", "0.0.0.0/0", "10.0.0.0/8", port, port))
		}
		return out
	}
	for range 2000 {
		a, b := pick(), pick()
		d := DiffRules(a, b)
		got := canonical(a)
		for _, x := range append(slices.Clone(d.Removed), pairs(d.Modified, true)...) {
			i := slices.IndexFunc(got, func(y apiv1.NetworkPolicyRule) bool { return compareRules(x, y) == 0 })
			if i < 0 {
				t.Fatalf("removed %+v not in %+v", x, a)
			}
			got = slices.Delete(got, i, i+1)
		}
		got = canonical(append(got, append(slices.Clone(d.Added), pairs(d.Modified, false)...)...))
		if want := canonical(b); !slices.EqualFunc(got, want, func(x, y apiv1.NetworkPolicyRule) bool { return compareRules(x, y) == 0 }) {
			t.Fatalf("a=%v b=%v diff=%+v: applied %v, want %v", a, b, d, got, want)
		}
	}
}

func pairs(ps []apiv1.PolicyDiffPair, before bool) []apiv1.NetworkPolicyRule {
	out := make([]apiv1.NetworkPolicyRule, len(ps))
	for i, p := range ps {
		out[i] = p.After
		if before {
			out[i] = p.Before
		}
	}
	return out
}

// FuzzPolicyBody feeds arbitrary bytes to the three body decoders. A
// refusal is a 400, 413 or 422 problem with a code; an accepted body is
// canonical (decoding its re-encoding gives the same draft), within the
// caps, and every rule is one a node can enforce exactly.
func FuzzPolicyBody(f *testing.F) {
	f.Add([]byte(validBody))
	f.Add([]byte(`{"display_name":"x","rules":[{"action":"deny","protocol":"any","source_cidr":"::/0","destination_cidr":"fd00::/8"}]}`))
	f.Add([]byte(`{"selector":{"source":"!a","destination":"b in (c, d)"},"rules":[{"action":"allow","protocol":"udp","source_cidr":"1.2.3.4/32","destination_cidr":"0.0.0.0/0","ports":{"from":1,"to":65535}}]}`))
	f.Add([]byte(`{"slug":"a","selector":{"source":"x","destination":"y"},"rules":[{}]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(err error) bool {
			if err == nil {
				return true
			}
			var p *problem.Problem
			if !errors.As(err, &p) || p.Code == "" {
				t.Fatalf("refusal is not a coded problem: %v", err)
			}
			switch p.Status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			default:
				t.Fatalf("refusal with status %d: %v", p.Status, err)
			}
			return false
		}
		if c, err := DecodeCreate(raw); check(err) {
			if !slugRE.MatchString(c.Slug) || len(c.Slug) > MaxSlugLen {
				t.Fatalf("slug %q accepted", c.Slug)
			}
			checkDraft(t, c.Draft)
		}
		if d, err := DecodeDryRun(raw); check(err) {
			checkDraft(t, d)
		}
		if u, err := DecodeUpdate(raw); check(err) && u.Rules != nil {
			if len(u.Rules) < 1 || len(u.Rules) > MaxRules {
				t.Fatalf("%d rules accepted", len(u.Rules))
			}
		}
	})
}

// checkDraft asserts what an accepted draft guarantees.
func checkDraft(t *testing.T, d Draft) {
	t.Helper()
	if len(d.Rules) < 1 || len(d.Rules) > MaxRules || len(d.Tests) > MaxTests {
		t.Fatalf("%d rules, %d tests accepted", len(d.Rules), len(d.Tests))
	}
	for _, r := range d.Rules {
		c := nodeproto.CompiledRule{Action: r.Action, Protocol: r.Protocol, SourceCIDR: r.SourceCIDR, DestinationCIDR: r.DestinationCIDR}
		if r.Ports != nil {
			c.Ports = &nodeproto.PortRange{From: r.Ports.From, To: r.Ports.To}
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted rule %+v is not enforceable: %v", r, err)
		}
	}
	if _, err := ToCompile("proj", "p", "r", d.Selector, d.Rules); err != nil {
		t.Fatalf("accepted draft does not compile: %v", err)
	}
	again, err := json.Marshal(apiv1.PolicyDryRunRequest{Selector: d.Selector, Rules: d.Rules, Tests: d.Tests})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := DecodeDryRun(again)
	if err != nil {
		t.Fatalf("canonical draft refused: %v\n%s", err, again)
	}
	if d2.Selector != d.Selector || !slices.Equal(d2.Tests, d.Tests) || len(d2.Rules) != len(d.Rules) {
		t.Fatalf("not canonical: %+v vs %+v", d, d2)
	}
	for i := range d.Rules {
		if compareRules(d.Rules[i], d2.Rules[i]) != 0 {
			t.Fatalf("rule %d not canonical: %+v vs %+v", i, d.Rules[i], d2.Rules[i])
		}
	}
}

// BenchmarkDecodeCreateMax decodes and validates a body at the rule cap.
func BenchmarkDecodeCreateMax(b *testing.B) {
	rules := make([]apiv1.NetworkPolicyRule, MaxRules)
	for i := range rules {
		rules[i] = rule("allow", "tcp", "10.0.0.0/8", "10.1.0.0/16", 1+i, 1+i)
	}
	raw, err := json.Marshal(apiv1.PolicyCreateRequest{Slug: "big",
		Selector: apiv1.PolicySelector{Source: "role=web", Destination: "role=db"}, Rules: rules})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := DecodeCreate(raw); err != nil {
			b.Fatal(err)
		}
	}
}
