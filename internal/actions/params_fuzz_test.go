package actions

import (
	"encoding/json"
	"testing"
)

// FuzzParams: a dispatch's parameters (untrusted JSON) become the agent's
// string map or a 400, never a panic, and what is accepted is bounded.
func FuzzParams(f *testing.F) {
	for _, s := range []string{`{"target":"10.0.0.1","count":3,"verbose":true}`, `null`, `[]`, `{"a":{"b":1}}`, `{"":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := params(json.RawMessage(raw))
		if err != nil {
			return
		}
		if len(out) > 64 {
			t.Fatalf("%d parameters accepted", len(out))
		}
		for k, v := range out {
			if k == "" || len(k) > 64 || len(v) > 4096 {
				t.Fatalf("unbounded parameter %q=%q", k, v)
			}
		}
	})
}
