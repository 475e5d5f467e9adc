package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/selector"
)

// Limits (api.md §2.10).
const (
	// MaxBody is the ceiling of a create, patch or dry-run body.
	MaxBody = 256 << 10
	// MaxRules is the per-revision rule cap.
	MaxRules = 1024
	// MaxTests bounds the assertions of one revision.
	MaxTests = 256
	// MaxSlugLen bounds a slug.
	MaxSlugLen = 64
	// MaxDisplayName bounds a display name, in bytes.
	MaxDisplayName = 256
	// MaxDescription bounds a rule's description, in bytes.
	MaxDescription = 256
)

// Problem codes of this context (api.md §3.7; the contract's where it has
// one).
const (
	CodeInvalidBody        = "invalid_body"
	CodeMalformedSelector  = "malformed_selector"
	CodeEmptySelector      = "empty_selector"
	CodeRuleCount          = "rule_count_out_of_range"
	CodeUnknownAction      = "unknown_action"
	CodeUnknownProtocol    = "unknown_protocol"
	CodeInvalidCIDR        = "invalid_cidr"
	CodeFamilyMismatch     = "cidr_family_mismatch"
	CodePortsRequired      = "ports_required"
	CodePortsNotAllowed    = "ports_not_allowed"
	CodePortOutOfRange     = "port_out_of_range"
	CodePortRangeInverted  = "port_range_inverted"
	CodeInvalidSlug        = "invalid_slug"
	CodeInvalidDisplayName = "invalid_display_name"
	CodeInvalidTest        = "invalid_policy_test"
	CodeTestFailed         = "policy_test_failed"
	CodeSlugTaken          = "policy_slug_taken"
	CodeNotFound           = "policy_not_found"
	CodeRevisionNotVisible = "revision_not_visible"
	CodeRevisionConflict   = "revision_conflict"
	CodeEmptyPatch         = "empty_patch"
	CodeSlugImmutable      = "slug_immutable"
)

var slugRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Draft is a validated revision body: canonical selectors, rules and tests.
type Draft struct {
	Selector apiv1.PolicySelector
	Rules    []apiv1.NetworkPolicyRule
	Tests    []apiv1.PolicyTest
}

// Create is a validated create body.
type Create struct {
	Slug        string
	DisplayName string
	Draft
}

// Update is a validated patch body; nil fields inherit from the head.
type Update struct {
	DisplayName *string
	Selector    *apiv1.PolicySelector
	Rules       []apiv1.NetworkPolicyRule // nil: inherit
	Tests       []apiv1.PolicyTest        // nil: inherit; empty: none
	Expected    string
}

// decodeStrict decodes a JSON object into v: one value, no trailing data.
// Unknown fields are ignored (clients may be newer than we are).
func decodeStrict(raw []byte, v any) error {
	if len(raw) > MaxBody {
		return problem.Newf(http.StatusRequestEntityTooLarge, "request_body_too_large",
			"A policy body is at most %d bytes.", MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return problem.BadRequest(CodeInvalidBody, "The body is not a valid JSON policy document: "+jsonReason(err))
	}
	if dec.More() {
		return problem.BadRequest(CodeInvalidBody, "The body has data after the JSON document.")
	}
	return nil
}

// jsonReason is a short public reason for a decoding failure (no input is
// echoed beyond the field name).
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s has the wrong type", te.Field)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "not a JSON object"
}

// DecodeCreate decodes and validates a create body.
func DecodeCreate(raw []byte) (Create, error) {
	var w struct {
		Slug        *string                   `json:"slug"`
		DisplayName string                    `json:"display_name"`
		Selector    *apiv1.PolicySelector     `json:"selector"`
		Rules       []apiv1.NetworkPolicyRule `json:"rules"`
		Tests       []apiv1.PolicyTest        `json:"tests"`
	}
	if err := decodeStrict(raw, &w); err != nil {
		return Create{}, err
	}
	if w.Slug == nil {
		return Create{}, problem.BadRequest(CodeInvalidBody, "slug is required.")
	}
	if err := checkSlug(*w.Slug); err != nil {
		return Create{}, err
	}
	if err := checkDisplayName(w.DisplayName); err != nil {
		return Create{}, err
	}
	if w.Selector == nil {
		return Create{}, problem.Unprocessable(CodeEmptySelector, "selector {source, destination} is required.")
	}
	d, err := ValidateDraft(*w.Selector, w.Rules, w.Tests)
	if err != nil {
		return Create{}, err
	}
	return Create{Slug: *w.Slug, DisplayName: w.DisplayName, Draft: d}, nil
}

