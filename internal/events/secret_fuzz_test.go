package events

import (
	"strings"
	"testing"
)

// FuzzPrefersBinary: any Accept header gives an answer, and one naming
// only JSON never selects the binary form.
func FuzzPrefersBinary(f *testing.F) {
	for _, seed := range []string{"", "application/json", "application/octet-stream", "*/*",
		"application/json;q=0.5, application/octet-stream", "application/octet-stream;q=x", ";;,,="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		binary := prefersBinary(accept)
		if binary && !strings.Contains(strings.ToLower(accept), "octet-stream") {
			t.Fatalf("%q selected the binary form", accept)
		}
	})
}
