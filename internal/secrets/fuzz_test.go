package secrets

import (
	"bytes"
	"testing"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
)

// FuzzDecodePut: any write body either decodes to a value within the
// bound, or is refused with a problem; never a panic, never a value
// larger than 512 KiB.
func FuzzDecodePut(f *testing.F) {
	for _, seed := range []string{`{"value":"eA=="}`, `{"value":"eA==","expected_version":0}`, `{"value":"!"}`,
		`{"value":"eA==","x":1}`, `{"expected_version":-1,"value":""}`, `[]`, ``, `{"value":"eA=="}{"value":"eA=="}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		val, cas, err := decodePut(bytes.Clone(body))
		if err != nil {
			if val != nil {
				t.Fatalf("a refused body returned a value")
			}
			return
		}
		if len(val) > backend.MaxValue {
			t.Fatalf("%d-byte value accepted", len(val))
		}
		if cas != nil && *cas < 0 {
			t.Fatalf("negative expected_version %d accepted", *cas)
		}
	})
}