// DecodeUpdate decodes and validates a patch body. A body that changes
// nothing is 400 empty_patch; one carrying slug is 400 slug_immutable.
func DecodeUpdate(raw []byte) (Update, error) {
	var w struct {
		Slug               json.RawMessage            `json:"slug"`
		DisplayName        *string                    `json:"display_name"`
		Selector           *apiv1.PolicySelector      `json:"selector"`
		Rules              *[]apiv1.NetworkPolicyRule `json:"rules"`
		Tests              *[]apiv1.PolicyTest        `json:"tests"`
		ExpectedRevisionID *string                    `json:"expected_revision_id"`
	}
	if err := decodeStrict(raw, &w); err != nil {
		return Update{}, err
	}
	if w.Slug != nil {
		return Update{}, problem.BadRequest(CodeSlugImmutable, "A Policy's slug cannot change; create a new Policy instead.")
	}
	var u Update
	if w.ExpectedRevisionID != nil {
		id, err := ParseID("revision", *w.ExpectedRevisionID)
		if err != nil {
			return Update{}, err
		}
		u.Expected = id
	}
	if w.DisplayName == nil && w.Selector == nil && w.Rules == nil && w.Tests == nil {
		return Update{}, problem.BadRequest(CodeEmptyPatch, "The patch changes nothing.")
	}
	if w.DisplayName != nil {
		if err := checkDisplayName(*w.DisplayName); err != nil {
			return Update{}, err
		}
		u.DisplayName = w.DisplayName
	}
	if w.Selector != nil {
		sel, err := checkSelector(*w.Selector)
		if err != nil {
			return Update{}, err
		}
		u.Selector = &sel
	}
	if w.Rules != nil {
		rules, err := checkRules(*w.Rules)
		if err != nil {
			return Update{}, err
		}
		u.Rules = rules
	}
	if w.Tests != nil {
		tests, err := checkTests(*w.Tests)
		if err != nil {
			return Update{}, err
		}
		u.Tests = nonNil(tests) // [] clears the head's tests
	}
	return u, nil
}

// DecodeDryRun decodes and validates a dry-run body.
func DecodeDryRun(raw []byte) (Draft, error) {
	var w struct {
		Selector *apiv1.PolicySelector     `json:"selector"`
		Rules    []apiv1.NetworkPolicyRule `json:"rules"`
		Tests    []apiv1.PolicyTest        `json:"tests"`
	}
	if err := decodeStrict(raw, &w); err != nil {
		return Draft{}, err
	}
	if w.Selector == nil {
		return Draft{}, problem.Unprocessable(CodeEmptySelector, "selector {source, destination} is required.")
	}
	return ValidateDraft(*w.Selector, w.Rules, w.Tests)
}

// ValidateDraft checks a revision's selector, rules and tests and returns
// them in canonical form.
func ValidateDraft(sel apiv1.PolicySelector, rules []apiv1.NetworkPolicyRule, tests []apiv1.PolicyTest) (Draft, error) {
	s, err := checkSelector(sel)
	if err != nil {
		return Draft{}, err
	}
	r, err := checkRules(rules)
	if err != nil {
		return Draft{}, err
	}
	t, err := checkTests(tests)
	if err != nil {
		return Draft{}, err
	}
	return Draft{Selector: s, Rules: r, Tests: t}, nil
}

// ParseID checks a path or body id: a non-zero UUID, canonical lower case.
func ParseID(kind, s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", problem.BadRequest("invalid_"+kind+"_id", "The "+kind+" id must be a UUID.")
	}
	return u.String(), nil
}

