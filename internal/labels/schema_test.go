package labels

import (
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func TestNormalizeSchema(t *testing.T) {
	for _, c := range []struct {
		name   string
		schema apiv1.ValueSchema
		err    string // substring of the detail; "" means valid
	}{
		{"string", apiv1.ValueSchema{Kind: KindString}, ""},
		{"string max_len", apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(1)}, ""},
		{"string max_len 0", apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(0)}, "max_len"},
		{"string max_len 257", apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(257)}, "max_len"},
		{"string with values", apiv1.ValueSchema{Kind: KindString, Values: []string{"a"}}, "values does not apply"},
		{"enum", apiv1.ValueSchema{Kind: KindEnum, Values: []string{"a", "b"}}, ""},
		{"enum empty", apiv1.ValueSchema{Kind: KindEnum, Values: []string{}}, "at least one"},
		{"enum empty value", apiv1.ValueSchema{Kind: KindEnum, Values: []string{""}}, "empty"},
		{"enum too many", apiv1.ValueSchema{Kind: KindEnum, Values: strings.Split(strings.Repeat("x,", MaxEnumValues), ",")}, "at most"},
		{"enum with pattern", apiv1.ValueSchema{Kind: KindEnum, Values: []string{"a"}, Pattern: "a"}, "pattern does not apply"},
		{"numeric", apiv1.ValueSchema{Kind: KindNumeric, Min: ptr[int64](-3), Max: ptr[int64](-3)}, ""},
		{"numeric open", apiv1.ValueSchema{Kind: KindNumeric, Max: ptr[int64](0)}, ""},
		{"numeric min above max", apiv1.ValueSchema{Kind: KindNumeric, Min: ptr[int64](1), Max: ptr[int64](0)}, "greater than max"},
		{"numeric with max_len", apiv1.ValueSchema{Kind: KindNumeric, MaxLen: ptr(3)}, "max_len does not apply"},
		{"boolean", apiv1.ValueSchema{Kind: KindBoolean}, ""},
		{"boolean with min", apiv1.ValueSchema{Kind: KindBoolean, Min: ptr[int64](0)}, "min does not apply"},
		{"regex", apiv1.ValueSchema{Kind: KindRegex, Pattern: `[a-z]+-\d+`}, ""},
		{"regex 512 bytes", apiv1.ValueSchema{Kind: KindRegex, Pattern: strings.Repeat("a", MaxPatternLen)}, ""},
		{"regex 513 bytes", apiv1.ValueSchema{Kind: KindRegex, Pattern: strings.Repeat("a", MaxPatternLen+1)}, "513 bytes"},
		{"regex backreference", apiv1.ValueSchema{Kind: KindRegex, Pattern: `(a)\1`}, "RE2"},
		{"regex unbalanced", apiv1.ValueSchema{Kind: KindRegex, Pattern: `(`}, "RE2"},
		{"regex empty", apiv1.ValueSchema{Kind: KindRegex}, "needs a pattern"},
		{"kind", apiv1.ValueSchema{Kind: "date"}, "kind must be"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := normalizeSchema(c.schema)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && err == nil:
				t.Fatalf("accepted %+v", got)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Fatalf("error %q does not mention %q", err, c.err)
			case err != nil && !strings.HasPrefix(err.Error(), "invalid_value_schema:"):
				t.Fatalf("error %q is not invalid_value_schema", err)
			}
		})
	}
}

