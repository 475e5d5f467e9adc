package canonjson

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"scalar", " 42 ", "42"},
		{"null", "\r\n\tnull", "null"},
		{"string", `"x"`, `"x"`},
		{"empty containers", `[ { } , [ ] ]`, `[{},[]]`},
		{"whitespace and order", `{ "b" : 1 , "a" : [ true , false , null ] }`, `{"a":[true,false,null],"b":1}`},
		{
			"nested sort",
			`{"z":{"b":[{"d":1,"c":2}],"a":{}},"y":[]}`,
			`{"y":[],"z":{"a":{},"b":[{"c":2,"d":1}]}}`,
		},
		{
			// Names sort by UTF-16 code units: U+FB33 sorts after the
			// surrogate pair of U+1F600 although its code point is lower.
			"utf-16 key order",
			`{"\u20ac":"Euro","\r":"CR","\ufb33":"Dalet","1":"One","\ud83d\ude00":"Grin","\u0080":"Ctl","\u00f6":"o"}`,
			"{\"\\r\":\"CR\",\"1\":\"One\",\"\u0080\":\"Ctl\",\"ö\":\"o\",\"€\":\"Euro\",\"😀\":\"Grin\",\"\ufb33\":\"Dalet\"}",
		},
		{
			"numbers",
			`[1e21, 1E-7, -0, 0.000001, 1.0, 10e-1, 123456789012345678901234567890, 9007199254740993, 1e-400, 0.1, -0.0e5, 1E+2]`,
			`[1e+21,1e-7,0,0.000001,1,1,1.2345678901234568e+29,9007199254740992,0,0.1,0,100]`,
		},
		{
			"escapes",
			`"\u0041\/\u00e9\ud83d\ude00\u2028\u001F\u007f\u000a\u005C\u0022\b\f\n\r\t\u0000"`,
			"\"A/é😀\u2028\\u001f\x7f\\n\\\\\\\"\\b\\f\\n\\r\\t\\u0000\"",
		},
		{"raw utf-8 and html", "\"<&>\u2029€\"", "\"<&>\u2029€\""},
		{
			"rfc 8785 style sample",
			`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
			  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
			  "literals": [null, true, false]}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],` +
				`"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{"max depth", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonicalize: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonicalize =\n%s\nwant\n%s", got, tt.want)
			}
			again, err := Canonicalize(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	tests := []struct {
		in     string
		offset int
		kind   errKind
	}{
		{"", 0, errSyntax},
		{"   ", 3, errSyntax},
		{"\xef\xbb\xbf{}", 0, errSyntax}, // BOM
		{`{"a":1,"a":2}`, 7, errDuplicate},
		{`{"a":1,"b":{},"\u0061":2}`, 14, errDuplicate},
		{`{"b":{"x":1,"x":1},"a":0}`, 12, errDuplicate},
		{"\"\xff\"", 1, errUTF8},
		{"\"\xed\xa0\x80\"", 1, errUTF8},
		{`"\ud800"`, 1, errUTF8},
		{`"ab\ud800x"`, 3, errUTF8},
		{`"\udc00\ud800"`, 1, errUTF8},
		{`"\ud800\u0041"`, 1, errUTF8},
		{`1e400`, 0, errRange},
		{`[0, -1.5e309]`, 4, errRange},
		{`01`, 1, errSyntax},
		{`1.`, 2, errSyntax},
		{`-`, 1, errSyntax},
		{`1e`, 2, errSyntax},
		{`1e+`, 3, errSyntax},
		{`.5`, 0, errSyntax},
		{`+1`, 0, errSyntax},
		{`NaN`, 0, errSyntax},
		{`[1,]`, 3, errSyntax},
		{`[1 2]`, 3, errSyntax},
		{`[1`, 2, errSyntax},
		{`{"a":1,}`, 7, errSyntax},
		{`{"a" 1}`, 5, errSyntax},
		{`{a:1}`, 1, errSyntax},
		{`{"a":1`, 6, errSyntax},
		{"\"a\tb\"", 2, errSyntax},
		{`"\x"`, 1, errSyntax},
		{`"\u12"`, 1, errSyntax},
		{`"\u12G4"`, 1, errSyntax},
		{`"abc`, 4, errSyntax},
		{`"abc\`, 5, errSyntax},
		{`tru`, 0, errSyntax},
		{`true false`, 5, errSyntax},
		{`[1] x`, 4, errSyntax},
		{deep, MaxDepth, errDepth},
	}
	for _, tt := range tests {
		got, err := Canonicalize([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Canonicalize(%.30q) = %q, %v; want *SyntaxError", tt.in, got, err)
			continue
		}
		if se.Offset != tt.offset || se.kind != tt.kind {
			t.Errorf("Canonicalize(%.30q): offset %d kind %d (%v), want offset %d kind %d",
				tt.in, se.Offset, se.kind, err, tt.offset, tt.kind)
		}
		if got != nil {
			t.Errorf("Canonicalize(%.30q) returned output %q with an error", tt.in, got)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Canonicalize([]byte(`{"a":1,"a":2}`))
	if got, want := err.Error(), `canonjson: offset 7: duplicate member name "a"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestMarshal(t *testing.T) {
	v := map[string]any{"b": "<x>", "a": []int{3, 1}, "c": 1.5e-7}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[3,1],"b":"<x>","c":1.5e-7}`; string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	if _, err := Marshal(make(chan int)); err == nil {
		t.Error("Marshal(chan) succeeded")
	}
}