func checkSlug(s string) error {
	if len(s) == 0 || len(s) > MaxSlugLen || !slugRE.MatchString(s) {
		return problem.BadRequest(CodeInvalidSlug,
			"slug must match ^[a-z][a-z0-9-]*$ and be at most 64 bytes, e.g. web-to-db.")
	}
	return nil
}

func checkDisplayName(s string) error {
	if len(s) > MaxDisplayName || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n") {
		return problem.Newf(http.StatusBadRequest, CodeInvalidDisplayName,
			"display_name is at most %d bytes of single-line UTF-8.", MaxDisplayName)
	}
	return nil
}

// checkSelector parses both selectors (400 malformed_selector) and refuses
// empty ones (422 empty_selector): an empty selector would match every node.
func checkSelector(sel apiv1.PolicySelector) (apiv1.PolicySelector, error) {
	var out apiv1.PolicySelector
	for _, f := range []struct {
		name string
		in   string
		out  *string
	}{{"source", sel.Source, &out.Source}, {"destination", sel.Destination, &out.Destination}} {
		parsed, err := ParseSelector(f.in)
		if err != nil {
			return out, problem.Newf(http.StatusBadRequest, CodeMalformedSelector, "selector.%s: %v", f.name, err)
		}
		if parsed.Empty() {
			return out, problem.Newf(http.StatusUnprocessableEntity, CodeEmptySelector,
				"selector.%s is empty; it would match every node. Name the nodes, e.g. role=web.", f.name)
		}
		*f.out = parsed.String()
	}
	return out, nil
}

// ParseSelector parses a selector expression of a policy or test.
func ParseSelector(s string) (selector.Selector, error) {
	return selector.Parse(s)
}

// checkRules validates every rule and returns the canonical list.
func checkRules(rules []apiv1.NetworkPolicyRule) ([]apiv1.NetworkPolicyRule, error) {
	if len(rules) < 1 || len(rules) > MaxRules {
		return nil, problem.Newf(http.StatusUnprocessableEntity, CodeRuleCount,
			"A revision has 1..%d rules; this one has %d.", MaxRules, len(rules))
	}
	out := make([]apiv1.NetworkPolicyRule, len(rules))
	for i, r := range rules {
		c, err := checkRule(r)
		if err != nil {
			return nil, atRule(i, err)
		}
		out[i] = c
	}
	return out, nil
}

// atRule prefixes a rule's problem with its position.
func atRule(i int, err error) error {
	var p *problem.Problem
	if errors.As(err, &p) {
		return problem.Newf(p.Status, p.Code, "rules[%d]: %s", i, p.Detail)
	}
	return err
}

// checkRule validates one rule (api.md §3.7) and canonicalises its prefixes.
func checkRule(r apiv1.NetworkPolicyRule) (apiv1.NetworkPolicyRule, error) {
	switch r.Action {
	case "allow", "deny", "log":
	default:
		return r, problem.Unprocessable(CodeUnknownAction, "action must be allow, deny or log.")
	}
	switch r.Protocol {
	case "tcp", "udp":
		if r.Ports == nil {
			return r, problem.Unprocessable(CodePortsRequired, "ports {from, to} is required for "+r.Protocol+".")
		}
		if r.Ports.From < 1 || r.Ports.From > 65535 || r.Ports.To < 1 || r.Ports.To > 65535 {
			return r, problem.Unprocessable(CodePortOutOfRange, "ports.from and ports.to are within 1..65535.")
		}
		if r.Ports.From > r.Ports.To {
			return r, problem.Unprocessable(CodePortRangeInverted, "ports.from is greater than ports.to.")
		}
		p := *r.Ports
		r.Ports = &p
	case "icmp", "any":
		if r.Ports != nil {
			return r, problem.Unprocessable(CodePortsNotAllowed, "ports is not allowed for "+r.Protocol+".")
		}
	default:
		return r, problem.Unprocessable(CodeUnknownProtocol, "protocol must be tcp, udp, icmp or any.")
	}
	src, err := checkCIDR("source_cidr", r.SourceCIDR)
	if err != nil {
		return r, err
	}
	dst, err := checkCIDR("destination_cidr", r.DestinationCIDR)
	if err != nil {
		return r, err
	}
	if src.Addr().Is4() != dst.Addr().Is4() {
		return r, problem.Unprocessable(CodeFamilyMismatch, "source_cidr and destination_cidr must be of one address family.")
	}
	r.SourceCIDR, r.DestinationCIDR = src.String(), dst.String()
	if len(r.Description) > MaxDescription || !utf8.ValidString(r.Description) {
		return r, problem.Newf(http.StatusUnprocessableEntity, CodeInvalidBody,
			"description is at most %d bytes of UTF-8.", MaxDescription)
	}
	return r, nil
}