func TestCheckValue(t *testing.T) {
	norm := func(vs apiv1.ValueSchema) apiv1.ValueSchema {
		n, err := normalizeSchema(vs)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	str := norm(apiv1.ValueSchema{Kind: KindString})
	short := norm(apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(3)})
	enum := norm(apiv1.ValueSchema{Kind: KindEnum, Values: []string{"dev", "prod"}})
	num := norm(apiv1.ValueSchema{Kind: KindNumeric, Min: ptr[int64](-5), Max: ptr[int64](10)})
	anyNum := norm(apiv1.ValueSchema{Kind: KindNumeric})
	boolean := norm(apiv1.ValueSchema{Kind: KindBoolean})
	re := norm(apiv1.ValueSchema{Kind: KindRegex, Pattern: `[a-z]+-\d+`})
	alt := norm(apiv1.ValueSchema{Kind: KindRegex, Pattern: `a|b`})
	for _, c := range []struct {
		schema apiv1.ValueSchema
		value  string
		err    string // substring of the reason; "" means valid
	}{
		{str, "anything goes", ""},
		{str, strings.Repeat("ü", MaxValueLen), ""},
		{str, strings.Repeat("ü", MaxValueLen+1), "longer than 256"},
		{str, "", "empty"},
		{str, "\xff", "UTF-8"},
		{str, "a\nb", "control"},
		{short, "abc", ""},
		{short, "äöü", ""},
		{short, "abcd", "max_len 3"},
		{enum, "prod", ""},
		{enum, "Prod", "not one of dev, prod"},
		{num, "-5", ""},
		{num, "10", ""},
		{num, "0", ""},
		{num, "11", "greater than max 10"},
		{num, "-6", "less than min -5"},
		{num, "07", "canonical"},
		{num, "+7", "canonical"},
		{num, "1.5", "integer"},
		{anyNum, "-9223372036854775808", ""},
		{anyNum, "9223372036854775808", "integer"},
		{boolean, "true", ""},
		{boolean, "false", ""},
		{boolean, "True", "true or false"},
		{boolean, "1", "true or false"},
		{re, "web-12", ""},
		{re, "web-12x", "does not match"}, // the whole value must match
		{re, "xWEB-1", "does not match"},
		{alt, "b", ""},
		{alt, "ab", "does not match"}, // alternation is anchored as a whole
	} {
		err := checkValue(c.schema, c.value)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s %q refused: %v", c.schema.Kind, c.value, err)
		case c.err != "" && err == nil:
			t.Errorf("%s %q accepted", c.schema.Kind, c.value)
		case c.err != "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("%s %q: %q does not mention %q", c.schema.Kind, c.value, err, c.err)
		}
	}
}

// TestSchemaKindsOverHTTP drives each schema kind through a real assignment.
func TestSchemaKindsOverHTTP(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tr := h.tree(t)
		for _, c := range []struct {
			key        string
			schema     apiv1.ValueSchema
			good, bad  string
			badBecause string
		}{
			{"name", apiv1.ValueSchema{Kind: KindString, MaxLen: ptr(4)}, "abcd", "abcde", "max_len 4"},
			{"env", apiv1.ValueSchema{Kind: KindEnum, Values: []string{"dev", "prod"}}, "prod", "qa", "not one of"},
			{"replicas", apiv1.ValueSchema{Kind: KindNumeric, Min: ptr[int64](1), Max: ptr[int64](9)}, "3", "0", "less than min 1"},
			{"public", apiv1.ValueSchema{Kind: KindBoolean}, "false", "no", "true or false"},
			{"host", apiv1.ValueSchema{Kind: KindRegex, Pattern: `[a-z]+-\d+`}, "web-1", "web-1x", "does not match"},
		} {
			d := h.define(t, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: c.key, ValueSchema: c.schema,
				DefaultValue: c.good})
			if d.ValueSchema.Kind != c.schema.Kind || d.DefaultValue != c.good {
				t.Errorf("%s: stored %+v", c.key, d)
			}
			h.assign(t, "resource", tr.vm, d.ID, c.good)
			r := h.fails(t, 422, "label_value_invalid", "PUT", labelsPath("resource", tr.vm),
				apiv1.AssignLabel{DefinitionID: d.ID, Value: c.bad})
			if !strings.Contains(r.detail(), c.badBecause) || !strings.Contains(r.detail(), "platform/"+c.key) {
				t.Errorf("%s: detail %q does not say %q about the key", c.key, r.detail(), c.badBecause)
			}
		}
		want := []string{"platform/env=prod", "platform/host=web-1", "platform/name=abcd", "platform/public=false", "platform/replicas=3"}
		if got := h.labelsOn(t, "resource", tr.vm); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("labels %v, want %v", got, want)
		}
	})
}
