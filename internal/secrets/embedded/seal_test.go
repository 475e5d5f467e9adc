package embedded

import (
	"encoding/base64"
	"errors"
	"testing"
)

// Each layer binds on its own: the value to its path and version (under
// the right data key), the data key to its path, version and KEK id.
func TestSealBindsEachLayer(t *testing.T) {
	k := mustLoad(t, keyFile(t), "").active()
	s, err := seal(k, "d/p/a", 1, []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	dek, err := unwrap(k, s.wrappedKey, "d/p/a", 1)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := dekAEAD(dek)
	ct, _ := base64.StdEncoding.DecodeString(s.ciphertext)
	if got, err := a.Open(nil, nil, ct, valueAD("d/p/a", 1)); err != nil || string(got) != "value" {
		t.Fatalf("own binding: %q %v", got, err)
	}
	for _, ad := range [][]byte{valueAD("d/p/b", 1), valueAD("d/p/a", 2), valueAD("d/p/a\x001", 0)} {
		if _, err := a.Open(nil, nil, ct, ad); err == nil {
			t.Errorf("value opened under %q", ad)
		}
	}
	for _, c := range []struct {
		path    string
		version int64
		k       kek
	}{{"d/p/b", 1, k}, {"d/p/a", 2, k}, {"d/p/a", 1, kek{id: "other", aead: k.aead}}} {
		if _, err := unwrap(c.k, s.wrappedKey, c.path, c.version); !errors.Is(err, ErrUnseal) {
			t.Errorf("data key opened for %s v%d under %q: %v", c.path, c.version, c.k.id, err)
		}
	}
}