// checkCIDR parses a network prefix; host bits are refused so that what is
// stored is what was meant.
func checkCIDR(field, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, problem.Unprocessable(CodeInvalidCIDR, field+" must be a CIDR prefix such as 10.0.0.0/8 or ::/0.")
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		// An IPv4-mapped prefix is the IPv4 prefix it maps.
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() != p {
		return p, problem.Unprocessable(CodeInvalidCIDR, fmt.Sprintf("%s has host bits set; did you mean %s?", field, p.Masked()))
	}
	return p, nil
}

// checkTests validates the assertions: from and to are node ids or
// selectors, the protocol is known, port is given exactly for tcp and udp.
func checkTests(tests []apiv1.PolicyTest) ([]apiv1.PolicyTest, error) {
	if len(tests) > MaxTests {
		return nil, problem.Newf(http.StatusUnprocessableEntity, CodeInvalidTest, "At most %d tests per revision.", MaxTests)
	}
	if len(tests) == 0 {
		return nil, nil
	}
	out := make([]apiv1.PolicyTest, len(tests))
	for i, t := range tests {
		c, err := checkTest(t)
		if err != nil {
			var p *problem.Problem
			if errors.As(err, &p) {
				return nil, problem.Newf(p.Status, p.Code, "tests[%d]: %s", i, p.Detail)
			}
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func checkTest(t apiv1.PolicyTest) (apiv1.PolicyTest, error) {
	for _, e := range []*string{&t.From, &t.To} {
		ref, err := ParseEndpoint(*e)
		if err != nil {
			return t, err
		}
		*e = ref.String()
	}
	switch t.Protocol {
	case "tcp", "udp":
		if t.Port < 1 || t.Port > 65535 {
			return t, problem.Unprocessable(CodeInvalidTest, "port (1..65535) is required for "+t.Protocol+".")
		}
	case "icmp", "any":
		if t.Port != 0 {
			return t, problem.Unprocessable(CodeInvalidTest, "port is not allowed for "+t.Protocol+".")
		}
	default:
		return t, problem.Unprocessable(CodeUnknownProtocol, "protocol must be tcp, udp, icmp or any.")
	}
	if t.Expect != "allow" && t.Expect != "deny" {
		return t, problem.Unprocessable(CodeInvalidTest, "expect must be allow or deny.")
	}
	return t, nil
}

// Endpoint is a test's from or to: one node by id, or a selector.
type Endpoint struct {
	NodeID   string
	Selector selector.Selector
}

// String is the canonical text: the node id or the selector.
func (e Endpoint) String() string {
	if e.NodeID != "" {
		return e.NodeID
	}
	return e.Selector.String()
}

// ParseEndpoint reads a node id (a UUID) or a non-empty selector.
func ParseEndpoint(s string) (Endpoint, error) {
	if u, err := uuid.Parse(strings.TrimSpace(s)); err == nil && len(strings.TrimSpace(s)) == 36 {
		return Endpoint{NodeID: u.String()}, nil
	}
	sel, err := ParseSelector(s)
	if err != nil {
		return Endpoint{}, problem.Newf(http.StatusBadRequest, CodeMalformedSelector, "%v", err)
	}
	if sel.Empty() {
		return Endpoint{}, problem.Unprocessable(CodeEmptySelector, "from and to name a node id or a non-empty selector.")
	}
	return Endpoint{Selector: sel}, nil
}
