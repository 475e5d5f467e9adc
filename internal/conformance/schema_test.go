package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// kind is the JSON type a schema accepts.
type kind int

const (
	kString kind = iota
	kDateTime
	kInt
	kNumber
	kBool
	kEnum
	kObject
	kArray
	kMap
	kAny
)

// schema is a hand-written mirror of one contract schema: just enough to
// decode strictly (types, required fields, enums, nullability).
type schema struct {
	kind     kind
	enum     []string
	fields   []field // kObject
	elem     *schema // kArray elements, kMap values
	nullable bool    // null is a valid value even where the field is required
}

// field is one property of an object schema.
type field struct {
	name     string
	s        *schema
	required bool
}

var (
	str      = &schema{kind: kString}
	dateTime = &schema{kind: kDateTime}
	integer  = &schema{kind: kInt}
	number   = &schema{kind: kNumber}
	boolean  = &schema{kind: kBool}
	anyValue = &schema{kind: kAny}
)

func enum(values ...string) *schema { return &schema{kind: kEnum, enum: values} }
func arrayOf(s *schema) *schema     { return &schema{kind: kArray, elem: s} }
func mapOf(s *schema) *schema       { return &schema{kind: kMap, elem: s} }
func object(fs ...field) *schema    { return &schema{kind: kObject, fields: fs} }
func req(name string, s *schema) field {
	return field{name: name, s: s, required: true}
}
func opt(name string, s *schema) field { return field{name: name, s: s} }

// orNull is s with null allowed (a required-but-nullable property).
func orNull(s *schema) *schema {
	c := *s
	c.nullable = true
	return &c
}

// anyObject is an object whose properties the contract leaves open.
var anyObject = object()

// decodeStrict decodes raw as the contract's client would and lists every
// way it departs from s; nil means it conforms.
func decodeStrict(raw []byte, s *schema) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"body is not JSON: " + err.Error()}
	}
	var errs []string
	check("$", s, v, &errs)
	return errs
}

func check(path string, s *schema, v any, errs *[]string) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, path+": "+fmt.Sprintf(format, args...))
	}
	if v == nil {
		if !s.nullable {
			fail("null where the contract has a non-null %s", s.kind)
		}
		return
	}
	switch s.kind {
	case kAny:
	case kString:
		if _, ok := v.(string); !ok {
			fail("want a string, got %s", jsonType(v))
		}
	case kDateTime:
		t, ok := v.(string)
		if !ok {
			fail("want a date-time string, got %s", jsonType(v))
		} else if _, err := time.Parse(time.RFC3339, t); err != nil {
			fail("%q is not an RFC 3339 date-time", t)
		}
	case kInt:
		n, ok := v.(json.Number)
		if !ok {
			fail("want an integer, got %s", jsonType(v))
		} else if _, err := n.Int64(); err != nil {
			fail("%s is not an integer", n)
		}
	case kNumber:
		if _, ok := v.(json.Number); !ok {
			fail("want a number, got %s", jsonType(v))
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %s", jsonType(v))
		}
	case kEnum:
		e, ok := v.(string)
		if !ok {
			fail("want one of %v, got %s", s.enum, jsonType(v))
		} else if !slices.Contains(s.enum, e) {
			fail("%q is outside the contract's enum %v", e, s.enum)
		}
	case kArray:
		a, ok := v.([]any)
		if !ok {
			fail("want a bare array, got %s", jsonType(v))
			return
		}
		for i, el := range a {
			check(fmt.Sprintf("%s[%d]", path, i), s.elem, el, errs)
		}
	case kMap:
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object (map), got %s", jsonType(v))
			return
		}
		for _, k := range sortedKeys(m) {
			check(path+"."+k, s.elem, m[k], errs)
		}
	case kObject:
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %s", jsonType(v))
			return
		}
		for _, f := range s.fields {
			fv, present := m[f.name]
			switch {
			case !present && f.required:
				fail("required field %q is missing", f.name)
			case !present:
			case fv == nil && !f.required:
				// An optional field may be null (the contract's pointers).
			default:
				check(path+"."+f.name, f.s, fv, errs)
			}
		}
	}
}

func (k kind) String() string {
	return [...]string{"string", "date-time", "integer", "number", "boolean", "enum", "object", "array", "map", "value"}[k]
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestDecodeStrict shows the checker fails on each kind of departure the
// suite exists to catch, and accepts our additions.
func TestDecodeStrict(t *testing.T) {
	s := object(req("id", str), req("at", dateTime), req("kind", enum("a", "b")),
		req("tags", mapOf(arrayOf(str))), opt("note", str), req("maybe", orNull(anyObject)))
	for _, c := range []struct {
		name, body, want string
	}{
		{"conforms with an extra field", `{"id":"x","at":"2026-01-02T03:04:05Z","kind":"a","tags":{"k":["v"]},"maybe":null,"ours":1}`, ""},
		{"optional null", `{"id":"x","at":"2026-01-02T03:04:05Z","kind":"a","tags":{},"note":null,"maybe":{}}`, ""},
		{"missing required", `{"at":"2026-01-02T03:04:05Z","kind":"a","tags":{},"maybe":null}`, `required field "id" is missing`},
		{"enum outside", `{"id":"x","at":"2026-01-02T03:04:05Z","kind":"c","tags":{},"maybe":null}`, `"c" is outside the contract's enum`},
		{"array for a map", `{"id":"x","at":"2026-01-02T03:04:05Z","kind":"a","tags":["k"],"maybe":null}`, "want an object (map), got an array"},
		{"not a date-time", `{"id":"x","at":"unknown","kind":"a","tags":{},"maybe":null}`, `"unknown" is not an RFC 3339 date-time`},
		{"required null", `{"id":null,"at":"2026-01-02T03:04:05Z","kind":"a","tags":{},"maybe":null}`, "null where the contract has a non-null string"},
	} {
		errs := strings.Join(decodeStrict([]byte(c.body), s), "; ")
		if (c.want == "") != (errs == "") || !strings.Contains(errs, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, errs, c.want)
		}
	}
	if errs := decodeStrict([]byte(`{"items":[]}`), arrayOf(str)); len(errs) != 1 || !strings.Contains(errs[0], "want a bare array") {
		t.Errorf("wrapped list accepted as a bare array: %v", errs)
	}
	for ct, want := range map[string]bool{"application/json": true, "application/json; charset=utf-8": true,
		"application/problem+json": true, "text/plain": false, "": false, "application/jsonl": false} {
		if jsonMedia.MatchString(ct) != want {
			t.Errorf("JSON media type %q: got %v, want %v", ct, !want, want)
		}
	}
}
