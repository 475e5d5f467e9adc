package labels

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// Value schema kinds (api.md §3.4).
const (
	KindString  = "string"
	KindEnum    = "enum"
	KindNumeric = "numeric"
	KindBoolean = "boolean"
	KindRegex   = "regex"
)

// Value schema limits.
const (
	// MaxValueLen is the longest label value, in characters; also the
	// default and the ceiling of a string schema's max_len.
	MaxValueLen = 256
	// MaxPatternLen is the longest regex pattern, in bytes.
	MaxPatternLen = 512
	// MaxEnumValues is the most values an enum schema lists.
	MaxEnumValues = 256
)

// schemaFields says which optional fields each kind takes.
var schemaFields = map[string][]string{
	KindString:  {"max_len"},
	KindEnum:    {"values"},
	KindNumeric: {"min", "max"},
	KindBoolean: {},
	KindRegex:   {"pattern"},
}

func badSchema(format string, args ...any) error {
	return problem.Unprocessable("invalid_value_schema", fmt.Sprintf(format, args...))
}

// normalizeSchema checks a value schema and fills its defaults (a string
// schema's max_len). Failures are 422 invalid_value_schema.
func normalizeSchema(vs apiv1.ValueSchema) (apiv1.ValueSchema, error) {
	allowed, ok := schemaFields[vs.Kind]
	if !ok {
		return vs, badSchema("kind must be one of string, enum, numeric, boolean or regex.")
	}
	for _, f := range setFields(vs) {
		if !slices.Contains(allowed, f) {
			return vs, badSchema("%s does not apply to a %s schema.", f, vs.Kind)
		}
	}
	switch vs.Kind {
	case KindString:
		if vs.MaxLen == nil {
			n := MaxValueLen
			vs.MaxLen = &n
		}
		if *vs.MaxLen < 1 || *vs.MaxLen > MaxValueLen {
			return vs, badSchema("max_len must be between 1 and %d.", MaxValueLen)
		}
	case KindEnum:
		return vs, checkEnum(vs.Values)
	case KindNumeric:
		if vs.Min != nil && vs.Max != nil && *vs.Min > *vs.Max {
			return vs, badSchema("min (%d) is greater than max (%d).", *vs.Min, *vs.Max)
		}
	case KindRegex:
		if _, err := compilePattern(vs.Pattern); err != nil {
			return vs, badSchema("%s", err.Error())
		}
	}
	return vs, nil
}

// setFields names the optional fields vs carries.
func setFields(vs apiv1.ValueSchema) []string {
	var out []string
	if vs.MaxLen != nil {
		out = append(out, "max_len")
	}
	if len(vs.Values) > 0 {
		out = append(out, "values")
	}
	if vs.Min != nil {
		out = append(out, "min")
	}
	if vs.Max != nil {
		out = append(out, "max")
	}
	if vs.Pattern != "" {
		out = append(out, "pattern")
	}
	return out
}

func checkEnum(values []string) error {
	if len(values) == 0 {
		return badSchema("An enum schema needs at least one value.")
	}
	if len(values) > MaxEnumValues {
		return badSchema("An enum schema lists at most %d values.", MaxEnumValues)
	}
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if err := checkText(v); err != nil {
			return badSchema("Enum value %q: %s.", v, err.Error())
		}
		if seen[v] {
			return badSchema("Enum value %q is listed twice.", v)
		}
		seen[v] = true
	}
	return nil
}

// compilePattern compiles a regex schema's pattern (RE2) so that it must
// match the whole value.
func compilePattern(p string) (*regexp.Regexp, error) {
	switch {
	case p == "":
		return nil, errors.New("a regex schema needs a pattern")
	case len(p) > MaxPatternLen:
		return nil, fmt.Errorf("pattern is %d bytes; the limit is %d", len(p), MaxPatternLen)
	}
	if _, err := regexp.Compile(p); err != nil {
		return nil, fmt.Errorf("pattern does not compile (RE2 syntax): %v", err)
	}
	return regexp.Compile(`^(?:` + p + `)$`)
}

// checkText holds for every label value: not empty, valid UTF-8 without
// control characters, at most MaxValueLen characters.
func checkText(v string) error {
	switch {
	case v == "":
		return errors.New("the value is empty")
	case !utf8.ValidString(v):
		return errors.New("the value is not valid UTF-8")
	case utf8.RuneCountInString(v) > MaxValueLen:
		return fmt.Errorf("the value is longer than %d characters", MaxValueLen)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return errors.New("the value contains a control character")
	}
	return nil
}

// checkValue reports why v does not satisfy the (normalized) schema vs, or
// nil. Regex patterns must match the whole value; numbers are int64 in
// canonical decimal ("7", not "07" or "+7").
func checkValue(vs apiv1.ValueSchema, v string) error {
	if err := checkText(v); err != nil {
		return err
	}
	switch vs.Kind {
	case KindString:
		if vs.MaxLen != nil && utf8.RuneCountInString(v) > *vs.MaxLen {
			return fmt.Errorf("the value is longer than max_len %d", *vs.MaxLen)
		}
	case KindEnum:
		if !slices.Contains(vs.Values, v) {
			return fmt.Errorf("the value is not one of %s", strings.Join(vs.Values, ", "))
		}
	case KindNumeric:
		return checkNumber(vs, v)
	case KindBoolean:
		if v != "true" && v != "false" {
			return errors.New("the value must be true or false")
		}
	case KindRegex:
		re, err := compilePattern(vs.Pattern)
		if err != nil {
			return err
		}
		if !re.MatchString(v) {
			return fmt.Errorf("the value does not match the pattern %s", vs.Pattern)
		}
	default:
		return fmt.Errorf("the Definition's schema kind %q is unknown", vs.Kind)
	}
	return nil
}

func checkNumber(vs apiv1.ValueSchema, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != v {
		return errors.New("the value must be an integer in canonical decimal form")
	}
	if vs.Min != nil && n < *vs.Min {
		return fmt.Errorf("the value is less than min %d", *vs.Min)
	}
	if vs.Max != nil && n > *vs.Max {
		return fmt.Errorf("the value is greater than max %d", *vs.Max)
	}
	return nil
}
