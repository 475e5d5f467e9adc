package embedded

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// EnvKEK is the environment variable that, when set, holds the KEKs
// instead of the file (the caller passes its value to LoadKEKs).
const EnvKEK = "PLEXSPHERE_KEK"

// kekSize is the length of a KEK and of a DEK: AES-256.
const kekSize = 32

var kekIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// keyLine is one key of a KEK file or of PLEXSPHERE_KEK.
type keyLine struct {
	id   string
	raw  []byte
	line int // index into the source's lines
}

// sourceLines splits a KEK source into its lines (without line ends).
func sourceLines(text string) []string {
	return strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
}

// parseKEKs reads the keys of text, first (active) key first. from names
// the source in errors; bare allows a lone base64 key without an id
// (PLEXSPHERE_KEK only). Errors name the line, never its content.
func parseKEKs(text, from string, bare bool) ([]keyLine, error) {
	var keys []keyLine
	seen := map[string]bool{}
	for i, l := range sourceLines(text) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) == 1 && bare {
			raw, err := decodeKey(f[0])
			if err != nil {
				return nil, fmt.Errorf("embedded: %s line %d: %w", from, i+1, err)
			}
			keys = append(keys, keyLine{id: derivedID(raw), raw: raw, line: i})
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("embedded: %s line %d: want \"<id> <base64 of 32 bytes>\"", from, i+1)
		}
		if !kekIDRE.MatchString(f[0]) {
			return nil, fmt.Errorf("embedded: %s line %d: bad key id (letters, digits, '.', '_', '-'; at most 64)", from, i+1)
		}
		if seen[f[0]] {
			return nil, fmt.Errorf("embedded: %s line %d: key id %q appears twice", from, i+1, f[0])
		}
		seen[f[0]] = true
		raw, err := decodeKey(f[1])
		if err != nil {
			return nil, fmt.Errorf("embedded: %s line %d: %w", from, i+1, err)
		}
		keys = append(keys, keyLine{id: f[0], raw: raw, line: i})
	}
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("embedded: %s holds no key", from)
	case len(keys) > 1 && bare && hasBare(text):
		return nil, fmt.Errorf("embedded: %s: a bare key (without id) must be the only key", from)
	}
	return keys, nil
}

// hasBare reports whether some key line of text has no id.
func hasBare(text string) bool {
	for _, l := range sourceLines(text) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") && len(strings.Fields(l)) == 1 {
			return true
		}
	}
	return false
}

// decodeKey decodes standard base64 (padded or not) of exactly 32 bytes.
func decodeKey(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("key is not standard base64")
	}
	if len(raw) != kekSize {
		clear(raw)
		return nil, fmt.Errorf("key is %d bytes, want %d", len(raw), kekSize)
	}
	return raw, nil
}

// derivedID is the id of a key given without one: the first 8 hex digits
// of its SHA-256.
func derivedID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:4])
}

// newKeyLine makes a fresh key and its file line; its id is derived from
// the key and differs from every id in taken.
func newKeyLine(taken []keyLine) (id, line string) {
	for {
		raw := make([]byte, kekSize)
		rand.Read(raw)
		id = derivedID(raw)
		if !hasID(taken, id) {
			line = id + " " + base64.StdEncoding.EncodeToString(raw)
			clear(raw)
			return id, line
		}
	}
}

func hasID(keys []keyLine, id string) bool {
	for _, k := range keys {
		if k.id == id {
			return true
		}
	}
	return false
}

// fileHeader opens a KEK file this package creates.
const fileHeader = `# plexsphere key-encryption keys for the embedded secret store
# (docs/secrets.md). One key a line: <id> <base64 of 32 bytes>. The first
# key is active; later ones only unwrap older data keys. Keep this file
# 0600, back it up with the database, and never edit it while
# "plexsphere secrets rotate-kek" runs.
`

// withNewFirst inserts line before the first key line of text (after a
// leading comment block), so the new key becomes the active one.
func withNewFirst(text string, keys []keyLine, line string) string {
	lines := sourceLines(text)
	at := keys[0].line
	out := make([]string, 0, len(lines)+1)
	out = append(out, lines[:at]...)
	out = append(out, line)
	out = append(out, lines[at:]...)
	return strings.Join(out, "\n")
}

// without removes the lines of the keys named in drop from text.
func without(text string, keys []keyLine, drop map[string]bool) string {
	skip := map[int]bool{}
	for _, k := range keys {
		if drop[k.id] {
			skip[k.line] = true
		}
	}
	lines := sourceLines(text)
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if !skip[i] {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// clearKeys zeroes the raw key bytes of keys.
func clearKeys(keys []keyLine) {
	for _, k := range keys {
		clear(k.raw)
	}
}
