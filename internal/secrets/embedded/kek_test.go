package embedded

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func b64Key() (string, []byte) {
	raw := make([]byte, 32)
	rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw), raw
}

// A missing file is created with one key, 0600, in a 0700 directory;
// loading it again gives the same key.
func TestLoadCreatesKeyFile(t *testing.T) {
	path := keyFile(t)
	s := mustLoad(t, path, "")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("parent directory mode %v", di.Mode().Perm())
	}
	if ids := s.IDs(); len(ids) != 1 || len(ids[0]) != 8 {
		t.Errorf("ids %v", ids)
	}
	if again := mustLoad(t, path, ""); again.ActiveID() != s.ActiveID() {
		t.Errorf("reloaded active %s, created %s", again.ActiveID(), s.ActiveID())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".secrets-kek-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// Replicas starting together on a missing file agree on one key.
func TestConcurrentCreateAgrees(t *testing.T) {
	path := keyFile(t)
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			s, err := LoadKEKs(path, "")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[s.ActiveID()] = true
		})
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Errorf("replicas created different keys: %v", ids)
	}
}

// A key file others can read or write is refused, naming the fix; 0600
// and 0400 are accepted.
func TestKeyFilePermissions(t *testing.T) {
	path := keyFile(t)
	mustLoad(t, path, "")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o700} {
		os.Chmod(path, mode)
		_, err := LoadKEKs(path, "")
		if !errors.Is(err, ErrKEKFileMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v, want ErrKEKFileMode", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		os.Chmod(path, mode)
		if _, err := LoadKEKs(path, ""); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

// PLEXSPHERE_KEK wins over the file: a bare key (id derived from its
// SHA-256) or lines as in the file; the file is neither read nor created.
func TestEnvKeyWinsOverFile(t *testing.T) {
	path := keyFile(t)
	fromFile := mustLoad(t, path, "").ActiveID()
	bare, raw := b64Key()
	s := mustLoad(t, path, bare)
	if ids := s.IDs(); len(ids) != 1 || ids[0] != derivedID(raw) || ids[0] == fromFile {
		t.Errorf("bare env key: ids %v (file key %s)", ids, fromFile)
	}
	k2, _ := b64Key()
	s = mustLoad(t, path, "# rotated\nnew-key "+k2+"\n\nold-key "+bare+"\n")
	if !slices.Equal(s.IDs(), []string{"new-key", "old-key"}) {
		t.Errorf("env lines: ids %v", s.IDs())
	}
	missing := keyFile(t)
	mustLoad(t, missing, bare)
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("env key set created the file: %v", err)
	}
	if _, err := LoadKEKs("", ""); err == nil {
		t.Error("no env and no path: loaded")
	}
}

func TestParseKEKs(t *testing.T) {
	k1, _ := b64Key()
	k2, _ := b64Key()
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	ok := []struct {
		name, text string
		bare       bool
		ids        []string
	}{
		{"comments blanks crlf", "# head\r\n\r\nactive " + k1 + "\r\n  # old:\r\nold " + k2 + "\r\n", false, []string{"active", "old"}},
		{"unpadded base64", "k " + strings.TrimRight(k1, "="), false, []string{"k"}},
		{"bare in env", "\n" + k1 + "\n", true, nil},
	}
	for _, c := range ok {
		keys, err := parseKEKs(c.text, "src", c.bare)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for i, id := range c.ids {
			if keys[i].id != id || len(keys[i].raw) != 32 {
				t.Errorf("%s: key %d is %q", c.name, i, keys[i].id)
			}
		}
	}
	bad := []struct {
		name, text, want string
		bare             bool
	}{
		{"empty", "# nothing\n\n", "holds no key", false},
		{"bare in file", k1, "line 1", false},
		{"bare among others", k1 + "\nid " + k2, "only key", true},
		{"three fields", "id " + k1 + " extra", "line 1", false},
		{"bad id", "bad/id " + k1, "bad key id", false},
		{"duplicate id", "a " + k1 + "\na " + k2, "twice", false},
		{"not base64", "a !!!!", "not standard base64", false},
		{"short key", "\na " + short, "line 2: key is 16 bytes", false},
	}
	for _, c := range bad {
		_, err := parseKEKs(c.text, "src", c.bare)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), k1[:16]) || strings.Contains(err.Error(), k2[:16]) {
			t.Errorf("%s: error shows key material: %v", c.name, err)
		}
	}
}

// A set re-reads its file for an unknown id, at most once a second, and
// a writing set picks up a new active key from a changed file.
func TestKEKSetRereadsFile(t *testing.T) {
	path := keyFile(t)
	s := mustLoad(t, path, "")
	clock := newClock()
	s.now = clock.now
	first := s.ActiveID()

	addKey := func() string {
		t.Helper()
		text, _, _ := readKEKFile(path)
		keys, _ := parseKEKs(text, path, false)
		id, line := newKeyLine(keys)
		if err := replaceKEKFile(path, withNewFirst(text, keys, line)); err != nil {
			t.Fatal(err)
		}
		return id
	}
	second := addKey()
	if _, err := s.byID("nobody"); !errors.Is(err, ErrUnknownKEK) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, ok := s.lookup(second); !ok || s.ActiveID() != second {
		t.Fatalf("the re-read did not learn %s: %v", second, s.IDs())
	}
	third := addKey()
	clock.advance(500 * time.Millisecond)
	if _, err := s.byID(third); !errors.Is(err, ErrUnknownKEK) || !strings.Contains(err.Error(), "less than a second") {
		t.Errorf("second re-read within a second: %v", err)
	}
	clock.advance(600 * time.Millisecond)
	if _, err := s.byID(third); err != nil {
		t.Errorf("re-read after a second: %v", err)
	}
	if !slices.Equal(s.IDs(), []string{third, second, first}) {
		t.Errorf("ids after re-reads: %v", s.IDs())
	}

	// A writer notices a changed file, once a second at most.
	s.active() // stamps the check
	fourth := addKey()
	if got := s.active().id; got != third {
		t.Errorf("active within a second of the last check: %s, want %s", got, third)
	}
	clock.advance(1100 * time.Millisecond)
	if got := s.active().id; got != fourth {
		t.Errorf("active after the file changed: %s, want %s", got, fourth)
	}
}

// Key material never appears in an error from a malformed source, even
// for inputs the fuzzer invents.
func FuzzParseKEKs(f *testing.F) {
	k, _ := b64Key()
	f.Add("a "+k+"\n# c\nb "+k[:20], false)
	f.Add(k, true)
	f.Add("\r\n\x00 "+k, false)
	f.Fuzz(func(t *testing.T, text string, bare bool) {
		keys, err := parseKEKs(text, "src", bare)
		if err != nil {
			if len(keys) != 0 {
				t.Fatal("keys with an error")
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys, no error")
		}
		for _, key := range keys {
			if len(key.raw) != 32 || key.id == "" || bytes.ContainsAny([]byte(key.id), " \t\n/") {
				t.Fatalf("bad key %q (%d bytes)", key.id, len(key.raw))
			}
		}
	})
}
